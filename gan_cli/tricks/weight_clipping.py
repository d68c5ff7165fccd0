"""Weight clipping of the critic.

Arjovsky, Chintala & Bottou 2017, arXiv:1701.07875: clamping every critic parameter to
[-c, c] after each update bounds its Lipschitz constant, as the Wasserstein estimate requires.
"""

from __future__ import annotations

import torch

from gan_cli.registry import TRICKS
from gan_cli.schema import PositiveFloat
from gan_cli.tricks.base import Trick


@TRICKS.register("weight_clipping")
class WeightClipping(Trick):
    def __init__(self, clip: PositiveFloat = 0.01):  # bound on every critic parameter
        self.clip = clip

    @torch.no_grad()
    def after_d_step(self, model) -> None:
        for p in model.discriminator.parameters():
            p.clamp_(-self.clip, self.clip)
