"""Spectral normalisation of the discriminator's weights.

Miyato et al. 2018, "Spectral Normalization for Generative Adversarial Networks",
arXiv:1802.05957: divide every layer's weight (as an outputs × rest matrix) by its largest
singular value, estimated with one power iteration per training forward pass, so D is
(layer-wise) 1-Lipschitz. ``generator=True`` normalises G too, as SAGAN does (Zhang et al.
2018, arXiv:1805.08318).
"""

from __future__ import annotations

from torch import nn
from torch.nn.utils.parametrizations import spectral_norm

from gan_cli.registry import TRICKS
from gan_cli.schema import PositiveInt
from gan_cli.tricks.base import Trick
from gan_cli.tricks.layers import weight_layers


@TRICKS.register("spectral_norm")
class SpectralNorm(Trick):
    # Wrap after the tricks that rebuild or replace layers (so new layers are normalised too) and
    # before any that copy the networks (an EMA generator must share G's parametrisation).
    order = -5

    def __init__(
        self,
        generator: bool = False,  # normalise G's layers as well (SAGAN)
        power_iterations: PositiveInt = 1,  # power-iteration steps per training forward pass
    ):
        self.generator = generator
        self.power_iterations = power_iterations

    def wrap(self, model: nn.Module) -> None:
        nets = [model.discriminator, model.generator] if self.generator else [model.discriminator]
        for net in nets:
            for layer in weight_layers(net):
                spectral_norm(layer, n_power_iterations=self.power_iterations)
