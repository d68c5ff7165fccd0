"""Everything a run must carry across a checkpoint, named once.

The training loop registers each stateful piece (networks, optimizers, schedules, trick state,
data order, loss scaler, fixed latents, RNGs, ...) in one ``TrainingState``; saving and
restoring both walk that one table, so a piece cannot be saved and forgotten on restore (or
the reverse), and a new piece is one more entry.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from typing import Any, Protocol

import torch
from torch import nn

from gan_cli.errors import GanError
from gan_cli.training import checkpoint


class Stateful(Protocol):
    def state_dict(self) -> Any: ...

    def load_state_dict(self, state: Any) -> Any: ...


class RandomState:
    """The torch (CPU and CUDA) and Python random generators; gan-cli draws no numpy numbers."""

    def __init__(self, device: torch.device):
        self.cuda = device.type == "cuda"

    def state_dict(self) -> dict[str, Any]:
        return {
            "torch": torch.get_rng_state(),
            "cuda": torch.cuda.get_rng_state_all() if self.cuda else [],
            "python": random.getstate(),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        torch.set_rng_state(state["torch"])
        if state["cuda"]:
            torch.cuda.set_rng_state_all(state["cuda"])
        random.setstate(state["python"])


class TrainingState:
    """``parts`` maps each checkpoint key to the object whose state it holds; ``meta`` are the
    fixed facts every checkpoint of the run repeats (config, data shape, label count).

    Its ``state_dict`` is the checkpoint, and its ``load_state_dict`` is what a resume and a NaN
    rollback both load; unlike a module's, they carry the step (and whether the run finished)."""

    def __init__(self, meta: Mapping[str, Any], parts: Mapping[str, Stateful | None]):
        self.meta = dict(meta)
        # A piece a run does not use (no fp16 loss scaler) is absent, not saved as None.
        self.parts = {key: part for key, part in parts.items() if part is not None}

    def state_dict(self, step: int, finished: bool = False) -> dict[str, Any]:
        """The checkpoint of ``step``; ``finished`` once the final evaluation and grid exist."""
        state = {key: part.state_dict() for key, part in self.parts.items()}
        return {**self.meta, "step": step, "finished": finished, **state}

    def load_state_dict(self, state: Mapping[str, Any]) -> int:
        """Load every part from ``state`` (a loaded checkpoint); returns its step."""
        # A piece with no state of its own (a stateless loss) may be absent from an older checkpoint.
        missing = [key for key, part in self.parts.items() if key not in state and part.state_dict() != {}]
        if missing:
            raise GanError(f"the checkpoint holds no {', '.join(missing)} state, which this run needs")
        for key, part in self.parts.items():
            if key not in state:
                continue
            if isinstance(part, nn.Module):
                checkpoint.load_weights(part, state[key], key, "checkpoint")
            else:
                part.load_state_dict(state[key])
        return state["step"]
