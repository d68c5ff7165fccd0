"""The hook points through which tricks change training, and the set that chains them.

A trick overrides only the hooks it needs; every default leaves training unchanged. The
training step calls the ``TrickSet``, never an individual trick, so adding a trick is one new
file with one class and one YAML entry — no edit to the loop.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn


class Trick:
    """Base class: all hooks are no-ops."""

    d_steps = 1  # discriminator updates per generator update

    def check(self, model: nn.Module, loss: Any) -> None:
        """Raise ``GanError`` when this trick cannot work with this model or loss."""

    def wrap(self, model: nn.Module) -> None:
        """Change the networks in place before the optimizers see them (e.g. spectral norm)."""

    def latent(self, z: torch.Tensor) -> torch.Tensor:
        """Reshape Gaussian draws into the latent prior G is trained and sampled with."""
        return z

    def on_step(self, step: int) -> None:
        """Called at the start of every training step (for schedules)."""

    def d_input(self, x: torch.Tensor) -> torch.Tensor:
        """What D sees, applied alike to real and fake batches."""
        return x

    def targets(
        self, real_target: torch.Tensor, fake_target: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """The real/fake targets of losses that use them."""
        return real_target, fake_target

    def d_penalty(self, D: nn.Module, real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor | float:
        """An extra term added to D's loss."""
        return 0.0

    def after_d_step(self, model: nn.Module) -> None:
        """Called after each optimizer step of D."""

    def after_g_step(self, model: nn.Module) -> None:
        """Called after each optimizer step of G."""

    def state_dict(self) -> dict:
        return {}

    def load_state_dict(self, state: dict) -> None:
        pass


class TrickSet:
    """The tricks of one run, applied in order at each hook point."""

    def __init__(self, tricks: list[Trick]):
        self.tricks = tricks
        self.d_steps = max([t.d_steps for t in tricks], default=1)

    def check(self, model: nn.Module, loss: Any) -> None:
        for t in self.tricks:
            t.check(model, loss)

    def wrap(self, model: nn.Module) -> None:
        for t in self.tricks:
            t.wrap(model)

    def latent(self, z: torch.Tensor) -> torch.Tensor:
        for t in self.tricks:
            z = t.latent(z)
        return z

    def on_step(self, step: int) -> None:
        for t in self.tricks:
            t.on_step(step)

    def d_input(self, x: torch.Tensor) -> torch.Tensor:
        for t in self.tricks:
            x = t.d_input(x)
        return x

    def targets(self, real_out: torch.Tensor, fake_out: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        real_target, fake_target = torch.ones_like(real_out), torch.zeros_like(fake_out)
        for t in self.tricks:
            real_target, fake_target = t.targets(real_target, fake_target)
        return real_target, fake_target

    def d_penalty(self, D: nn.Module, real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor | float:
        return sum((t.d_penalty(D, real, fake) for t in self.tricks), 0.0)

    def after_d_step(self, model: nn.Module) -> None:
        for t in self.tricks:
            t.after_d_step(model)

    def after_g_step(self, model: nn.Module) -> None:
        for t in self.tricks:
            t.after_g_step(model)

    def state_dict(self) -> list[dict]:
        return [t.state_dict() for t in self.tricks]

    def load_state_dict(self, states: list[dict]) -> None:
        for t, state in zip(self.tricks, states):
            t.load_state_dict(state)
