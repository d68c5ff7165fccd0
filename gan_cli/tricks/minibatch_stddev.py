"""Minibatch standard deviation.

Karras et al. 2017, "Progressive Growing of GANs for Improved Quality, Stability, and
Variation" (ProGAN), arXiv:1710.10196, section 3: before D's head, append one feature (map)
holding the standard deviation of each feature over a group of samples, averaged over all
features, so D can tell a batch that varies too little. A learned 1×1 conv (or Linear, for
flat features) with LeakyReLU(0.2) maps the widened features back to the original width, so
the model's own head still fits.
"""

from __future__ import annotations

import torch
from torch import nn

from gan_cli.errors import GanError
from gan_cli.registry import TRICKS
from gan_cli.schema import AtLeastTwo
from gan_cli.tricks.base import Trick
from gan_cli.tricks.layers import single_layer_head


class MinibatchStddevLayer(nn.Module):
    def __init__(self, group_size: int):
        super().__init__()
        self.group_size = group_size

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        n = len(h)
        size = min(self.group_size, n)  # as ProGAN: a smaller batch is one group
        if n % size:
            raise GanError(f"minibatch_stddev: the batch of {n} does not split into groups of {size}")
        # Sample i falls into group i % (n // size), as in ProGAN's reshape.
        groups = h.reshape(size, n // size, *h.shape[1:])
        std = (groups.var(0, unbiased=False) + 1e-8).sqrt()  # eps as ProGAN: sqrt stays differentiable
        stat = std.flatten(1).mean(1).repeat(size)
        feature = stat.view(n, *(1,) * (h.dim() - 1)).expand(n, 1, *h.shape[2:])
        return torch.cat([h, feature], 1)


@TRICKS.register("minibatch_stddev")
class MinibatchStddev(Trick):
    order = -20  # rebuild D's head before tricks that wrap its layers (spectral norm)

    def __init__(self, group_size: AtLeastTwo = 4):  # samples per group (the batch must split into groups)
        self.group_size = group_size

    def check(self, model, loss) -> None:
        single_layer_head(model, "minibatch_stddev")

    def wrap(self, model: nn.Module) -> None:
        head = single_layer_head(model, "minibatch_stddev")
        width = head.weight.shape[1]  # channels of a conv head, features of a linear one
        project = (
            nn.Conv2d(width + 1, width, 1) if isinstance(head, nn.Conv2d) else nn.Linear(width + 1, width)
        )
        model.discriminator.head = nn.Sequential(
            MinibatchStddevLayer(self.group_size), project, nn.LeakyReLU(0.2), head
        )
