"""Everything training writes into its run folder, in one place.

Only the main process writes (rank 0 of a torchrun job; the only process otherwise), so the
training loop calls these the same way on every rank. The records and sample grids also go to
the experiment trackers the ``log.*`` switches turn on (TensorBoard, W&B, MLflow:
``gan_cli.trackers``); the loop holds the folder in a ``with`` block, which closes them however
the run ends.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import torch

from gan_cli.animation import write_progress_gif
from gan_cli.errors import GanError, Interrupted
from gan_cli.files import atomic_write
from gan_cli.images import sample_picture
from gan_cli.trackers import Trackers
from gan_cli.training import checkpoint

log = logging.getLogger(__name__)


def read_records(path: Path) -> list[dict[str, Any]]:
    """The records of a ``metrics.jsonl``. A last line cut short (the process was killed while
    writing it) is dropped with a warning; a bad line before it means the file is not ours."""
    lines = path.read_text(errors="replace").splitlines()
    records = []
    for number, line in enumerate(lines, 1):
        try:
            record = json.loads(line)
        except ValueError:
            record = None
        if not isinstance(record, dict) or not isinstance(record.get("step"), int):
            if number == len(lines):
                log.warning("%s: dropped its last line, cut short by an interruption", path)
                break
            raise GanError(f"{path}, line {number}: not a metrics record")
        records.append(record)
    return records


class RunFolder:
    def __init__(self, path: Path, main: bool = True, config: dict[str, Any] | None = None):
        """``config``: the run's resolved config, whose ``log.*`` switches choose the trackers."""
        self.path, self.main = path, main
        self.samples, self.checkpoints = path / "samples", path / "checkpoints"
        self.metrics = path / "metrics.jsonl"
        self.trackers = Trackers(path, config if main else None)
        if main:
            path.mkdir(parents=True, exist_ok=True)

    def __enter__(self) -> RunFolder:
        return self

    def __exit__(self, kind: type[BaseException] | None, err: BaseException | None, tb: object) -> None:
        """Close the trackers, telling them how the run ended; a tracker that fails to close
        while the run is already stopping on an error is only a warning."""
        if kind is None:
            status = "finished"
        elif issubclass(kind, (Interrupted, KeyboardInterrupt)):
            status = "stopped"
        else:
            status = "failed"
        try:
            self.trackers.close(status)
        except Exception as close_err:
            if kind is None:
                raise
            log.warning("closing the experiment trackers failed: %s", close_err)

    def record(self, record: dict[str, Any]) -> None:
        """One line of metrics.jsonl."""
        if not self.main:
            return
        with open(self.metrics, "a") as f:
            f.write(json.dumps(record) + "\n")
        self.trackers.scalars(record["step"], record)

    def keep_records_until(self, step: int) -> None:
        """Drop records past ``step`` (written after the checkpoint a run resumes from), and a
        last line a kill cut short."""
        if not self.main or not self.metrics.exists():
            return
        kept = [json.dumps(r) + "\n" for r in read_records(self.metrics) if r["step"] <= step]
        with atomic_write(self.metrics) as f:
            f.write("".join(kept).encode())

    def picture(
        self,
        name: str,
        samples: torch.Tensor,
        reference: torch.Tensor | None = None,
        nrow: int | None = None,
        step: int | None = None,
    ) -> None:
        """``samples/<name>``: a grid of images or a scatter plot of points; with ``step``, also
        the trackers' picture of that step."""
        if not self.main:
            return
        picture = sample_picture(samples, reference, nrow)
        with atomic_write(self.samples / name, suffix=".png") as f:
            picture.save(f, format="PNG")
        if step is not None:
            self.trackers.picture(step, "samples", picture)

    def has_picture(self, name: str) -> bool:
        return (self.samples / name).exists()

    def checkpoint(self, state: dict[str, Any], periodic: bool, keep: int) -> None:
        """``last.pt`` and, when ``periodic``, ``step_XXXXXXX.pt`` (the newest ``keep`` kept)."""
        if not self.main:
            return
        if periodic:
            checkpoint.save(state, self.checkpoints / f"step_{state['step']:07d}.pt")
            checkpoint.rotate(self.checkpoints, keep)
        checkpoint.save(state, self.checkpoints / "last.pt")

    def finish(self) -> None:
        if not self.main:
            return
        write_progress_gif(self.samples, self.samples / "progress.gif")
