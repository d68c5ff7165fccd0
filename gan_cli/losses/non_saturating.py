"""The non-saturating generator loss.

Goodfellow et al. 2014, arXiv:1406.2661, section 3: G maximises log D(G(z)) instead of
minimising log(1 - D(G(z))) — the same fixed point, strong gradients early in training.
"""

from __future__ import annotations

import torch.nn.functional as F

from gan_cli.losses.minimax import BinaryCrossEntropyD
from gan_cli.registry import LOSSES


@LOSSES.register("ns")
class NonSaturating(BinaryCrossEntropyD):
    def g_loss(self, fake_out, real_out):
        # -log(sigmoid(x)) = softplus(-x)
        return F.softplus(-fake_out).mean()
