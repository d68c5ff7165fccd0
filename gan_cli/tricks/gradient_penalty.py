"""Gradient penalty on random interpolates (WGAN-GP).

Gulrajani et al. 2017, "Improved Training of Wasserstein GANs", arXiv:1704.00028: add
weight * (||grad_x D(x_hat)|| - 1)^2 for x_hat on straight lines between real and fake
samples. The penalty is per sample, so D must not mix samples through batch norm.
"""

from __future__ import annotations

import torch
from torch import nn

from gan_cli.errors import GanError
from gan_cli.registry import TRICKS
from gan_cli.tricks.base import Trick


@TRICKS.register("gradient_penalty")
class GradientPenalty(Trick):
    def __init__(
        self,
        weight: float = 10.0,  # lambda
        center: float = 1.0,  # target gradient norm
    ):
        self.weight = weight
        self.center = center

    def check(self, model, loss) -> None:
        if any(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in model.discriminator.modules()):
            raise GanError(
                "the gradient penalty needs a discriminator without batch norm "
                "(for dcgan set model.d_norm=none)"
            )

    def d_penalty(self, D, real, fake):
        alpha = torch.rand((len(real),) + (1,) * (real.dim() - 1), device=real.device)
        x_hat = (alpha * real + (1 - alpha) * fake).requires_grad_(True)
        (grad,) = torch.autograd.grad(D(x_hat).sum(), x_hat, create_graph=True)
        norms = grad.flatten(1).norm(dim=1)
        return self.weight * ((norms - self.center) ** 2).mean()
