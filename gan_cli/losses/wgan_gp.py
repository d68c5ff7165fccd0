"""Wasserstein GAN with gradient penalty.

Gulrajani et al. 2017, "Improved Training of Wasserstein GANs", arXiv:1704.00028: instead of
clipping, penalise the critic's input-gradient norm for deviating from 1 on random
interpolates between real and fake samples (weight 10 in the paper).
"""

from __future__ import annotations

from gan_cli.losses.wasserstein import WassersteinObjective
from gan_cli.registry import LOSSES
from gan_cli.schema import NonNegativeFloat
from gan_cli.tricks.gradient_penalty import GradientPenalty


@LOSSES.register("wgan_gp")
class WGANGP(WassersteinObjective):
    def __init__(self, gp_weight: NonNegativeFloat = 10.0):  # lambda of the gradient penalty
        self.gp_weight = gp_weight

    def implied_tricks(self) -> list:
        return [GradientPenalty(weight=self.gp_weight)]
