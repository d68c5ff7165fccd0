"""R1: a zero-centred gradient penalty on real data.

Mescheder, Geiger & Nowozin 2018, "Which Training Methods for GANs do actually Converge?",
arXiv:1801.04406: add (gamma/2) * E ||grad_x D(x)||^2 over real x, so D is flat on the data
and training converges locally. ``every`` > 1 is the lazy regularisation of StyleGAN2 (Karras
et al. 2019, arXiv:1912.04958): the penalty only on every k-th training step, times k, so it
costs 1/k as much with the same average weight.
"""

from __future__ import annotations

import torch

from gan_cli.registry import TRICKS
from gan_cli.schema import NonNegativeFloat, PositiveInt
from gan_cli.tricks.base import Phase, Trick
from gan_cli.tricks.input_gradients import input_gradients, refuse_batch_norm


@TRICKS.register("r1")
class R1(Trick):
    name = "r1"
    on_fakes = False  # R2 penalises D's gradient on the fakes instead

    def __init__(
        self,
        gamma: NonNegativeFloat = 10.0,  # penalty weight (the paper's gamma)
        every: PositiveInt = 1,  # apply on every k-th training step (all its D updates), scaled by k
    ):
        self.gamma = gamma
        self.every = every

    def check(self, model, loss) -> None:
        refuse_batch_norm(model, self.name)

    def d_penalty(self, phase: Phase) -> torch.Tensor | float:
        if phase.step % self.every:
            return 0.0
        grad = input_gradients(phase.D, phase.fake_in if self.on_fakes else phase.real_in)
        return self.every * self.gamma / 2 * grad.pow(2).sum(1).mean()
