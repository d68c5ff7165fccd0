"""The original minimax objective, with the saturating generator loss.

Goodfellow et al. 2014, arXiv:1406.2661: D maximises log D(x) + log(1 - D(G(z))) and G
minimises log(1 - D(G(z))), whose gradient vanishes when D confidently rejects fakes.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from gan_cli.losses.base import Loss
from gan_cli.registry import LOSSES


class BinaryCrossEntropyD(Loss):
    """D as a real/fake classifier on logits, shared by the minimax and non-saturating losses."""

    def d_loss(self, real_out, fake_out, real_target, fake_target):
        return F.binary_cross_entropy_with_logits(real_out, real_target) + F.binary_cross_entropy_with_logits(
            fake_out, fake_target
        )

    def d_output(self, out: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(out)


@LOSSES.register("minimax")
class Minimax(BinaryCrossEntropyD):
    def g_loss(self, fake_out, real_out):
        # log(1 - sigmoid(x)) = -softplus(x)
        return -F.softplus(fake_out).mean()
