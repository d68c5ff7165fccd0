"""Two time-scale update rule: separate learning rates for G and D.

Heusel et al. 2017, "GANs Trained by a Two Time-Scale Update Rule Converge to a Local Nash
Equilibrium", arXiv:1706.08500: with D learning faster than G, D tracks its optimum for the
current G and training provably converges. The defaults are SAGAN's (Zhang et al. 2018,
arXiv:1805.08318); they replace ``train.lr_g``/``train.lr_d`` in every parameter group.
"""

from __future__ import annotations

from gan_cli.registry import TRICKS
from gan_cli.schema import PositiveFloat
from gan_cli.tricks.base import Trick


@TRICKS.register("ttur")
class TTUR(Trick):
    def __init__(
        self,
        g_lr: PositiveFloat = 1e-4,  # G's learning rate
        d_lr: PositiveFloat = 4e-4,  # D's learning rate (faster, so D stays near its optimum)
    ):
        self.g_lr = g_lr
        self.d_lr = d_lr

    def configure(self, g_optimizer, d_optimizer) -> None:
        for optimizer, lr in ((g_optimizer, self.g_lr), (d_optimizer, self.d_lr)):
            for group in optimizer.param_groups:
                group["lr"] = lr
