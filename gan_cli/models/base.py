"""What every model family provides to the training loop, sampling and checkpoints."""

from __future__ import annotations

import torch
from torch import nn

from gan_cli.steps import AdversarialStep


class GAN(nn.Module):
    """A generator and a discriminator built together from one config.

    Subclasses set ``generator``, ``discriminator`` and ``z_dim`` in ``__init__``. A family
    whose training differs from one D update + one G update (two domains, progressive
    growing) names its own ``step_class`` instead of branching the training loop.
    """

    generator: nn.Module
    discriminator: nn.Module
    z_dim: int
    step_class = AdversarialStep

    def generate(self, z: torch.Tensor) -> torch.Tensor:
        return self.generator(z)


def init_dcgan_weights(module: nn.Module) -> None:
    """N(0, 0.02) for conv/linear weights, N(1, 0.02) for norm scales (Radford et al. 2015)."""
    if isinstance(module, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
        nn.init.normal_(module.weight, 0.0, 0.02)
        if module.bias is not None:
            nn.init.zeros_(module.bias)
    elif isinstance(module, nn.BatchNorm2d | nn.BatchNorm1d):
        nn.init.normal_(module.weight, 1.0, 0.02)
        nn.init.zeros_(module.bias)
