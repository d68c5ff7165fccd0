"""Coupled GAN: a joint distribution of two domains learnt from unpaired samples of each.

Liu & Tuzel 2016, "Coupled Generative Adversarial Networks", arXiv:1606.07536. Two GANs, one
per domain, share the layers that carry high-level meaning: the generators share all layers but
the last (which renders the domain's details), the discriminators all but the first (which
reads them). Drawn from one z, the two generators then make a corresponding pair (the same
digit, once per domain) without ever seeing a pair. The networks are DCGAN's (Radford et al.
2015), split at those layers; ``gan sample`` lays a pair out as a domain A row above a domain B
row for the same latents.
"""

from __future__ import annotations

import copy
import functools
from collections.abc import Callable

import torch
from torch import nn

from gan_cli.datasets.base import Batch
from gan_cli.models.base import GAN, Discriminator, init_dcgan_weights
from gan_cli.models.dcgan import DCGAN, DNorm
from gan_cli.models.image_to_image import TwoDomainStep
from gan_cli.models.inputs import Inputs
from gan_cli.registry import MODELS
from gan_cli.schema import PositiveInt

MAX_PAIRS_PER_ROW = 8


def pairs_per_row(n: int) -> int:
    """Latents per row pair: the largest divisor of n up to ``MAX_PAIRS_PER_ROW``, so every
    domain A row has its domain B row right below it."""
    return next(d for d in range(min(n, MAX_PAIRS_PER_ROW), 0, -1) if n % d == 0) if n else 1


def fresh_copy(layers: nn.Module) -> nn.Module:
    """The same layers with weights of their own, initialised anew."""
    twin = copy.deepcopy(layers)
    twin.apply(init_dcgan_weights)
    return twin


class CoupledStep(TwoDomainStep):
    """Both D's on their domain's reals and on one pair of fakes; then both G's on a new pair."""

    def __call__(self, step: int, next_batch: Callable[[], Batch]) -> dict[str, torch.Tensor]:
        G, D = self.model.generator, self.model.discriminator
        self.tricks.on_step(step)
        reals = self.draw(next_batch)
        critics = [functools.partial(D, domain=i) for i in range(2)]
        with torch.no_grad():
            fakes = G(self.latent(len(reals[0])))
        terms = [self.d_phase(step, d, real, fake) for d, real, fake in zip(critics, reals, fakes)]
        d_loss = terms[0][0] + terms[1][0]
        d_grad_norm = self.update_d(d_loss)

        fakes = G(self.latent(len(reals[0])))
        phases = [phase for _, phase in terms]
        g_loss = sum(self.g_phase(phase, fake)[0] for phase, fake in zip(phases, fakes))
        g_grad_norm = self.update_g(g_loss)
        return self.scalars(d_loss, g_loss, phases, d_grad_norm, g_grad_norm)


class _CoupledGenerators(nn.Module):
    def __init__(self, dcgan_generator: nn.Module):
        super().__init__()
        net = dcgan_generator.net
        self.shared = net[:-2]  # everything up to the last transposed conv
        self.out = nn.ModuleList([net[-2:], fresh_copy(net[-2:])])

    def forward(self, z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        h = self.shared(z[:, :, None, None])
        return self.out[0](h), self.out[1](h)


class _CoupledDiscriminators(Discriminator):
    """``body`` and ``head`` are shared (tricks that rebuild D's head act on both domains);
    ``first`` holds each domain's own input layer."""

    def __init__(self, dcgan_discriminator: Discriminator):
        super().__init__()
        body = dcgan_discriminator.body
        self.first = nn.ModuleList([body[:2], fresh_copy(body[:2])])  # conv + LeakyReLU
        self.body = body[2:]
        self.head = dcgan_discriminator.head

    def forward(self, x: torch.Tensor, domain: int = 0) -> torch.Tensor:
        return self.head(self.body(self.first[domain](x))).flatten()


@MODELS.register("cogan")
class CoGAN(GAN):
    step_class = CoupledStep

    def __init__(
        self,
        data_shape: tuple[int, ...],  # injected from the dataset: (channels, size, size)
        z_dim: PositiveInt = 100,  # latent size, one z per pair
        g_channels: PositiveInt = 64,  # G feature maps at the last hidden layer (DCGAN's)
        d_channels: PositiveInt = 64,  # D feature maps at the first layer (DCGAN's)
        d_norm: DNorm = "batch",  # "batch" or "none" (for gradient penalties)
    ):
        super().__init__()
        base = DCGAN(data_shape, z_dim=z_dim, g_channels=g_channels, d_channels=d_channels, d_norm=d_norm)
        self.z_dim = z_dim
        self.generator = _CoupledGenerators(base.generator)
        self.discriminator = _CoupledDiscriminators(base.discriminator)

    def generate(self, inputs: Inputs, ema: bool = True) -> torch.Tensor:
        """Pairs for the latents ``z``: a row of domain A images above the domain B row of the
        same latents (see ``row_length``)."""
        a, b = super().generate(inputs, ema)
        r = pairs_per_row(len(inputs))
        return torch.cat([rows for pair in zip(a.split(r), b.split(r)) for rows in pair])

    def row_length(self, n: int, label: int | None = None) -> int | None:
        return pairs_per_row(n // 2)
