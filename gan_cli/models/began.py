"""BEGAN's networks: a decoder G and an autoencoder D whose score is an energy.

Berthelot, Schumm & Metz 2017, "BEGAN: Boundary Equilibrium Generative Adversarial Networks",
arXiv:1703.10717, section 3.5 and figure 1. D is an autoencoder and scores a sample by how
badly it reconstructs it, L(v) = |v - D(v)|^η with η = 1 (the paper's L1 norm); here the
per-sample *mean* over pixels, so the scale of the energy (and so of the loss's γ balance and
convergence measure) does not depend on the resolution. Low energy = real-looking.

- G, and D's decoder (same architecture, separate weights): z (size h) -> Linear -> n x 8 x 8,
  then blocks of two 3x3 convolutions with ELU, upsampled by nearest neighbour between blocks,
  to the data resolution; a final 3x3 convolution to the image channels.
- D's encoder: a 3x3 convolution to n maps, then blocks of two 3x3 convolutions with ELU at
  n, 2n, 3n, ... maps, each but the last followed by a stride-2 3x3 convolution to the next
  block's width (the paper's sub-sampling with linearly growing channels), then a Linear to an
  embedding of size h (no activation: the paper's h is unconstrained).

As ``Discriminator`` expects, D returns one score per sample, split into ``body`` (the encoder:
its embedding is D's feature vector, so feature matching compares embeddings) and ``head`` (the
decoder). D's score is not ``head(body(x))`` but the reconstruction error of ``x`` through them,
so tricks that replace the head with a scoring layer (minibatch discrimination, minibatch
stddev) refuse this D: its head is a network, not one scoring layer.

Both decoders end linear, as in the paper: a tanh there saturates at the black background of
MNIST within a few hundred steps, and then neither network gets a gradient again. ``generate``
clips G's images to [-1, 1], where gan-cli shows and scores images; D sees them unclipped.
z is drawn uniform in [-1, 1] as in the paper (``prior: uniform``: the run's Gaussian draws
pushed through the normal CDF, which makes them exactly uniform), or left Gaussian
(``prior: gaussian``). Not implemented: the refinements of the paper's section 3.5 (skip
connections into the decoder blocks, vanishing residuals) and its halving of the learning rate
when the convergence measure stalls.

The paper does not say how weights start. ``init: default`` keeps PyTorch's (weights within
±1/√fan_in, random biases), under which each conv keeps about a third of the signal's variance,
so at the start G's output hardly depends on z. ``init: glorot`` is TensorFlow's default, which
the well-known reimplementation (carpedm20/BEGAN-tensorflow) gets: Glorot-uniform weights and
zero biases, which keep the variance through each 3x3 conv. On MNIST at CPU size it did not
help (docs/modern.md), so PyTorch's stays the default.

Only ``loss=began`` reads D's output as an energy: the other losses take a high score as "real"
and would train the autoencoder to reconstruct fakes and not reals, which is not BEGAN, so the
combination is refused at compose time (the implied ``EnergyScores`` check, below): train it with
``loss=began``, or ``trick=began``, which chooses that loss. (A model's YAML cannot choose the loss
as a trick set does: Hydra composes the model group before the loss group.)
"""

from __future__ import annotations

import math
from typing import Literal

import torch
from torch import nn

from gan_cli.errors import GanError
from gan_cli.models.base import GAN, Discriminator
from gan_cli.models.inputs import Inputs
from gan_cli.models.latents import LatentPrior, prior_tricks
from gan_cli.registry import MODELS
from gan_cli.schema import PositiveInt
from gan_cli.tricks.base import Trick

BASE = 8  # the decoder's first and the encoder's last resolution (the paper's 8 x 8)
Init = Literal["default", "glorot"]


@MODELS.register("began")
class BEGAN(GAN):
    def __init__(
        self,
        data_shape: tuple[int, ...],  # injected from the dataset: (channels, size, size)
        d_input_shape: tuple[int, ...] | None = None,  # injected: what D sees (PacGAN packs channels)
        z_dim: PositiveInt = 64,  # h: G's latent size and D's embedding size, tied as in the paper (64)
        channels: PositiveInt = 64,  # n: maps per conv; D's encoder grows n, 2n, 3n, ... per halving
        block_convs: PositiveInt = 2,  # 3x3 conv + ELU layers per block (the paper: 2)
        prior: LatentPrior = "uniform",  # z ~ U[-1, 1]^h (the paper) or N(0, I)
        init: Init = "default",  # every conv's and Linear's weights: default (PyTorch's), glorot (TensorFlow's)
    ):
        super().__init__()
        if len(data_shape) != 3 or data_shape[1] != data_shape[2]:
            raise GanError(f"began needs square images, got data of shape {tuple(data_shape)}")
        image_channels, size = data_shape[0], data_shape[1]
        if size < BASE or size & (size - 1):
            raise GanError(f"began needs a power-of-two resolution >= {BASE}, got {size}")
        blocks = int(math.log2(size // BASE)) + 1  # one block per resolution, 8x8 up to size
        d_channels = (d_input_shape or data_shape)[0]
        self.z_dim = z_dim
        self.prior = prior
        self.generator = Decoder(z_dim, channels, image_channels, blocks, block_convs)
        self.discriminator = Autoencoder(
            Encoder(d_channels, channels, z_dim, blocks, block_convs),
            Decoder(z_dim, channels, d_channels, blocks, block_convs),
        )
        if init == "glorot":
            self.apply(init_glorot)

    def generate(self, inputs: Inputs, ema: bool = True) -> torch.Tensor:
        # G's output is linear (as in the paper); images are clipped only when shown.
        return super().generate(inputs, ema).clamp(-1, 1)

    def implied_tricks(self) -> list:
        return [EnergyScores(), *prior_tricks(self.prior)]


def init_glorot(module: nn.Module) -> None:
    """Glorot-uniform weights and zero biases: TensorFlow's default for its conv and dense layers."""
    if isinstance(module, (nn.Conv2d, nn.Linear)):
        nn.init.xavier_uniform_(module.weight)
        nn.init.zeros_(module.bias)


def conv_block(width_in: int, width: int, convs: int) -> list[nn.Module]:
    """``convs`` 3x3 convolutions with ELU, the first from ``width_in`` maps, all to ``width``."""
    layers: list[nn.Module] = []
    for i in range(convs):
        layers += [nn.Conv2d(width_in if i == 0 else width, width, 3, 1, 1), nn.ELU()]
    return layers


class Decoder(nn.Module):
    """h -> n x 8 x 8 -> [convs, upsample] ... convs -> 3x3 conv to ``out_channels`` (linear)."""

    def __init__(self, z_dim: int, width: int, out_channels: int, blocks: int, convs: int):
        super().__init__()
        self.width = width
        self.fc = nn.Linear(z_dim, width * BASE * BASE)
        layers: list[nn.Module] = []
        for i in range(blocks):
            if i:
                layers.append(nn.Upsample(scale_factor=2, mode="nearest"))
            layers += conv_block(width, width, convs)
        layers.append(nn.Conv2d(width, out_channels, 3, 1, 1))
        self.net = nn.Sequential(*layers)

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        return self.net(self.fc(h).view(len(h), self.width, BASE, BASE))


class Encoder(nn.Module):
    """image -> 3x3 conv to n -> [convs at k*n maps, stride-2 conv to (k+1)*n] ... -> Linear to h."""

    def __init__(self, in_channels: int, width: int, z_dim: int, blocks: int, convs: int):
        super().__init__()
        layers: list[nn.Module] = [nn.Conv2d(in_channels, width, 3, 1, 1), nn.ELU()]
        for i in range(blocks):
            w = width * (i + 1)
            layers += conv_block(w, w, convs)
            if i < blocks - 1:
                layers += [nn.Conv2d(w, w + width, 3, 2, 1), nn.ELU()]  # sub-sampling, stride 2
        self.net = nn.Sequential(*layers)
        self.fc = nn.Linear(width * blocks * BASE * BASE, z_dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.net(x).flatten(1))


class Autoencoder(Discriminator):
    """D(v) = L(v) = mean over pixels of |v - head(body(v))|: one energy per sample, low = real."""

    energy = True  # what loss=began checks: this D's outputs are energies, not scores

    def __init__(self, encoder: Encoder, decoder: Decoder):
        super().__init__()
        self.body = encoder  # -> the embedding (D's features)
        self.head = decoder  # the embedding -> the reconstruction

    def reconstruct(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.body(x))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (x - self.reconstruct(x)).abs().flatten(1).mean(1)


class EnergyScores(Trick):
    """Implied by model=began: refuses a loss that does not read D's outputs as energies."""

    def check(self, model: nn.Module, loss) -> None:
        if not getattr(loss, "reads_energy", False):
            raise GanError(
                f"model 'began' has an energy discriminator (reconstruction error, low = real) that only "
                f"loss=began reads; loss '{loss.registered_name}' would take high energy as real"
            )
