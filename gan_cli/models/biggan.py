"""BigGAN.

Brock, Donahue & Simonyan 2018, "Large Scale GAN Training for High Fidelity Natural Image
Synthesis", arXiv:1809.11096. The architecture is SAGAN's residual G and D with self-attention
(``gan_cli/models/sagan.py``; the paper starts from SAGAN) and two changes to G:

- a **hierarchical latent**: z is split into one chunk per G block plus one for the first linear
  layer, so every resolution gets its own share of the noise;
- **shared class embedding**: one embedding of the label, joined with the block's z chunk, is
  linearly projected to each conditional batch norm's gains and biases (instead of a separate
  per-class table in every layer).

D is a projection discriminator when conditional. The rest of BigGAN is training and sampling,
kept in config: spectral norm in G and D, orthogonal regularization of G, hinge loss, an EMA of
G's weights (``conf/trick/biggan.yaml``), and the truncation trick at sampling
(``gan sample --truncation 0.5``, which redraws latent entries beyond the bound).
"""

from __future__ import annotations

import torch
from torch import nn

from gan_cli.errors import GanError
from gan_cli.models.conditioning import ConditionalGAN
from gan_cli.models.sagan import (
    ResidualGenerator,
    generator_widths,
    init_orthogonal,
    projection_discriminator,
    residual_steps,
)
from gan_cli.registry import MODELS
from gan_cli.schema import NonNegativeInt, PositiveInt


class _Generator(ResidualGenerator):
    def __init__(
        self,
        z_dim: int,
        shared_dim: int,
        widths: list[int],
        channels: int,
        attention_resolution: int,
        num_classes: int,
    ):
        chunk = z_dim // len(widths)  # one chunk per block, one for the linear layer
        shared = shared_dim if num_classes else 0
        super().__init__(chunk, widths, channels, shared + chunk, attention_resolution, num_classes)
        self.chunk = chunk
        self.shared = nn.Embedding(num_classes, shared_dim) if num_classes else None

    def block_inputs(self, z: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor | None]]:
        first, *chunks = z.split(self.chunk, 1)
        embedding = [self.shared(self.batch_labels(len(z)))] if self.shared is not None else []
        return first, [torch.cat([*embedding, chunk], 1) for chunk in chunks]


@MODELS.register("biggan")
class BigGAN(ConditionalGAN):
    def __init__(
        self,
        data_shape: tuple[int, ...],  # injected: (channels, size, size)
        d_input_shape: tuple[int, ...] | None = None,  # injected: what D sees
        num_classes: int = 0,  # injected: the dataset's classes (0: unlabelled)
        z_dim: PositiveInt = 120,  # latent size, split evenly over the G blocks + 1 (the paper: 120 at 128x128)
        shared_dim: PositiveInt = 128,  # size of the shared class embedding
        g_channels: PositiveInt = 64,  # G's width at full resolution, multiplied towards 4x4 (the paper: 96)
        d_channels: PositiveInt = 64,  # D's width after its first block, multiplied towards 4x4 (the paper: 96)
        max_multiplier: PositiveInt = 4,  # cap of the width multiplier (the paper at 128x128: 16)
        attention_resolution: NonNegativeInt = 16,  # feature-map side where G and D attend (0: nowhere; paper: 64)
        conditional: bool = False,  # shared-embedding conditional BN in G, projection D; needs labels
    ):
        super().__init__()
        steps = residual_steps("biggan", data_shape, attention_resolution)
        if z_dim % (steps + 1):
            raise GanError(
                f"biggan z_dim must split evenly into {steps + 1} chunks (G's {steps} blocks + 1) at "
                f"{data_shape[1]}x{data_shape[1]}, got {z_dim}"
            )
        classes = self.set_conditioning(
            "biggan", conditional, num_classes, "projection", data_shape, d_input_shape
        )
        self.z_dim = z_dim
        self.generator = _Generator(
            z_dim,
            shared_dim,
            generator_widths(g_channels, max_multiplier, steps),
            data_shape[0],
            attention_resolution,
            classes,
        )
        self.discriminator = projection_discriminator(
            (d_input_shape or data_shape)[0],
            d_channels,
            max_multiplier,
            steps,
            attention_resolution,
            data_shape[1],
            classes,
        )
        self.apply(init_orthogonal)
