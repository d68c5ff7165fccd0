"""Least-squares GAN.

Mao et al. 2017, "Least Squares Generative Adversarial Networks", arXiv:1611.04076: squared
error to the targets instead of cross-entropy (a-b-c coding with a=0, b=c=1), which keeps
penalising fakes that are classified correctly but lie far from the data.
"""

from __future__ import annotations

from gan_cli.losses.base import Loss
from gan_cli.registry import LOSSES


@LOSSES.register("lsgan")
class LeastSquares(Loss):
    def d_loss(self, real_out, fake_out, real_target, fake_target):
        return 0.5 * ((real_out - real_target) ** 2).mean() + 0.5 * ((fake_out - fake_target) ** 2).mean()

    def g_loss(self, fake_out, real_out):
        return 0.5 * ((fake_out - 1.0) ** 2).mean()
