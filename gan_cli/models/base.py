"""What every model family provides to the training loop, sampling and checkpoints."""

from __future__ import annotations

import torch
from torch import nn

from gan_cli.steps import AdversarialStep


class Discriminator(nn.Module):
    """D(x) = head(body(x)), one score per sample.

    Tricks that work on D's features (feature matching, minibatch discrimination, minibatch
    standard deviation) use ``body`` and replace ``head``.
    """

    body: nn.Module
    head: nn.Module

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.body(x)).flatten()


class GAN(nn.Module):
    """A generator and a discriminator built together from one config.

    Subclasses set ``generator``, ``discriminator`` (a ``Discriminator``) and ``z_dim`` in
    ``__init__``. Constructors receive ``data_shape`` (what G makes) and may take
    ``d_input_shape`` (what D sees, when a trick such as PacGAN packs samples). A family whose
    training differs from one D update + one G update (two domains, progressive growing)
    names its own ``step_class`` instead of branching the training loop.
    """

    generator: nn.Module
    discriminator: Discriminator
    z_dim: int
    step_class = AdversarialStep

    def generate(self, z: torch.Tensor, ema: bool = True) -> torch.Tensor:
        """Samples from the EMA generator when there is one (``ema_generator``, set by the ema
        trick) and ``ema`` is true, else from G."""
        ema_generator = getattr(self, "ema_generator", None)  # a submodule, so no class default
        return (ema_generator if ema and ema_generator is not None else self.generator)(z)


def init_dcgan_weights(module: nn.Module) -> None:
    """N(0, 0.02) for conv/linear weights, N(1, 0.02) for norm scales (Radford et al. 2015)."""
    if isinstance(module, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
        nn.init.normal_(module.weight, 0.0, 0.02)
        if module.bias is not None:
            nn.init.zeros_(module.bias)
    elif isinstance(module, nn.BatchNorm2d | nn.BatchNorm1d):
        nn.init.normal_(module.weight, 1.0, 0.02)
        nn.init.zeros_(module.bias)
