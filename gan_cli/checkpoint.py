"""Self-describing checkpoints: state dicts, step, RNG states and the resolved config.

Written atomically (temporary file, then rename), so a crash mid-write leaves the previous
file intact. Read with ``torch.load(weights_only=True)``: a checkpoint from a stranger can
hold tensors and plain containers, never code.
"""

from __future__ import annotations

import os
import pickle
import tempfile
from pathlib import Path
from typing import Any

import torch

from gan_cli.errors import GanError

FORMAT_VERSION = 1
REQUIRED = ("format_version", "config", "data_shape", "step", "generator", "discriminator")


def save(state: dict[str, Any], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            torch.save({"format_version": FORMAT_VERSION, **state}, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


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
