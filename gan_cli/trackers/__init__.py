"""Experiment trackers: where a run's records and sample grids go besides its own folder.

One module per tracker, each one class with the same three methods — ``scalars(step, record)``
(a metrics.jsonl record), ``picture(step, tag, image)`` (a sample grid) and ``close(status)`` —
switched on by its ``log.<name>`` key and installed as the gan-cli extra of that name. The run
folder (``gan_cli.training.run_folder``) sends them everything it writes; the loop never sees them.
"""

from __future__ import annotations

import contextlib
import importlib
import importlib.util
import logging
import math
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Literal, Protocol

from PIL import Image

from gan_cli.errors import GanError

log = logging.getLogger(__name__)

# How a run ended, for the trackers that keep it: finished, stopped by a signal (resumable),
# or failed on an error.
Status = Literal["finished", "stopped", "failed"]

# log.<key>: the tracker's class, and the module its package installs (checked before any work).
TRACKERS = {
    "tensorboard": ("gan_cli.trackers.tensorboard:TensorBoardTracker", "tensorboard"),
    "wandb": ("gan_cli.trackers.wandb:WandbTracker", "wandb"),
    "mlflow": ("gan_cli.trackers.mlflow:MlflowTracker", "mlflow"),
}
DEFAULT_PROJECT = "gan-cli"


class Tracker(Protocol):
    def scalars(self, step: int, record: dict[str, Any]) -> None: ...

    def picture(self, step: int, tag: str, picture: Image.Image) -> None: ...

    def close(self, status: Status) -> None: ...


def chosen(config: dict[str, Any]) -> list[str]:
    """The trackers ``config``'s ``log.*`` switches turn on."""
    return [name for name in TRACKERS if config["log"].get(name)]


def missing_package(name: str) -> GanError:
    return GanError(f"log.{name}=true needs the {name} package: pip install 'gan-cli[{name}]'")


def check(config: dict[str, Any]) -> None:
    """Every chosen tracker's package is installed: one line, before any folder or work."""
    for name in chosen(config):
        if importlib.util.find_spec(TRACKERS[name][1]) is None:
            raise missing_package(name)


def numbers(record: dict[str, Any]) -> Iterator[tuple[str, float]]:
    """The finite numbers of a metrics record but its step (losses, D outputs, metrics)."""
    for key, value in record.items():
        if key != "step" and isinstance(value, (int, float)) and not isinstance(value, bool):
            if math.isfinite(value):
                yield key, value


def flatten(config: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """Nested sections as dotted keys: ``{"train": {"steps": 4}}`` → ``{"train.steps": 4}``."""
    flat: dict[str, Any] = {}
    for key, value in config.items():
        if isinstance(value, dict) and value:
            flat.update(flatten(value, f"{prefix}{key}."))
        else:
            flat[f"{prefix}{key}"] = value
    return flat


def project(config: dict[str, Any], env: str) -> str:
    """``log.project``, else the tracker's own environment variable, else gan-cli."""
    return config["log"].get("project") or os.environ.get(env) or DEFAULT_PROJECT


def run_name(run_dir: Path) -> str:
    """The run folder as the user names it: relative to the working directory when inside it."""
    path = Path(run_dir).resolve()
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)


class Trackers:
    """The chosen trackers of one run. Opened at the first picture or record they are sent, so a
    run that fails while loading its data leaves no empty tracker run; closed once."""

    def __init__(self, run_dir: Path, config: dict[str, Any] | None):
        self.run_dir, self.config = run_dir, config
        self.names = chosen(config) if config is not None else []
        if config is not None:
            check(config)
        self.opened: list[Tracker] | None = None

    def _open(self) -> list[Tracker]:
        if self.opened is None:
            self.opened = []
            for name in self.names:
                module, cls = TRACKERS[name][0].split(":")
                try:
                    tracker = getattr(importlib.import_module(module), cls)
                    self.opened.append(tracker(self.run_dir, self.config))
                except BaseException:  # none left open behind the error
                    with contextlib.suppress(Exception):
                        self.close("failed")
                    raise
        return self.opened

    def scalars(self, step: int, record: dict[str, Any]) -> None:
        for tracker in self._open():
            tracker.scalars(step, record)

    def picture(self, step: int, tag: str, picture: Image.Image) -> None:
        for tracker in self._open():
            tracker.picture(step, tag, picture)

    def close(self, status: Status) -> None:
        """Close every opened tracker (each even if another fails; the first error is raised)."""
        opened, self.opened = self.opened or [], []
        error = None
        for tracker in opened:
            try:
                tracker.close(status)
            except Exception as err:  # the others still close
                error = error or err
        if error is not None:
            raise error
