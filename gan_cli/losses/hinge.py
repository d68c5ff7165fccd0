"""Hinge loss.

Lim & Ye 2017, "Geometric GAN", arXiv:1705.02894, as used by SN-GAN (Miyato et al. 2018) and
SAGAN/BigGAN: D minimises E[relu(1 - D(x))] + E[relu(1 + D(G(z)))], G minimises -E[D(G(z))].
"""

from __future__ import annotations

import torch.nn.functional as F

from gan_cli.losses.base import Loss
from gan_cli.registry import LOSSES


@LOSSES.register("hinge")
class Hinge(Loss):
    uses_targets = False

    def d_loss(self, real_out, fake_out, real_target, fake_target):
        return F.relu(1.0 - real_out).mean() + F.relu(1.0 + fake_out).mean()

    def g_loss(self, fake_out, real_out):
        return -fake_out.mean()
