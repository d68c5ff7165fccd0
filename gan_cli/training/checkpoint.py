"""Self-describing checkpoints: state dicts, step, RNG states and the resolved config.

Written atomically (temporary file, then rename), so a crash mid-write leaves the previous
file intact. Read with ``torch.load(weights_only=True)``: a checkpoint from a stranger can
hold tensors and plain containers, never code.
"""

from __future__ import annotations

import pickle
from pathlib import Path
from typing import Any

import torch

from gan_cli.errors import GanError
from gan_cli.files import atomic_write

FORMAT_VERSION = 1
REQUIRED = ("format_version", "config", "data_shape", "step", "generator", "discriminator")


def save(state: dict[str, Any], path: Path) -> None:
    with atomic_write(path) as f:
        torch.save({"format_version": FORMAT_VERSION, **state}, f)


def load(path: str | Path) -> dict[str, Any]:
    """Load and validate a checkpoint; every failure is a one-line ``GanError``."""
    path = Path(path)
    if not path.is_file():
        raise GanError(f"checkpoint not found: {path}")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # foreign bytes raise many types (KeyError, EOFError, ...)
        if isinstance(err, pickle.UnpicklingError) and "Weights only load failed" in str(err):
            raise GanError(
                f"{path} holds objects other than tensors and plain data; refusing to load it"
            ) from err
        raise GanError(
            f"{path} is not a readable gan-cli checkpoint (truncated or not a checkpoint)"
        ) from err
    if not isinstance(state, dict) or any(key not in state for key in REQUIRED):
        raise GanError(f"{path} is not a gan-cli checkpoint")
    if state["format_version"] > FORMAT_VERSION:
        raise GanError(
            f"{path} has checkpoint format {state['format_version']}; this gan-cli reads up to "
            f"{FORMAT_VERSION} (upgrade gan-cli)"
        )
    return state


def load_weights(module: torch.nn.Module, weights: dict, what: str, path: str | Path) -> None:
    """Load a state dict, naming the checkpoint and network when it does not fit."""
    try:
        module.load_state_dict(weights)
    except RuntimeError as err:
        raise GanError(
            f"{path}: the {what} weights do not fit the model in its config ({str(err).splitlines()[0]})"
        ) from err


def rotate(folder: Path, keep: int) -> None:
    """Delete all but the newest ``keep`` periodic checkpoints (``step_*.pt``); ``last.pt`` is
    never touched, and rotation runs only after a new checkpoint was written successfully."""
    periodic = sorted(folder.glob("step_*.pt"))
    for old in periodic[: max(0, len(periodic) - keep)]:
        old.unlink()


def resolve_path(path: str | Path) -> Path:
    """The checkpoint file a user named: a file is itself; a run folder gives its
    ``checkpoints/last.pt``; a ``checkpoints`` folder its ``last.pt``. Anything else is a
    one-line ``GanError`` saying what was expected. Only paths are looked at (nothing is loaded)."""
    path = Path(path)
    if path.is_file():
        return path
    if path.is_dir():
        for candidate in (path / "checkpoints" / "last.pt", path / "last.pt"):
            if candidate.is_file():
                return candidate
        raise GanError(
            f"{path} is a folder without checkpoints/last.pt; give a checkpoint file (.pt) or a run folder"
        )
    raise GanError(f"checkpoint not found: {path} (give a checkpoint file or a run folder)")
