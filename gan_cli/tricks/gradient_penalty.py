"""Gradient penalty on random interpolates (WGAN-GP).

Gulrajani et al. 2017, "Improved Training of Wasserstein GANs", arXiv:1704.00028: add
weight * (||grad_x D(x_hat)|| - 1)^2 for x_hat on straight lines between real and fake
samples. The penalty is per sample, so D must not mix samples through batch norm.
"""

from __future__ import annotations

import torch

from gan_cli.registry import TRICKS
from gan_cli.schema import NonNegativeFloat
from gan_cli.tricks.base import Phase, Trick
from gan_cli.tricks.input_gradients import input_gradients, refuse_batch_norm


@TRICKS.register("gradient_penalty")
class GradientPenalty(Trick):
    def __init__(
        self,
        weight: NonNegativeFloat = 10.0,  # lambda
        center: NonNegativeFloat = 1.0,  # target gradient norm
    ):
        self.weight = weight
        self.center = center

    def check(self, model, loss) -> None:
        refuse_batch_norm(model, "the gradient penalty")

    def d_penalty(self, phase: Phase) -> torch.Tensor:
        real, fake = phase.real_in, phase.fake_in
        alpha = torch.rand((len(real),) + (1,) * (real.dim() - 1), device=real.device)
        norms = input_gradients(phase.D, alpha * real + (1 - alpha) * fake).norm(dim=1)
        return self.weight * ((norms - self.center) ** 2).mean()
