"""The ε-drift penalty on the critic's scores of real data.

Karras et al. 2017, "Progressive Growing of GANs for Improved Quality, Stability, and
Variation" (ProGAN), arXiv:1710.10196, appendix A.1: add ε · E[D(x)²] over real x to the
WGAN-GP critic's loss. The Wasserstein loss only sees score differences, so without it the
critic's outputs can drift far from zero; ε = 0.001 keeps them near it without acting on the
loss otherwise.
"""

from __future__ import annotations

import torch

from gan_cli.registry import TRICKS
from gan_cli.schema import NonNegativeFloat
from gan_cli.tricks.base import Phase, Trick


@TRICKS.register("drift")
class Drift(Trick):
    def __init__(self, epsilon: NonNegativeFloat = 0.001):  # weight of the mean squared real score
        self.epsilon = epsilon

    def d_penalty(self, phase: Phase) -> torch.Tensor:
        return self.epsilon * phase.real_out.pow(2).mean()
