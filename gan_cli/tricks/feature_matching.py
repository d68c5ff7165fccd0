"""Feature matching for the generator.

Salimans et al. 2016, "Improved Techniques for Training GANs", arXiv:1606.03498, section 3.1:
train G to match the mean of D's intermediate features (here D's ``body``, flattened) on real
data, weight * ||E f(real) - E f(fake)||^2, instead of maximising D's output, so G does not
overtrain on the current D. With ``replace=False`` the term is added to G's adversarial loss.
"""

from __future__ import annotations

import torch

from gan_cli.registry import TRICKS
from gan_cli.schema import PositiveFloat
from gan_cli.tricks.base import Phase, Trick


@TRICKS.register("feature_matching")
class FeatureMatching(Trick):
    def __init__(
        self,
        weight: PositiveFloat = 1.0,  # weight of the feature loss in G's loss
        replace: bool = True,  # drop G's adversarial loss, as in the paper
    ):
        self.weight = weight
        self.g_adversarial_weight = 0.0 if replace else 1.0

    def g_penalty(self, phase: Phase) -> torch.Tensor:
        body = phase.model.discriminator.body
        with torch.no_grad():  # the real features are the fixed target
            real_mean = body(phase.real_in).flatten(1).mean(0)
        return self.weight * (real_mean - body(phase.fake_in).flatten(1).mean(0)).pow(2).sum()
