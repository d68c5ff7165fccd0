"""R3GAN: a modern convolutional baseline with no normalization layers and no tricks.

Huang, Gokaslan, Kuleshov & Tompkin 2024, "The GAN is dead; long live the GAN! A Modern GAN
Baseline", NeurIPS 2024, arXiv:2501.05441. The paper's point is that a well-behaved loss (the
relativistic pairing loss with R1 and R2 penalties: ``trick=r3gan``) lets a plain, modernised
ResNet train without the StyleGAN bag of tricks. This file is that network (the last step of the
paper's roadmap from StyleGAN2), checked against the authors' code:

- ResNeXt-style residual blocks: 1x1 conv widening by ``expansion``, grouped 3x3 conv
  (``cardinality`` groups), 1x1 conv back, added to the input. No normalization anywhere;
  convolutions carry no bias — each activation adds its own bias before LeakyReLU(0.2).
- Fix-up initialisation instead of normalization: weights N(0, gain / sqrt(fan_in)), the
  block's hidden layers at the leaky-ReLU gain × L^(-1/4) (L: the network's residual blocks;
  -1/(2m - 2) with m = 3 layers per block), the block's last layer zero, so every block starts
  as the identity and the variance of the residual stream does not grow with depth.
- Resampling by a fixed low-pass filter: [1, 2, 1] convolved with the box [1, 1] gives the
  interpolating kernel [1, 3, 3, 1] / 8 per axis (the authors' "interpolative" resamplers: the
  operation of their pure-PyTorch reference version, zero padding included); G upsamples with it
  as a stride-2 transposed conv (gain 4), D downsamples with it as a stride-2 conv, each channel
  on its own. A 1x1 conv changes the width between stages: before upsampling in G, after
  downsampling in D.
- G: a learned 4x4 basis (``widths[0]`` maps) scaled per map by a linear function of z, stages
  of blocks up to the data's resolution, a 1x1 conv to the image channels; the output is linear
  (clipped to [-1, 1] only when shown, as ProGAN's and StyleGAN's). D mirrors it: a 1x1 conv from
  the image, stages of blocks with downsampling, then a depthwise 4x4 conv (one filter per map,
  no padding) to a vector and a linear layer to the score.
- ``conditional: true``, as the paper's conditional models: G joins a linear embedding of the
  one-hot label (size ``z_dim``) to z; D's last linear layer gives a ``widths[0]``-sized vector
  whose inner product with a linear embedding of the label is the score (a projection
  discriminator without an unconditional term).

The paper's networks (the authors' train.py presets, with the paper's parameter counts; runs:
``+experiment=r3gan_cifar10`` and ``r3gan_ffhq64``):

- CIFAR-10 (conditional): z_dim 64, widths [768, 768, 768, 768], blocks 2, cardinality 96,
  expansion 2 — G 20.8M and D 21.3M parameters (D's 21.3M includes the 768x768 projection layer;
  unconditional it would be 20.7M).
- FFHQ-64: z_dim 64, widths [768, 768, 768, 768, 384], blocks 2,
  cardinality [96, 96, 96, 96, 48], expansion 2 — G 22.4M and D 22.4M parameters.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from gan_cli.errors import GanError
from gan_cli.models.base import Discriminator
from gan_cli.models.conditioning import ConditionalGAN, LabelReader, one_hot
from gan_cli.models.inputs import Inputs
from gan_cli.registry import MODELS
from gan_cli.schema import PositiveInt

SLOPE = 0.2
ACTIVATION_GAIN = math.sqrt(2 / (1 + SLOPE**2))  # He's gain for LeakyReLU(0.2), unrounded as the authors'
LAYERS_PER_BLOCK = 3
LOWPASS = (1.0, 2.0, 1.0)  # the paper's resampling filter, before it is made interpolating


def init_scaled(layer: nn.Conv2d | nn.Linear, gain: float = 1.0) -> nn.Module:
    """Weights N(0, gain / sqrt(fan_in)) (He et al. 2015 with the caller's gain); 0 gain: zeros."""
    fan_in = layer.weight[0].numel()  # in_channels / groups x kernel area, or in_features
    if gain:
        nn.init.normal_(layer.weight, 0.0, gain / math.sqrt(fan_in))
    else:
        nn.init.zeros_(layer.weight)
    return layer


def conv(c_in: int, c_out: int, kernel_size: int = 1, groups: int = 1, gain: float = 1.0) -> nn.Conv2d:
    return init_scaled(
        nn.Conv2d(c_in, c_out, kernel_size, 1, kernel_size // 2, groups=groups, bias=False), gain
    )


class BiasedLeakyReLU(nn.Module):
    """LeakyReLU(0.2) of x + a learned per-channel bias: where the network keeps its biases."""

    def __init__(self, channels: int):
        super().__init__()
        self.bias = nn.Parameter(torch.zeros(channels))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.leaky_relu(x + self.bias.to(x.dtype).view(1, -1, *(1,) * (x.dim() - 2)), SLOPE)


class ResidualBlock(nn.Module):
    """x + conv1x1(act(grouped conv(act(conv1x1(x))))), widening by ``expansion`` inside; the
    last conv starts at zero, so the block starts as the identity."""

    def __init__(self, width: int, cardinality: int, expansion: int, kernel_size: int, total_blocks: int):
        super().__init__()
        hidden = width * expansion
        gain = ACTIVATION_GAIN * total_blocks ** (-1 / (2 * LAYERS_PER_BLOCK - 2))
        self.expand = conv(width, hidden, gain=gain)
        self.act1 = BiasedLeakyReLU(hidden)
        self.grouped = conv(hidden, hidden, kernel_size, groups=cardinality, gain=gain)
        self.act2 = BiasedLeakyReLU(hidden)
        self.project = conv(hidden, width, gain=0.0)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.project(self.act2(self.grouped(self.act1(self.expand(x)))))


def interpolating_kernel(taps: tuple[float, ...] = LOWPASS) -> torch.Tensor:
    """The 2-D resampling kernel: ``taps`` convolved with [1, 1] (so a 2x upsampling with it
    interpolates between samples: [1, 2, 1] -> [1, 3, 3, 1]), outer product with itself,
    normalised to sum 1."""
    line = torch.tensor([a + b for a, b in zip((0.0, *taps), (*taps, 0.0))])
    kernel = line[:, None] * line[None, :]
    return kernel / kernel.sum()


class Resample(nn.Module):
    """2x up (transposed conv, stride 2) or down (conv, stride 2) with the low-pass kernel, each
    channel on its own (a depthwise conv: the same as the authors' reshape to one-channel images,
    and several times faster on a CPU); upsampling multiplies by 4 so a constant keeps its value
    (away from the border, where the zero padding enters)."""

    def __init__(self, up: bool):
        super().__init__()
        self.up = up
        kernel = interpolating_kernel() * (4 if up else 1)
        self.register_buffer("kernel", kernel[None, None], persistent=False)
        self.padding = len(LOWPASS) // 2

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        channels = x.shape[1]
        kernel = self.kernel.to(x.dtype).expand(channels, 1, -1, -1)
        if self.up:
            return F.conv_transpose2d(x, kernel, stride=2, padding=self.padding, groups=channels)
        return F.conv2d(x, kernel, stride=2, padding=self.padding, groups=channels)


def transition(c_in: int, c_out: int, up: bool) -> nn.Sequential:
    """Between stages: 1x1 conv (where the width changes) then upsampling (G), or downsampling
    then 1x1 conv (D)."""
    width = [conv(c_in, c_out)] if c_in != c_out else []
    return nn.Sequential(*width, Resample(up=True)) if up else nn.Sequential(Resample(up=False), *width)


class GenerativeBasis(nn.Module):
    """z -> a learned 4x4 basis (``width`` maps, N(0, 1)), each map scaled by a linear function of z."""

    def __init__(self, z_in: int, width: int):
        super().__init__()
        self.basis = nn.Parameter(torch.randn(width, 4, 4))
        self.scale = init_scaled(nn.Linear(z_in, width, bias=False))

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.basis[None] * self.scale(z)[:, :, None, None]


class Generator(LabelReader):
    """[label embedding ->] basis and blocks at 4x4, then per stage (1x1 conv,) upsampling and
    blocks, then a 1x1 conv to the image channels (linear output)."""

    def __init__(
        self,
        z_dim: int,
        widths: list[int],
        blocks: list[int],
        cardinality: list[int],
        expansion: int,
        kernel_size: int,
        channels: int,
        num_classes: int,
    ):
        super().__init__()
        self.num_classes = num_classes
        # The paper's conditional models embed the label to z's size and join it to z.
        embed_dim = z_dim if num_classes else 0
        self.embed = init_scaled(nn.Linear(num_classes, embed_dim, bias=False)) if num_classes else None
        total = sum(blocks)
        stages = []
        for i, width in enumerate(widths):
            entry = (
                GenerativeBasis(z_dim + embed_dim, width)
                if i == 0
                else transition(widths[i - 1], width, up=True)
            )
            body = [
                ResidualBlock(width, cardinality[i], expansion, kernel_size, total) for _ in range(blocks[i])
            ]
            stages.append(nn.Sequential(entry, *body))
        self.stages = nn.Sequential(*stages)
        self.to_image = conv(widths[-1], channels)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        if self.embed is not None:
            z = torch.cat([z, self.embed(one_hot(self.batch_labels(len(z)), self.num_classes, z))], 1)
        return self.to_image(self.stages(z))


class ProjectionHead(LabelReader):
    """The conditional score: <W f, embed(one-hot label)>, f D's features; both maps linear
    without bias, the embedding initialised at gain 1/sqrt(its size) as the authors'."""

    def __init__(self, features: int, num_classes: int):
        super().__init__()
        self.num_classes = num_classes
        self.linear = init_scaled(nn.Linear(features, features, bias=False))
        self.embed = init_scaled(nn.Linear(num_classes, features, bias=False), 1 / math.sqrt(features))

    def forward(self, f: torch.Tensor) -> torch.Tensor:
        y = one_hot(self.batch_labels(len(f)), self.num_classes, f)
        return (self.linear(f) * self.embed(y)).sum(1)


class R3GANDiscriminator(Discriminator):
    """body: 1x1 conv from the image, per stage blocks then downsampling (and 1x1 conv), blocks
    at 4x4, depthwise 4x4 conv -> one vector per sample; head: linear to the score, or the
    label's projection when conditional."""

    def __init__(
        self,
        channels: int,
        widths: list[int],
        blocks: list[int],
        cardinality: list[int],
        expansion: int,
        kernel_size: int,
        num_classes: int,
    ):
        super().__init__()
        total = sum(blocks)
        layers: list[nn.Module] = [conv(channels, widths[0])]
        for i, width in enumerate(widths):
            layers += [
                ResidualBlock(width, cardinality[i], expansion, kernel_size, total) for _ in range(blocks[i])
            ]
            if i + 1 < len(widths):
                layers.append(transition(width, widths[i + 1], up=False))
        last = widths[-1]
        layers += [init_scaled(nn.Conv2d(last, last, 4, groups=last, bias=False)), nn.Flatten()]
        self.body = nn.Sequential(*layers)
        self.head = (
            ProjectionHead(last, num_classes) if num_classes else init_scaled(nn.Linear(last, 1, bias=False))
        )


def per_stage(key: str, value: int | list[int], stages: int) -> list[int]:
    """A per-stage setting given as one value for all stages or a list with one per stage."""
    if isinstance(value, int):
        return [value] * stages
    if len(value) != stages:
        raise GanError(f"r3gan {key} must be one integer or a list of {stages} (one per width), got {value}")
    return list(value)


def stage_count(data_shape: tuple[int, ...], widths: list[int]) -> None:
    """Refuse widths whose length is not the number of resolutions from 4x4 to the data's."""
    if len(data_shape) != 3 or data_shape[1] != data_shape[2]:
        raise GanError(f"r3gan needs square images, got data of shape {tuple(data_shape)}")
    size = data_shape[1]
    doublings = math.log2(size / 4)
    if size < 4 or doublings != int(doublings):
        raise GanError(f"r3gan needs a power-of-two resolution >= 4, got {size}")
    needed = int(doublings) + 1
    if len(widths) != needed:
        sides = ", ".join(f"{4 * 2**i}" for i in range(needed))
        raise GanError(
            f"r3gan widths needs {needed} entries for {size}x{size} images (one per resolution "
            f"{sides}), got {len(widths)}: {widths}"
        )


@MODELS.register("r3gan")
class R3GAN(ConditionalGAN):
    def __init__(
        self,
        data_shape: tuple[int, ...],  # injected: (channels, size, size)
        d_input_shape: tuple[int, ...] | None = None,  # injected: what D sees
        num_classes: int = 0,  # injected: the dataset's classes (0: unlabelled)
        z_dim: PositiveInt = 64,  # latent size (conditional: also G's label embedding size)
        widths: list[PositiveInt] = (256, 128, 32, 16),  # G's maps per stage, 4x4 up; D: reversed
        blocks: PositiveInt | list[PositiveInt] = 1,  # residual blocks per stage (or one per stage)
        cardinality: PositiveInt | list[PositiveInt] = (32, 16, 4, 2),  # groups of the 3x3 convs
        expansion: PositiveInt = 2,  # a block's hidden width: its stage's width x expansion
        kernel_size: PositiveInt = 3,  # the grouped conv's kernel side (odd)
        conditional: bool = False,  # label embedding joined to z, projection D; needs labels
    ):
        super().__init__()
        widths = list(widths)
        stage_count(data_shape, widths)
        blocks = per_stage("blocks", blocks, len(widths))
        cardinality = per_stage("cardinality", cardinality, len(widths))
        for width, groups in zip(widths, cardinality):
            if (width * expansion) % groups:
                raise GanError(
                    f"r3gan cardinality must divide each stage's width x expansion: "
                    f"{groups} does not divide {width} x {expansion} = {width * expansion}"
                )
        if kernel_size % 2 == 0:
            raise GanError(f"r3gan kernel_size must be odd (to keep the feature-map size), got {kernel_size}")
        classes = self.set_conditioning(
            "r3gan", conditional, num_classes, "projection", data_shape, d_input_shape
        )
        self.z_dim = z_dim
        self.generator = Generator(
            z_dim, widths, blocks, cardinality, expansion, kernel_size, data_shape[0], classes
        )
        self.discriminator = R3GANDiscriminator(
            (d_input_shape or data_shape)[0],
            widths[::-1],
            blocks[::-1],
            cardinality[::-1],
            expansion,
            kernel_size,
            classes,
        )

    def generate(self, inputs: Inputs, ema: bool = True) -> torch.Tensor:
        # G's output is linear (as in the paper); images are clipped only when shown.
        return super().generate(inputs, ema).clamp(-1, 1)
