"""Self-attention GAN, and the residual networks it shares with BigGAN.

Zhang, Goodfellow, Metaxas & Odena 2018, "Self-Attention Generative Adversarial Networks",
arXiv:1805.08318: residual G and D (the SN-GAN / projection-discriminator ResNets of Miyato et al.
2018) with a self-attention block in each at one feature-map resolution, so both networks can
relate distant parts of an image. The rest of the recipe is training choices, kept in config:
spectral norm in G and D, the hinge loss, and TTUR learning rates 1e-4 (G) / 4e-4 (D) with Adam
betas (0, 0.9) — ``conf/trick/sagan.yaml`` and ``conf/experiment/sagan32.yaml``. When
conditional, G's batch norms take per-class gains and biases and D is a projection discriminator
(Miyato & Koyama 2018, arXiv:1802.05637).

Widths scale by config: G has ``g_channels`` × min(``max_multiplier``, resolution / r) maps at
resolution r (so the widest layer is at 4x4), D the mirror image; one definition serves 16x16
test runs, 32x32 CIFAR and BigGAN's 128x128 (``gan_cli/models/biggan.py`` builds on these
networks, as BigGAN builds on SAGAN). Weights start orthogonal (Saxe et al. 2013), as BigGAN's.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from gan_cli.errors import GanError
from gan_cli.models.attention import SelfAttention
from gan_cli.models.conditioning import (
    ConditionalBatchNorm2d,
    ConditionalGAN,
    LabelledDiscriminator,
    LabelReader,
    one_hot,
)
from gan_cli.registry import MODELS
from gan_cli.schema import NonNegativeInt, PositiveInt


def residual_steps(family: str, data_shape: tuple[int, ...], attention_resolution: int) -> int:
    """The number of 2x up/down-sampling blocks between 4x4 and the data's resolution, after
    checking the shape and the attention resolution."""
    if len(data_shape) != 3 or data_shape[1] != data_shape[2]:
        raise GanError(f"{family} needs square images, got data of shape {tuple(data_shape)}")
    size = data_shape[1]
    steps = math.log2(size / 4)
    if size < 8 or steps != int(steps):
        raise GanError(f"{family} needs a power-of-two resolution >= 8, got {size}")
    valid = [4 * 2**i for i in range(1, int(steps))]  # resolutions both G and D pass through
    if attention_resolution and attention_resolution not in valid:
        raise GanError(
            f"{family} attention_resolution must be 0 (none) or one of "
            f"{', '.join(map(str, valid)) or 'none at this size'} for {size}x{size} images, "
            f"got {attention_resolution}"
        )
    return int(steps)


def init_orthogonal(module: nn.Module) -> None:
    if isinstance(module, (nn.Conv2d, nn.Linear, nn.Embedding)):
        nn.init.orthogonal_(module.weight)
        if getattr(module, "bias", None) is not None:
            nn.init.zeros_(module.bias)


class GBlock(nn.Module):
    """BN-ReLU-upsample-conv-BN-ReLU-conv, plus an upsampled 1x1-conv shortcut; the batch norms
    are conditional on ``c`` when ``cond_dim`` > 0."""

    def __init__(self, c_in: int, c_out: int, cond_dim: int):
        super().__init__()
        self.norm1 = ConditionalBatchNorm2d(c_in, cond_dim)
        self.conv1 = nn.Conv2d(c_in, c_out, 3, 1, 1)
        self.norm2 = ConditionalBatchNorm2d(c_out, cond_dim)
        self.conv2 = nn.Conv2d(c_out, c_out, 3, 1, 1)
        self.shortcut = nn.Conv2d(c_in, c_out, 1)

    def forward(self, x: torch.Tensor, c: torch.Tensor | None) -> torch.Tensor:
        h = F.interpolate(F.relu(self.norm1(x, c)), scale_factor=2)
        h = self.conv2(F.relu(self.norm2(self.conv1(h), c)))
        return h + self.shortcut(F.interpolate(x, scale_factor=2))


class DBlock(nn.Module):
    """(ReLU)-conv-ReLU-conv-avgpool, plus a shortcut: a 1x1 conv where the width or the
    resolution changes, else the identity. The first block of D skips the leading ReLU (its input
    is the image) and pools before its shortcut conv, as in SN-GAN's "optimized" block; the last
    one keeps the resolution."""

    def __init__(self, c_in: int, c_out: int, first: bool = False, downsample: bool = True):
        super().__init__()
        self.first = first
        self.downsample = downsample
        self.conv1 = nn.Conv2d(c_in, c_out, 3, 1, 1)
        self.conv2 = nn.Conv2d(c_out, c_out, 3, 1, 1)
        self.shortcut = nn.Conv2d(c_in, c_out, 1) if c_in != c_out or downsample else nn.Identity()

    def pool(self, x: torch.Tensor) -> torch.Tensor:
        return F.avg_pool2d(x, 2) if self.downsample else x

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.conv2(F.relu(self.conv1(x if self.first else F.relu(x))))
        shortcut = self.shortcut(self.pool(x)) if self.first else self.pool(self.shortcut(x))
        return self.pool(h) + shortcut


class SumPool(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.sum((2, 3))


class ResidualGenerator(LabelReader):
    """Linear(z) -> 4x4, one GBlock per doubling (self-attention after the one that reaches
    ``attention_resolution``), then BN-ReLU-conv3x3-tanh.

    ``block_inputs`` gives the linear layer's input and each block's conditioning vector: here
    all of z, and the one-hot label (conditional) or nothing; BigGAN splits z across blocks.
    """

    def __init__(
        self,
        z_in: int,
        widths: list[int],
        channels: int,
        cond_dim: int,
        attention_resolution: int,
        num_classes: int,
    ):
        super().__init__()
        self.num_classes = num_classes
        self.linear = nn.Linear(z_in, widths[0] * 16)
        self.blocks = nn.ModuleList(GBlock(a, b, cond_dim) for a, b in zip(widths[:-1], widths[1:]))
        resolutions = [8 * 2**i for i in range(len(self.blocks))]  # each block's output side
        self.attend_after = resolutions.index(attention_resolution) if attention_resolution else None
        if self.attend_after is not None:
            self.attention = SelfAttention(widths[self.attend_after + 1])
        self.out = nn.Sequential(
            nn.BatchNorm2d(widths[-1]), nn.ReLU(), nn.Conv2d(widths[-1], channels, 3, 1, 1), nn.Tanh()
        )

    def block_inputs(self, z: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor | None]]:
        c = one_hot(self.batch_labels(len(z)), self.num_classes, z) if self.num_classes else None
        return z, [c] * len(self.blocks)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        z0, conditions = self.block_inputs(z)
        h = self.linear(z0).view(len(z), -1, 4, 4)
        for i, (block, c) in enumerate(zip(self.blocks, conditions)):
            h = block(h, c)
            if i == self.attend_after:
                h = self.attention(h)
        return self.out(h)


class ResidualDiscriminator(LabelledDiscriminator):
    """One DBlock per halving down to 4x4 (self-attention after the one that reaches
    ``attention_resolution``), one more DBlock at 4x4, ReLU and global sum pooling; the head is
    one linear layer, plus the projection term when conditional."""

    def __init__(self, channels: int, widths: list[int], attention_resolution: int, size: int):
        super().__init__()
        layers: list[nn.Module] = []
        for i, (c_in, c_out) in enumerate(zip([channels, *widths[:-1]], widths)):
            layers.append(DBlock(c_in, c_out, first=i == 0))
            if size // 2 ** (i + 1) == attention_resolution:
                layers.append(SelfAttention(c_out))
        layers += [DBlock(widths[-1], widths[-1], downsample=False), nn.ReLU(), SumPool()]
        self.body = nn.Sequential(*layers)
        self.head = nn.Linear(widths[-1], 1)


def projection_discriminator(
    channels: int,
    d_channels: int,
    max_multiplier: int,
    steps: int,
    attention_resolution: int,
    size: int,
    classes: int,
) -> ResidualDiscriminator:
    """SAGAN's and BigGAN's D: residual blocks, and the label's projection when conditional."""
    widths = discriminator_widths(d_channels, max_multiplier, steps)
    discriminator = ResidualDiscriminator(channels, widths, attention_resolution, size)
    discriminator.add_conditioning("projection", classes, widths[-1], widths[-1])
    return discriminator


def generator_widths(channels: int, max_multiplier: int, steps: int) -> list[int]:
    """G's widths at 4x4, 8x8, ...: ``channels`` × min(max_multiplier, resolution / r)."""
    return [channels * min(max_multiplier, 2 ** (steps - i)) for i in range(steps + 1)]


def discriminator_widths(channels: int, max_multiplier: int, steps: int) -> list[int]:
    """D's widths after each halving: the mirror image of G's."""
    return [channels * min(max_multiplier, 2**i) for i in range(steps)]


@MODELS.register("sagan")
class SAGAN(ConditionalGAN):
    def __init__(
        self,
        data_shape: tuple[int, ...],  # injected: (channels, size, size)
        d_input_shape: tuple[int, ...] | None = None,  # injected: what D sees
        num_classes: int = 0,  # injected: the dataset's classes (0: unlabelled)
        z_dim: PositiveInt = 128,  # latent size
        g_channels: PositiveInt = 64,  # G's width at full resolution, multiplied towards 4x4
        d_channels: PositiveInt = 64,  # D's width after its first block, multiplied towards 4x4
        max_multiplier: PositiveInt = 4,  # cap of the width multiplier (BigGAN-128: 16)
        attention_resolution: NonNegativeInt = 16,  # feature-map side where G and D attend (0: nowhere)
        conditional: bool = False,  # conditional BN in G and projection D; needs labels
    ):
        super().__init__()
        steps = residual_steps("sagan", data_shape, attention_resolution)
        classes = self.set_conditioning(
            "sagan", conditional, num_classes, "projection", data_shape, d_input_shape
        )
        self.z_dim = z_dim
        self.generator = ResidualGenerator(
            z_dim,
            generator_widths(g_channels, max_multiplier, steps),
            data_shape[0],
            classes,
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
