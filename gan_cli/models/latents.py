"""Latent priors a model family's paper draws from, as tricks the family implies."""

from __future__ import annotations

import math
from typing import Literal

import torch

from gan_cli.tricks.base import Trick

LatentPrior = Literal["uniform", "gaussian"]


class UniformLatent(Trick):
    """z ~ U[-1, 1] in every dimension, as BEGAN's and InfoGAN's authors draw it. The run's
    N(0, 1) draws through 2 Φ(z) - 1 = erf(z / √2) are exactly uniform, so seeds, fixed sample
    latents and truncation keep working on the Gaussian draws underneath."""

    def latent(self, z: torch.Tensor) -> torch.Tensor:
        return torch.erf(z / math.sqrt(2.0))


def prior_tricks(prior: LatentPrior) -> list[Trick]:
    """The tricks that make the run's latents follow ``prior``."""
    return [UniformLatent()] if prior == "uniform" else []
