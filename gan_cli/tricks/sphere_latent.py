"""Latent vectors on the sphere.

White 2016, "Sampling Generative Networks", arXiv:1609.04468, and Chintala et al.'s ganhacks
(trick 3): Gaussian draws in high dimension concentrate near a shell of radius sqrt(d), so
normalising them onto that sphere loses nothing and makes interpolation stay on-distribution.
"""

from __future__ import annotations

import math

import torch

from gan_cli.registry import TRICKS
from gan_cli.tricks.base import Trick


@TRICKS.register("sphere_latent")
class SphereLatent(Trick):
    def latent(self, z: torch.Tensor) -> torch.Tensor:
        return z * (math.sqrt(z.shape[1]) / z.norm(dim=1, keepdim=True))
