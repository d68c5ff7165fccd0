"""Watching for NaN/Inf losses without a host sync on every step."""

from __future__ import annotations

import torch

from gan_cli.errors import GanError


class NonFiniteLoss(GanError):
    def __init__(self, step: int, term: str):
        super().__init__(f"non-finite {term} at step {step}")
        self.step = step
        self.term = term


class NonFiniteGuard:
    """Records, on the device, the first step at which any logged scalar was NaN or Inf.

    ``observe`` queues a few tiny tensor ops per step; ``check`` reads the result (one sync) and
    is called only where it matters: at log steps and before any checkpoint is written, so a
    checkpoint never holds weights trained past a non-finite loss.
    """

    def __init__(self, device: torch.device):
        self.first_step = torch.zeros((), dtype=torch.long, device=device)
        self.term = torch.zeros((), dtype=torch.long, device=device)
        self.names: list[str] = []

    def observe(self, step: int, scalars: dict[str, torch.Tensor]) -> None:
        self.names = list(scalars)
        bad = ~torch.isfinite(torch.stack(list(scalars.values())))
        first = (self.first_step == 0) & bad.any()
        self.term = torch.where(first, bad.long().argmax(), self.term)
        self.first_step = torch.where(first, step, self.first_step)

    def check(self) -> None:
        step = int(self.first_step.item())
        if step:
            raise NonFiniteLoss(step, self.names[int(self.term.item())])

    def reset(self) -> None:
        self.first_step.zero_()
