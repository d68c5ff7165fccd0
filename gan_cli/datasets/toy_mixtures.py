"""2-D Gaussian mixtures: the mode-collapse benchmarks.

The 8-Gaussian ring and 25-Gaussian grid of Metz et al. 2016 (Unrolled GANs, arXiv:1611.02163),
Srivastava et al. 2017 (VEEGAN, arXiv:1705.07761) and Lin et al. 2018 (PacGAN,
arXiv:1712.04086). Ring: 8 modes evenly spaced on a circle of radius 2, std 0.02. Grid: 25
modes at {-4, -2, 0, 2, 4}^2, std 0.05. Modes are equally likely.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from gan_cli.datasets.base import Data, promises
from gan_cli.registry import DATASETS
from gan_cli.schema import NonNegativeFloat, PositiveFloat, PositiveInt, Seed


@dataclass(kw_only=True)
class ToyMixture(Data):
    """Points of a Gaussian mixture, with what the mode-coverage metrics (``toy_modes``) need:
    the mode centres and the std of each mode."""

    modes: torch.Tensor
    mode_std: float


def ring_centres(modes: int = 8, radius: float = 2.0) -> torch.Tensor:
    angles = torch.arange(modes) * (2 * math.pi / modes)
    return radius * torch.stack([angles.cos(), angles.sin()], dim=1)


def grid_centres(side: int = 5, spacing: float = 2.0) -> torch.Tensor:
    axis = (torch.arange(side) - (side - 1) / 2) * spacing
    return torch.cartesian_prod(axis, axis)


def sample_mixture(centres: torch.Tensor, std: float, n: int, seed: int) -> ToyMixture:
    g = torch.Generator().manual_seed(seed)
    labels = torch.randint(len(centres), (n,), generator=g)
    points = centres[labels] + std * torch.randn(n, 2, generator=g)
    return ToyMixture(
        points,
        labels,
        num_classes=len(centres),
        description=f"{len(centres)}-Gaussian mixture",
        modes=centres,
        mode_std=std,
    )


@DATASETS.register("ring8")
@promises(lambda p: ((2,), 8))
def ring8(
    n: PositiveInt = 50_000,  # points drawn once (with their mode labels)
    radius: PositiveFloat = 2.0,  # circle radius
    std: NonNegativeFloat = 0.02,  # std of each mode
    seed: Seed = 0,  # the draw is fixed, independent of the training seed
) -> ToyMixture:
    return sample_mixture(ring_centres(8, radius), std, n, seed)


@DATASETS.register("grid25")
@promises(lambda p: ((2,), 25))
def grid25(
    n: PositiveInt = 50_000,  # points drawn once (with their mode labels)
    spacing: PositiveFloat = 2.0,  # distance between neighbouring modes
    std: NonNegativeFloat = 0.05,  # std of each mode
    seed: Seed = 0,  # the draw is fixed, independent of the training seed
) -> ToyMixture:
    return sample_mixture(grid_centres(5, spacing), std, n, seed)
