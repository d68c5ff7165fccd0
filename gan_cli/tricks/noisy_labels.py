"""Soft, noisy and occasionally flipped targets for D.

Chintala et al.'s ganhacks (github.com/soumith/ganhacks, tricks 6 and 7), after Salimans et al.
2016, "Improved Techniques for Training GANs", arXiv:1606.03498: each sample's real target is
drawn from U(real_low, real_high) and its fake target from U(0, fake_high), and with probability
``flip`` a sample's target is swapped for one of the other class, so D never sees clean labels
and cannot grow over-confident. The targets replace those of any earlier target trick.

With a cross-entropy loss a target above 1 makes that sample's loss unbounded below (larger
logits always pay); ganhacks' range allows it, ``real_high=1.0`` keeps the objective bounded.
"""

from __future__ import annotations

from typing import Annotated

import torch

from gan_cli.errors import GanError
from gan_cli.registry import TRICKS
from gan_cli.schema import NonNegativeFloat, Range
from gan_cli.tricks.base import Phase, Trick

FlipProbability = Annotated[float, Range(0, 0.5, max_open=True)]  # at 0.5 the targets say nothing


@TRICKS.register("noisy_labels")
class NoisyLabels(Trick):
    needs_targets = True

    def __init__(
        self,
        real_low: NonNegativeFloat = 0.7,  # real targets are drawn from U(real_low, real_high)
        real_high: NonNegativeFloat = 1.2,
        fake_high: NonNegativeFloat = 0.3,  # fake targets are drawn from U(0, fake_high)
        flip: FlipProbability = 0.05,  # probability that a sample's target is the other class's
    ):
        if not fake_high <= real_low <= real_high:
            raise GanError(
                f"noisy_labels needs fake_high <= real_low <= real_high, got {fake_high}, {real_low}, {real_high}"
            )
        self.real_low, self.real_high, self.fake_high, self.flip = real_low, real_high, fake_high, flip

    def targets(self, phase: Phase, real_target: torch.Tensor, fake_target: torch.Tensor):
        return self._draw(real_target, real=True), self._draw(fake_target, real=False)

    def _draw(self, like: torch.Tensor, real: bool) -> torch.Tensor:
        flipped = torch.rand_like(like) < self.flip
        return torch.where(flipped, self._soft(like, not real), self._soft(like, real))

    def _soft(self, like: torch.Tensor, real: bool) -> torch.Tensor:
        if real:
            return torch.empty_like(like).uniform_(self.real_low, self.real_high)
        return torch.rand_like(like) * self.fake_high
