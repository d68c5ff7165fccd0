"""Equalized learning rate and pixel-wise feature normalization, shared by ProGAN and StyleGAN.

Karras, Aila, Laine & Lehtinen 2017, "Progressive Growing of GANs for Improved Quality,
Stability, and Variation", arXiv:1710.10196, section 4.1: weights are drawn from N(0, 1) and
multiplied by He's constant ``gain / sqrt(fan_in)`` at every call instead of once at init.
Adam's update size does not depend on a parameter's scale, so with the scale outside the
parameter every layer learns at the same speed. Section 4.2: pixel norm scales each pixel's
feature vector to unit length in G, which keeps the magnitudes in G and D from escalating.

StyleGAN (Karras, Laine & Aila 2018, arXiv:1812.04948) also lowers the learning rate of its
mapping network 100x through the same runtime scale (``lr_mul``).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

LEAKY_GAIN = math.sqrt(2)  # He's gain for LeakyReLU(0.2), rounded as the papers do


class EqualizedLinear(nn.Linear):
    """A linear layer whose weight is scaled at run time (a ``nn.Linear``, so tricks that act on
    weight layers, such as spectral norm, still find it)."""

    def __init__(
        self,
        in_features: int,
        out_features: int,
        gain: float = 1.0,
        lr_mul: float = 1.0,
        bias_init: float = 0.0,
    ):
        super().__init__(in_features, out_features)
        nn.init.normal_(self.weight, 0.0, 1.0 / lr_mul)
        nn.init.constant_(self.bias, bias_init / lr_mul)
        self.weight_scale = gain * lr_mul / math.sqrt(in_features)
        self.lr_mul = lr_mul

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.linear(x, self.weight * self.weight_scale, self.bias * self.lr_mul)


class EqualizedConv2d(nn.Conv2d):
    """A stride-1 convolution ("same" padding unless told) whose weight is scaled at run time."""

    def __init__(
        self, in_channels: int, out_channels: int, kernel: int, gain: float = 1.0, padding: int | None = None
    ):
        super().__init__(
            in_channels, out_channels, kernel, padding=kernel // 2 if padding is None else padding
        )
        nn.init.normal_(self.weight)
        nn.init.zeros_(self.bias)
        self.weight_scale = gain / math.sqrt(in_channels * kernel * kernel)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self._conv_forward(x, self.weight * self.weight_scale, self.bias)


def pixel_norm(x: torch.Tensor, eps: float = 1e-8) -> torch.Tensor:
    """Each sample's (and pixel's) feature vector, dim 1, scaled to unit root mean square."""
    return x * (x.pow(2).mean(1, keepdim=True) + eps).rsqrt()


def leaky_relu(x: torch.Tensor) -> torch.Tensor:
    return F.leaky_relu(x, 0.2)


def upsample(x: torch.Tensor, factor: int = 2) -> torch.Tensor:
    """Nearest-neighbour upsampling: ProGAN grows by it, and shows a lower level's images at
    full size with it."""
    return x if factor == 1 else F.interpolate(x, scale_factor=factor, mode="nearest")


def downsample(x: torch.Tensor, factor: int = 2) -> torch.Tensor:
    """Box-filter downsampling, the inverse of ``upsample`` on its outputs."""
    return x if factor == 1 else F.avg_pool2d(x, factor)


def channels_at(resolution: int, base: int, most: int) -> int:
    """Feature maps at a resolution: ``base / resolution``, at most ``most`` (ProGAN's and
    StyleGAN's rule: wide at low resolution, halving with each doubling above)."""
    return max(1, min(base // resolution, most))
