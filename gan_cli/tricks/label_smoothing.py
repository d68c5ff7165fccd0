"""One-sided label smoothing.

Salimans et al. 2016, "Improved Techniques for Training GANs", arXiv:1606.03498, section 3.4:
replace D's real target 1 with e.g. 0.9 so D cannot grow over-confident; fake targets stay 0
(smoothing them would reward fakes where the data has no mass).
"""

from __future__ import annotations

from typing import Annotated

import torch

from gan_cli.registry import TRICKS
from gan_cli.schema import Range
from gan_cli.tricks.base import Phase, Trick

RealTarget = Annotated[float, Range(0, 1, min_open=True)]  # at 0 real and fake targets would agree


@TRICKS.register("label_smoothing")
class LabelSmoothing(Trick):
    needs_targets = True

    def __init__(self, real: RealTarget = 0.9):  # D's target for real samples
        self.real = real

    def targets(self, phase: Phase, real_target: torch.Tensor, fake_target: torch.Tensor):
        return real_target * self.real, fake_target
