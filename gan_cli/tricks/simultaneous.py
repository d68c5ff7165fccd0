"""Simultaneous updates: G's step is scored by D as it was when the step began.

gan-cli's step alternates: D's update(s) first, then G's against the D they left. Many reference
codes instead update both from one forward pass — Metz et al.'s unrolled-GAN notebook (poolio/
unrolled_gan, whose toy setting VEEGAN's Table 1 reuses) runs ``sess.run([g_train_op,
d_train_op])`` — so both gradients are taken at the same point (θ_D, θ_G). The two schemes are
different games: simultaneous gradient play is the one known to circle around an equilibrium
rather than settle (Mescheder et al. 2017, "The Numerics of GANs"), and it is how the notebook
trained the plain GAN it shows hopping between modes.

This trick restores it without touching the step: at each step's first D phase it keeps a copy
of D's parameters and buffers, and G's phase is scored by D at that copy
(``torch.func.functional_call``). G is updated last, so D's fakes and G's come from the same G:
both gradients are the ones at the step's starting point. With several D steps (n_critic) G sees
D as it was before all of them. It chooses the D of G's phase, so it cannot be combined with
another trick that does (``unrolled``).
"""

from __future__ import annotations

import torch
from torch import nn

from gan_cli.errors import GanError
from gan_cli.registry import TRICKS
from gan_cli.tricks.base import Phase, Trick
from gan_cli.tricks.unrolled import LookAheadDiscriminator


@TRICKS.register("simultaneous")
class Simultaneous(Trick):
    def __init__(self):
        self.kept: dict[int, tuple[int, dict[str, torch.Tensor]]] = {}  # id(D) -> (step, D's tensors)

    def d_outputs(self, phase: Phase) -> None:
        kept = self.kept.get(id(phase.D))
        if phase.name != "d" or (kept is not None and kept[0] == phase.step):
            return
        tensors = {
            name: t.detach().clone() for name, t in (*phase.D.named_parameters(), *phase.D.named_buffers())
        }
        self.kept[id(phase.D)] = (phase.step, tensors)

    def g_discriminator(self, phase: Phase, loss) -> nn.Module | None:
        kept = self.kept.get(id(phase.D))
        if kept is None or kept[0] != phase.step:
            raise GanError("simultaneous: G's phase came without a D phase in the same step")
        return LookAheadDiscriminator(phase.D, kept[1])
