"""Minibatch discrimination.

Salimans et al. 2016, "Improved Techniques for Training GANs", arXiv:1606.03498, section 3.2:
D also sees, for each sample, how close it is to the other samples of its batch, so a
collapsed generator (whose batches are too alike) is easy to spot. With f(x) D's body features
(flattened, A of them) and a learned tensor T (A × B × C), M_i = f(x_i) T is B rows of C;
c_b(x_i, x_j) = exp(-||M_i,b - M_j,b||_L1) and o(x_i)_b = sum over j != i of c_b(x_i, x_j).
D's head becomes a Linear over [f(x), o(f(x))]. Real and fake batches are scored separately
(the default), as the paper requires.
"""

from __future__ import annotations

import torch
from torch import nn

from gan_cli.registry import TRICKS
from gan_cli.schema import PositiveInt
from gan_cli.tricks.base import Trick
from gan_cli.tricks.layers import single_layer_head


class MinibatchDiscriminationHead(nn.Module):
    def __init__(self, features: int, num_kernels: int, kernel_dim: int):
        super().__init__()
        self.num_kernels, self.kernel_dim = num_kernels, kernel_dim
        self.T = nn.Linear(features, num_kernels * kernel_dim, bias=False)
        self.score = nn.Linear(features + num_kernels, 1)

    def minibatch_features(self, f: torch.Tensor) -> torch.Tensor:
        """o(f): N × B closeness of each sample to the rest of its batch."""
        m = self.T(f).view(len(f), self.num_kernels, self.kernel_dim).transpose(0, 1)  # B × N × C
        # cdist computes the L1 distances without an N × N × B × C intermediate.
        closeness = torch.exp(-torch.cdist(m, m, p=1))  # B × N × N
        # Each sample is at distance 0 from itself (c = 1); leave it out, as the authors'
        # code does, so o counts only the other samples.
        return (closeness.sum(2) - 1).T

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        f = h.flatten(1)
        return self.score(torch.cat([f, self.minibatch_features(f)], 1))


@TRICKS.register("minibatch_discrimination")
class MinibatchDiscrimination(Trick):
    order = -20  # rebuild D's head before tricks that wrap its layers (spectral norm)

    def __init__(
        self,
        num_kernels: PositiveInt = 16,  # B: closeness features per sample
        kernel_dim: PositiveInt = 8,  # C: size of each kernel's projection
    ):
        self.num_kernels = num_kernels
        self.kernel_dim = kernel_dim

    def check(self, model, loss) -> None:
        single_layer_head(model, "minibatch_discrimination")

    def wrap(self, model: nn.Module) -> None:
        # The old head reads every body feature once, so its weight has one entry per feature.
        features = single_layer_head(model, "minibatch_discrimination").weight[0].numel()
        model.discriminator.head = MinibatchDiscriminationHead(features, self.num_kernels, self.kernel_dim)
