"""LeCam regularization: D's outputs held near moving anchors of the other side's outputs.

Tseng, Jiang, Liu, Yang & Yang 2021, "Regularizing Generative Adversarial Networks under
Limited Data", arXiv:2104.03310, eq. 3: with α_R and α_F exponential moving averages of D(x)
and D(G(z)) (decay 0.99), D's loss gets λ (E ||D(x) − α_F||² + E ||D(G(z)) − α_R||²). Pulling
each side's score towards where the other side's has been keeps D from driving them apart on
the few real images it can memorise; the paper shows it bounds a LeCam divergence and uses
λ = 0.3 for BigGAN on CIFAR (0.01 for StyleGAN2).

The anchors follow every D update (read from D's phase, detached, on the device: no host
sync); the first update sets them to that batch's means rather than to an arbitrary start.
Each discriminator of a step (CycleGAN's and CoGAN's two, in the order the step scores them)
keeps its own pair. The anchors are checkpointed.
"""

from __future__ import annotations

import torch
import torch.distributed as dist

from gan_cli.registry import TRICKS
from gan_cli.schema import Fraction, NonNegativeFloat
from gan_cli.training import distributed
from gan_cli.tricks.base import Phase, Trick


@TRICKS.register("lecam")
class LeCam(Trick):
    def __init__(
        self,
        weight: NonNegativeFloat = 0.3,  # λ (paper: 0.3 for BigGAN on CIFAR, 0.01 for StyleGAN2)
        decay: Fraction = 0.99,  # anchor = decay * anchor + (1 - decay) * batch mean, every D update
    ):
        # Read at use time: schedules may set weight and decay by name between steps.
        self.weight = weight
        self.decay = decay
        self.anchors: list[torch.Tensor] = []  # per discriminator: [α_R, α_F]
        self._critics: list = []  # this step's discriminators, in the order they were scored

    def on_step(self, step: int) -> None:
        self._critics = []

    def _slot(self, D) -> int:
        """Which anchors belong to ``D``: its position among the step's discriminators (a
        two-domain step scores two; n_critic repeats one)."""
        for index, critic in enumerate(self._critics):
            if critic is D:
                return index
        self._critics.append(D)
        return len(self._critics) - 1

    def d_outputs(self, phase: Phase) -> None:
        if phase.name != "d":
            return
        slot = self._slot(phase.D)
        means = torch.stack([phase.real_out.detach().mean(), phase.fake_out.detach().mean()]).float()
        if distributed.active():  # every rank keeps the same anchors
            dist.all_reduce(means)
            means /= distributed.world_size()
        if slot == len(self.anchors):
            self.anchors.append(means)
        else:
            self.anchors[slot] = self.anchors[slot].to(means.device).lerp(means, 1.0 - self.decay)

    def d_penalty(self, phase: Phase) -> torch.Tensor | float:
        slot = self._slot(phase.D)
        if slot >= len(self.anchors):
            return 0.0  # no anchors yet: d_outputs did not see this D
        real_out, fake_out = phase.real_out, phase.fake_out
        anchor_real, anchor_fake = self.anchors[slot].to(real_out.device, real_out.dtype)
        return self.weight * ((real_out - anchor_fake).pow(2).mean() + (fake_out - anchor_real).pow(2).mean())

    def state_dict(self) -> dict:
        return {"anchors": [a.clone() for a in self.anchors]}

    def load_state_dict(self, state: dict) -> None:
        self.anchors = [a.clone() for a in state.get("anchors", [])]
