"""Relativistic average GANs: D judges whether a real sample is more realistic than the
average fake, and the reverse.

Jolicoeur-Martineau 2018, "The relativistic discriminator: a key element missing from standard
GAN", arXiv:1807.00734, section 4.3: with C the critic's raw output, the relativistic logits are
C(x_r) - E[C(x_f)] for reals and C(x_f) - E[C(x_r)] for fakes. D wants the first high and the
second low; G wants the reverse, so G's gradient also moves D's view of the real data — the
missing half of the standard GAN's argument. The paper's three variants apply a standard GAN's
loss to those logits: ``sgan`` (RaSGAN, cross-entropy), ``lsgan`` (RaLSGAN, squares to ±1) and
``hinge`` (RaHingeGAN). ESRGAN (Wang et al. 2018) trains with RaSGAN.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal

import torch
import torch.nn.functional as F

from gan_cli.losses.base import Loss
from gan_cli.registry import LOSSES

# The loss on a logit that should be high (positive = True) or low: the paper's f1 and f2.
VARIANTS: dict[str, Callable[[torch.Tensor, bool], torch.Tensor]] = {
    "sgan": lambda x, positive: F.softplus(-x if positive else x),
    "lsgan": lambda x, positive: (x - 1.0) ** 2 if positive else (x + 1.0) ** 2,
    "hinge": lambda x, positive: F.relu(1.0 - x if positive else 1.0 + x),
}


@LOSSES.register("ragan")
class RelativisticAverage(Loss):
    uses_targets = False
    g_uses_real = True

    def __init__(
        self,
        variant: Literal[
            "sgan", "lsgan", "hinge"
        ] = "sgan",  # the standard loss applied to the relativistic logits
    ):
        self.variant = variant

    def _pair(self, high: torch.Tensor, low: torch.Tensor) -> torch.Tensor:
        """The loss when ``high`` should beat the average of ``low``, and ``low`` fall below
        the average of ``high``."""
        f = VARIANTS[self.variant]
        return f(high - low.mean(), True).mean() + f(low - high.mean(), False).mean()

    def d_loss(self, real_out, fake_out, real_target, fake_target):
        return self._pair(real_out, fake_out)

    def g_loss(self, fake_out, real_out):
        return self._pair(fake_out, real_out)
