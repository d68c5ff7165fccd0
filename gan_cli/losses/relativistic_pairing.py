"""Relativistic pairing GAN (RpGAN): each real sample against one fake, through a softplus.

Jolicoeur-Martineau 2018, arXiv:1807.00734 (RSGAN, section 4.1), the loss R3GAN builds on
(Huang et al. 2024, "The GAN is dead; long live the GAN!", arXiv:2501.05441, eq. 2): D minimises
E softplus(-(D(x_r) - D(x_f))) over pairs of a real and a fake, G the same with the roles
swapped. Coupling each fake to a real removes the standard GAN's collapse-inducing optimum
where D separates all data from all fakes along one direction (Sun et al. 2020); with R1 and R2
(``trick=r3gan``) it converges locally. Pairs are taken in batch order, so the real and fake
batches must be the same size.
"""

from __future__ import annotations

import torch.nn.functional as F

from gan_cli.errors import GanError
from gan_cli.losses.base import Loss
from gan_cli.registry import LOSSES


def paired(high, low):
    if high.shape != low.shape:
        raise GanError(
            f"rpgan pairs real and fake samples one to one; got batches of {len(high)} and {len(low)}"
        )
    return F.softplus(low - high).mean()


@LOSSES.register("rpgan")
class RelativisticPairing(Loss):
    uses_targets = False
    g_uses_real = True

    def d_loss(self, real_out, fake_out, real_target, fake_target):
        return paired(real_out, fake_out)

    def g_loss(self, fake_out, real_out):
        return paired(fake_out, real_out)
