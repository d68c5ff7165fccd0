"""Everything training writes into its run folder, in one place.

Only the main process writes (rank 0 of a torchrun job; the only process otherwise), so the
training loop calls these the same way on every rank. With ``log.tensorboard`` the records and
sample grids also go to TensorBoard.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

import torch

from gan_cli import checkpoint
from gan_cli.animation import write_progress_gif
from gan_cli.images import sample_picture


class RunFolder:
    def __init__(self, path: Path, main: bool = True, tensorboard: bool = False):
        self.path, self.main = path, main
        self.samples, self.checkpoints = path / "samples", path / "checkpoints"
        self.metrics = path / "metrics.jsonl"
        self.board = None
        if main:
            path.mkdir(parents=True, exist_ok=True)
            if tensorboard:
                from gan_cli.tensorboard import TensorBoardLog

                self.board = TensorBoardLog(path)

    def record(self, record: dict[str, Any]) -> None:
        """One line of metrics.jsonl."""
        if not self.main:
            return
        with open(self.metrics, "a") as f:
            f.write(json.dumps(record) + "\n")
        if self.board is not None:
            self.board.scalars(record["step"], record)

    def keep_records_until(self, step: int) -> None:
        """Drop records past ``step`` (written after the checkpoint a run resumes from)."""
        if not self.main or not self.metrics.exists():
            return
        lines = [line for line in self.metrics.read_text().splitlines() if json.loads(line)["step"] <= step]
        fd, tmp = tempfile.mkstemp(dir=self.path, prefix=".metrics.", suffix=".tmp")
        with os.fdopen(fd, "w") as f:
            f.write("".join(line + "\n" for line in lines))
        os.replace(tmp, self.metrics)

    def picture(
        self,
        name: str,
        samples: torch.Tensor,
        reference: torch.Tensor | None = None,
        nrow: int | None = None,
        step: int | None = None,
    ) -> None:
        """``samples/<name>``: a grid of images or a scatter plot of points; with ``step``, also
        TensorBoard's picture of that step."""
        if not self.main:
            return
        picture = sample_picture(samples, reference, nrow)
        self.samples.mkdir(parents=True, exist_ok=True)
        picture.save(self.samples / name)
        if self.board is not None and step is not None:
            self.board.picture(step, "samples", picture)

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
        if self.board is not None:
            self.board.close()
