"""Top-k training: G learns only from the fakes D finds most realistic.

Sinha, Zhao, Goyal, Raffel & Odena 2020, "Top-k Training of GANs: Improving GAN Performance by
Throwing Away Bad Samples", arXiv:2002.06224: G's loss is taken over the k fakes of each batch
of B that D scores as most real; the gradients of the worst fakes point towards moving them to
the nearest mode, which pulls other samples off their modes. k starts at B and decays by γ per
epoch down to ν B: k = max(γ^epoch B, ν B), rounded down (paper: γ = 0.99, ν = 0.5).

A trick cannot know how many steps an epoch is (dataset size / batch size), so the decay counts
``anneal_steps`` training steps as one epoch: set it to the dataset's steps per epoch to follow
the paper (CIFAR-10 at batch 64: 782). D's update is unchanged.

How it reaches G's loss: the trick takes the loss's G term over (``g_adversarial_weight`` = 0)
and adds it back as ``g_penalty``, on the top k of the fake scores G's phase already has (from
the look-ahead D under ``unrolled``, so the two combine). A loss that reads D(real) gets the
reals at the kept fakes' positions: rpgan's pairs stay pairs, ragan's real mean is taken over
k of the reals. For BEGAN's energies (low = real) the k lowest are the most realistic.
"""

from __future__ import annotations

import math
from typing import Annotated, Any

import torch

from gan_cli.errors import GanError
from gan_cli.registry import TRICKS
from gan_cli.schema import Fraction, PositiveInt, Range
from gan_cli.tricks.base import Phase, Trick

Share = Annotated[float, Range(0, 1, min_open=True)]  # ν: 0 would keep no fake at all


@TRICKS.register("top_k")
class TopK(Trick):
    g_adversarial_weight = 0.0  # replaced by the top-k term in g_penalty

    def __init__(
        self,
        nu: Share = 0.5,  # ν, the smallest share of the batch kept (paper: 0.5)
        gamma: Fraction = 0.99,  # γ, k's decay per "epoch" (paper: 0.99)
        anneal_steps: PositiveInt = 1000,  # training steps counted as one epoch of the decay
    ):
        # Read at use time: schedules may set nu and gamma by name between steps.
        self.nu = nu
        self.gamma = gamma
        self.anneal_steps = anneal_steps
        self.loss: Any = None  # the run's loss, whose G term this takes over

    def check(self, model, loss) -> None:
        self.loss = loss

    def k(self, batch: int, step: int) -> int:
        """How many of ``batch`` fakes G learns from at training step ``step`` (1-based)."""
        epoch = (step - 1) // self.anneal_steps
        return max(1, min(batch, math.floor(batch * max(self.nu, self.gamma**epoch))))

    def g_penalty(self, phase: Phase) -> torch.Tensor:
        if self.loss is None:
            raise GanError("top_k needs the run's loss: check() was not called")
        fake_out = phase.fake_out
        energy = getattr(self.loss, "reads_energy", False)  # BEGAN: low scores are the realistic ones
        _, kept = torch.topk(fake_out, self.k(len(fake_out), phase.step), largest=not energy, sorted=False)
        real_out = phase.real_out[kept] if self.loss.g_uses_real else None
        return self.loss.g_loss(fake_out[kept], real_out)
