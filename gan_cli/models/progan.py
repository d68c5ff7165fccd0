"""Progressive growing of GANs (ProGAN).

Karras, Aila, Laine & Lehtinen 2017, "Progressive Growing of GANs for Improved Quality,
Stability, and Variation", arXiv:1710.10196. G and D start at 4×4 and grow by one resolution
level at a time: a new level's block is faded in while α rises linearly from 0 to 1 over
``fade_images`` real images (G's output and D's input are the α-blend of the new block's path
and the upsampled/downsampled path of the level below), then the networks train at that level
for ``stable_images`` more. The reals D sees go through the same blend at the current level.
With equalized learning rate and pixel norm (``equalized.py``), minibatch standard deviation in
D's last block (section 3), and the WGAN-GP loss with the ε-drift term (``trick=progan``).

Growth state (level, α) is a function of the step counter and the config (``growth``), so a
resumed run — mid-fade included — continues exactly; G and D also keep it in their state dicts
so a checkpoint samples at the level it was saved at. G always returns full-resolution images
(a lower level's output upsampled by nearest neighbour) and D always takes them, as in the
paper's code: the loop, tricks and grids never see a changing shape.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
from torch import nn

from gan_cli.datasets.base import Batch
from gan_cli.errors import GanError
from gan_cli.models.base import GAN, Discriminator
from gan_cli.models.equalized import (
    LEAKY_GAIN,
    EqualizedConv2d,
    EqualizedLinear,
    channels_at,
    downsample,
    leaky_relu,
    pixel_norm,
    upsample,
)
from gan_cli.models.inputs import Inputs
from gan_cli.registry import MODELS
from gan_cli.schema import PositiveInt
from gan_cli.training.steps import AdversarialStep
from gan_cli.tricks.minibatch_stddev import MinibatchStddevLayer


def growth(step: int, batch_sizes: list[int], fade_images: int, stable_images: int) -> tuple[int, float]:
    """(level, α) at training step ``step`` (1-based), for one batch size per level (level 0 is 4×4).

    Level 0 trains for ``stable_images``; each later level fades in over ``fade_images`` (α is
    the fraction of those images shown once this step's batch is done), then trains for
    ``stable_images``; the last level then trains until the end of the run.
    """
    done = step - 1  # steps finished before this one
    for level, batch in enumerate(batch_sizes):
        if level > 0:
            fade = math.ceil(fade_images / batch)
            if done < fade:
                return level, min(1.0, (done + 1) * batch / fade_images)
            done -= fade
        stable = math.ceil(stable_images / batch)
        if done < stable or level == len(batch_sizes) - 1:
            return level, 1.0
        done -= stable
    raise AssertionError("unreachable: the last level never ends")


class Growth(nn.Module):
    """A network's resolution level and fade-in α. Plain attributes, so forward passes branch on
    them without a device sync; saved in the state dict as one float64 tensor (checkpoints stay
    tensors-only)."""

    def __init__(self, top: int):
        super().__init__()
        self.top = top  # the level of the data's resolution
        self.level, self.alpha = top, 1.0

    def grow(self, level: int, alpha: float) -> None:
        self.level, self.alpha = level, alpha

    def get_extra_state(self) -> torch.Tensor:
        return torch.tensor([self.level, self.alpha], dtype=torch.float64)

    def set_extra_state(self, state: torch.Tensor) -> None:
        self.grow(int(state[0]), float(state[1]))


class _GBlock(nn.Module):
    """Double the resolution, then two 3×3 convolutions, each with LeakyReLU and pixel norm."""

    def __init__(self, w_in: int, w_out: int):
        super().__init__()
        self.conv1 = EqualizedConv2d(w_in, w_out, 3, LEAKY_GAIN)
        self.conv2 = EqualizedConv2d(w_out, w_out, 3, LEAKY_GAIN)

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        h = pixel_norm(leaky_relu(self.conv1(upsample(h))))
        return pixel_norm(leaky_relu(self.conv2(h)))


class _Generator(Growth):
    def __init__(self, z_dim: int, widths: list[int], channels: int):
        super().__init__(len(widths) - 1)
        self.first = EqualizedLinear(z_dim, widths[0] * 16, LEAKY_GAIN)  # z -> 4×4 (the paper's 4×4 conv)
        self.first_conv = EqualizedConv2d(widths[0], widths[0], 3, LEAKY_GAIN)
        self.blocks = nn.ModuleList(_GBlock(a, b) for a, b in zip(widths[:-1], widths[1:]))
        self.to_rgb = nn.ModuleList(EqualizedConv2d(w, channels, 1) for w in widths)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        h = pixel_norm(leaky_relu(self.first(pixel_norm(z)).view(len(z), -1, 4, 4)))
        h = pixel_norm(leaky_relu(self.first_conv(h)))
        for block in self.blocks[: self.level]:
            below = h
            h = block(h)
        rgb = self.to_rgb[self.level](h)
        if self.alpha < 1:  # fading in: blend with the level below, upsampled
            rgb = torch.lerp(upsample(self.to_rgb[self.level - 1](below)), rgb, self.alpha)
        return upsample(rgb, 2 ** (self.top - self.level))  # linear output, as the paper


class _DBlock(nn.Module):
    """Two 3×3 convolutions with LeakyReLU, then halve the resolution."""

    def __init__(self, w_in: int, w_out: int):
        super().__init__()
        self.conv1 = EqualizedConv2d(w_in, w_in, 3, LEAKY_GAIN)
        self.conv2 = EqualizedConv2d(w_in, w_out, 3, LEAKY_GAIN)

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        return downsample(leaky_relu(self.conv2(leaky_relu(self.conv1(h)))))


class _GroupStddev(nn.Module):
    """Minibatch standard deviation over groups of ``group_size``, shrunk to the largest group
    size that divides the batch (so D scores any batch, e.g. 14 images at 256² in groups of 2)."""

    def __init__(self, group_size: int):
        super().__init__()
        self.group_size = group_size

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        return MinibatchStddevLayer(math.gcd(len(h), self.group_size))(h)


class _DiscriminatorBody(Growth):
    def __init__(self, widths: list[int], channels: int, group_size: int):
        super().__init__(len(widths) - 1)
        self.from_rgb = nn.ModuleList(EqualizedConv2d(channels, w, 1, LEAKY_GAIN) for w in widths)
        self.blocks = nn.ModuleList(_DBlock(b, a) for a, b in zip(widths[:-1], widths[1:]))
        self.stddev = _GroupStddev(group_size)
        self.conv = EqualizedConv2d(widths[0] + 1, widths[0], 3, LEAKY_GAIN)
        self.dense = EqualizedConv2d(widths[0], widths[0], 4, LEAKY_GAIN, padding=0)  # 4×4 -> 1×1

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = downsample(x, 2 ** (self.top - self.level))
        h = leaky_relu(self.from_rgb[self.level](x))
        for level in range(self.level, 0, -1):
            h = self.blocks[level - 1](h)
            if level == self.level and self.alpha < 1:  # fading in: blend with the level below
                h = torch.lerp(leaky_relu(self.from_rgb[level - 1](downsample(x))), h, self.alpha)
        h = leaky_relu(self.conv(self.stddev(h)))
        return leaky_relu(self.dense(h)).flatten(1)


class ProgressiveDiscriminator(Discriminator):
    """ProGAN's D (also StyleGAN's): from-RGB 1×1 per level, conv blocks down to 4×4, minibatch
    stddev, 3×3 and 4×4 convolutions, a linear score."""

    def __init__(self, widths: list[int], channels: int, group_size: int):
        super().__init__()
        self.body = _DiscriminatorBody(widths, channels, group_size)
        self.head = EqualizedLinear(widths[0], 1)


def level_widths(data_shape: tuple[int, ...], channel_base: int, channel_max: int, family: str) -> list[int]:
    """Feature maps per level, 4×4 up to the data's resolution; refuses what cannot grow."""
    if len(data_shape) != 3 or data_shape[1] != data_shape[2]:
        raise GanError(f"{family} needs square images, got data of shape {tuple(data_shape)}")
    size = data_shape[1]
    if size < 4 or size & (size - 1):
        raise GanError(f"{family} needs a power-of-two resolution >= 4, got {size}")
    return [channels_at(4 * 2**level, channel_base, channel_max) for level in range(int(math.log2(size)) - 1)]


class ProgressiveStep(AdversarialStep):
    """The adversarial step at the level and α of this step, on reals brought to that level.

    "Batch per resolution": each level may use a prefix of the drawn batch (``batch_sizes``),
    so ``train.batch_size`` is the largest and the data order stays one stream.
    """

    model: ProGAN

    def __call__(self, step: int, next_batch: Callable[[], Batch]) -> dict[str, torch.Tensor]:
        pending = [next_batch()]  # drawn first: its size turns the schedule's images into steps
        size = self.model.grow_for_step(step, len(pending[0].images))

        def at_level() -> Batch:
            batch = pending.pop() if pending else next_batch()
            images, labels = batch.images, batch.labels
            return Batch(self.model.reals_at_level(images[:size]), None if labels is None else labels[:size])

        return super().__call__(step, at_level)

    def d_scores(self, batch: Batch, z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return super().d_scores(Batch(self.model.reals_at_level(batch.images), batch.labels), z)


@MODELS.register("progan")
class ProGAN(GAN):
    step_class = ProgressiveStep

    def __init__(
        self,
        data_shape: tuple[int, ...],  # injected from the dataset: (channels, size, size)
        d_input_shape: tuple[int, ...] | None = None,  # injected: what D sees (PacGAN packs channels)
        z_dim: PositiveInt = 512,  # latent size
        channel_base: PositiveInt = 16384,  # feature maps at resolution r: channel_base / r ...
        channel_max: PositiveInt = 512,  # ... at most this many
        fade_images: PositiveInt = 800_000,  # real images over which a new level fades in (α 0 -> 1)
        stable_images: PositiveInt = 800_000,  # real images trained at a level once faded in (and at 4×4)
        batch_sizes: tuple[PositiveInt, ...] = (),  # batch per level from 4×4 up (missing: train.batch_size)
        group_size: PositiveInt = 4,  # minibatch stddev group
    ):
        super().__init__()
        widths = level_widths(data_shape, channel_base, channel_max, "progan")
        if len(batch_sizes) > len(widths):
            raise GanError(f"progan batch_sizes has {len(batch_sizes)} entries for {len(widths)} levels")
        self.z_dim = z_dim
        self.fade_images, self.stable_images = fade_images, stable_images
        self.batch_sizes = tuple(batch_sizes)
        self.generator = _Generator(z_dim, widths, data_shape[0])
        self.discriminator = ProgressiveDiscriminator(widths, (d_input_shape or data_shape)[0], group_size)
        self.grow(0, 1.0)

    def level_batch_sizes(self, full: int) -> list[int]:
        levels = self.generator.top + 1
        sizes = list(self.batch_sizes) + [full] * (levels - len(self.batch_sizes))
        if max(sizes) > full:
            raise GanError(f"progan batch_sizes {list(self.batch_sizes)} exceed train.batch_size {full}")
        return sizes

    def grow(self, level: int, alpha: float) -> None:
        """Set the level and α of G, D and the EMA generator (if the run keeps one)."""
        for net in (self.generator, self.discriminator.body, getattr(self, "ema_generator", None)):
            if net is not None:
                net.grow(level, alpha)

    def grow_for_step(self, step: int, full_batch: int) -> int:
        """Grow to the schedule's state at ``step``; returns that level's batch size."""
        sizes = self.level_batch_sizes(full_batch)
        level, alpha = growth(step, sizes, self.fade_images, self.stable_images)
        self.grow(level, alpha)
        return sizes[level]

    def reals_at_level(self, images: torch.Tensor) -> torch.Tensor:
        """Reals at G's current level (box-filtered down; mid-fade, blended with the level below
        as G's output is), shown at full size as G's output is."""
        G = self.generator
        factor = 2 ** (G.top - G.level)
        x = downsample(images, factor)
        if G.alpha < 1:
            x = torch.lerp(upsample(downsample(x)), x, G.alpha)
        return upsample(x, factor)

    def generate(self, inputs: Inputs, ema: bool = True) -> torch.Tensor:
        # G's output is linear (as in the paper); images are clipped only when shown.
        return super().generate(inputs, ema).clamp(-1, 1)
