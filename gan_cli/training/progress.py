"""The live training display: step, losses, D outputs, throughput, ETA."""

from __future__ import annotations

from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn


class TrainingProgress:
    """A rich progress bar whose text shows the latest logged scalars."""

    def __init__(self, total_steps: int, start_step: int = 0, enabled: bool = True):
        self._progress = Progress(
            TextColumn("[bold]train"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[stats]}"),
            TimeRemainingColumn(),
            disable=not enabled,
        )
        self._task = self._progress.add_task("train", total=total_steps, completed=start_step, stats="")

    def __enter__(self) -> TrainingProgress:
        self._progress.start()
        return self

    def __exit__(self, *exc) -> None:
        self._progress.stop()

    def update(self, step: int, record: dict[str, float]) -> None:
        stats = (
            f"D {record['d_loss']:.3f}  G {record['g_loss']:.3f}  "
            f"D(x) {record['d_real']:.3f}  D(G(z)) {record['d_fake']:.3f}  "
            f"{record['images_per_sec']:.0f} img/s"
        )
        self._progress.update(self._task, completed=step, stats=stats)
