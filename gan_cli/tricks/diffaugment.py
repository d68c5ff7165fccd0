"""Differentiable augmentation of everything D sees.

Zhao, Liu, Lin, Zhu & Han 2020, "Differentiable Augmentation for Data-Efficient GAN
Training", arXiv:2006.10738: the same random, differentiable transforms are applied to real
and fake images, in D's update and in G's, so D cannot memorise the (few) real images and G
still gets gradients through the augmentation. The transforms and ranges are the paper's:
colour (brightness ±0.5, saturation ×[0, 2], contrast ×[0.5, 1.5]), translation by up to 1/8
of the image size, and cutout of a square half the image size, each drawn per sample.

"Zero" (translation padding, cutout) is 0 in D's [-1, 1] input, i.e. mid-grey, as in the
paper's code, whose networks also take images in [-1, 1]. One departure: the cutout square
lies wholly inside the image (the paper's may be clipped by the border), so it always hides
the same area.
"""

from __future__ import annotations

import torch

from gan_cli.errors import GanError
from gan_cli.registry import TRICKS
from gan_cli.tricks.base import Trick


def _per_sample(x: torch.Tensor) -> torch.Tensor:
    """One U(0, 1) draw per sample, broadcastable over N×C×H×W."""
    return torch.rand(len(x), 1, 1, 1, dtype=x.dtype, device=x.device)


def brightness(x: torch.Tensor) -> torch.Tensor:
    return x + (_per_sample(x) - 0.5)


def saturation(x: torch.Tensor) -> torch.Tensor:
    grey = x.mean(dim=1, keepdim=True)
    return (x - grey) * (2 * _per_sample(x)) + grey


def contrast(x: torch.Tensor) -> torch.Tensor:
    mean = x.mean(dim=(1, 2, 3), keepdim=True)
    return (x - mean) * (_per_sample(x) + 0.5) + mean


def _offset(x: torch.Tensor, low: int, high: int) -> torch.Tensor:
    """A per-sample integer in [low, high], shaped N×1×1×1."""
    return torch.randint(low, high + 1, (len(x), 1, 1, 1), device=x.device)


def _grid(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Row and column indices, shaped 1×1×H×1 and 1×1×1×W."""
    h, w = x.shape[2:]
    rows = torch.arange(h, device=x.device).view(1, 1, h, 1)
    return rows, torch.arange(w, device=x.device).view(1, 1, 1, w)


def translation(x: torch.Tensor, ratio: float = 1 / 8) -> torch.Tensor:
    n, c, h, w = x.shape
    rows, cols = _grid(x)
    rows = rows + _offset(x, -int(h * ratio + 0.5), int(h * ratio + 0.5))  # the source of each pixel
    cols = cols + _offset(x, -int(w * ratio + 0.5), int(w * ratio + 0.5))
    inside = (rows >= 0) & (rows < h) & (cols >= 0) & (cols < w)
    batch = torch.arange(n, device=x.device).view(n, 1, 1, 1)
    channel = torch.arange(c, device=x.device).view(1, c, 1, 1)
    return x[batch, channel, rows.clamp(0, h - 1), cols.clamp(0, w - 1)] * inside


def cutout(x: torch.Tensor, ratio: float = 1 / 2) -> torch.Tensor:
    h, w = x.shape[2:]
    side_h, side_w = int(h * ratio + 0.5), int(w * ratio + 0.5)
    rows, cols = _grid(x)
    rows = rows - _offset(x, 0, h - side_h)
    cols = cols - _offset(x, 0, w - side_w)
    hidden = (rows >= 0) & (rows < side_h) & (cols >= 0) & (cols < side_w)
    return x * ~hidden


AUGMENTATIONS = {
    "color": (brightness, saturation, contrast),
    "translation": (translation,),
    "cutout": (cutout,),
}


@TRICKS.register("diffaugment")
class DiffAugment(Trick):
    def __init__(self, policy: str = "color,translation,cutout"):  # comma-separated, applied in order
        names = [name.strip() for name in policy.split(",")]
        unknown = [name for name in names if name not in AUGMENTATIONS]
        if unknown:
            raise GanError(
                f"unknown diffaugment policy '{unknown[0]}'; valid: {', '.join(AUGMENTATIONS)} "
                f"(comma-separated, e.g. 'color,translation,cutout')"
            )
        self.augmentations = [f for name in names for f in AUGMENTATIONS[name]]
        self.shape: tuple[int, ...] | None = None  # the data's, seen when the run is built

    def data_shape(self, shape: tuple[int, ...]) -> tuple[int, ...]:
        self.shape = shape
        return shape

    def check(self, model, loss) -> None:
        if self.shape is not None and len(self.shape) != 3:
            raise GanError(f"diffaugment needs image data (C×H×W), got samples of shape {self.shape}")

    def d_input(self, x: torch.Tensor) -> torch.Tensor:
        for augment in self.augmentations:
            x = augment(x)
        return x
