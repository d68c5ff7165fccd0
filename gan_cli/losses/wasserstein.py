"""Wasserstein GAN with weight clipping.

Arjovsky, Chintala & Bottou 2017, "Wasserstein GAN", arXiv:1701.07875: the critic estimates the
earth mover's distance as E[D(x)] - E[D(G(z))]; clipping its weights to [-c, c] keeps it
(roughly) Lipschitz. Pair it with ``trick=wgan`` for the paper's 5 critic steps per G step.
"""

from __future__ import annotations

from gan_cli.losses.base import Loss
from gan_cli.registry import LOSSES
from gan_cli.schema import PositiveFloat
from gan_cli.tricks.weight_clipping import WeightClipping


class WassersteinObjective(Loss):
    """The critic's objective, shared by weight clipping and gradient-penalty variants."""

    uses_targets = False

    def d_loss(self, real_out, fake_out, real_target, fake_target):
        return fake_out.mean() - real_out.mean()

    def g_loss(self, fake_out, real_out):
        return -fake_out.mean()


@LOSSES.register("wasserstein")
class Wasserstein(WassersteinObjective):
    def __init__(self, clip: PositiveFloat = 0.01):  # critic weights are clamped to [-clip, clip]
        self.clip = clip

    def implied_tricks(self) -> list:
        return [WeightClipping(clip=self.clip)]
