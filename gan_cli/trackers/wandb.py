"""Weights & Biases: the config, the metrics.jsonl records and the sample grids of a run.

Optional (``pip install 'gan-cli[wandb]'``), switched on with ``log.wandb=true``. The run's W&B
files live in ``<run dir>/wandb``; ``WANDB_MODE=offline`` keeps them there for a later
``wandb sync``. ``gan resume`` continues the W&B run the folder already has.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PIL import Image

from gan_cli.errors import GanError
from gan_cli.trackers import Status, missing_package, numbers, project, run_name

# wandb.finish's exit code per way a run ends: W&B marks a non-zero one as failed.
EXIT_CODES = {"finished": 0, "stopped": 130, "failed": 1}


def previous_id(run_dir: Path) -> str | None:
    """The id of the W&B run this folder already holds (``wandb/[offline-]run-DATE_TIME-ID``)."""
    runs = sorted((p.name.rsplit("-", 2)[-2:] for p in (run_dir / "wandb").glob("*run-*-*")), reverse=True)
    return runs[0][1] if runs else None


class WandbTracker:
    def __init__(self, run_dir: Path, config: dict[str, Any]):
        try:
            import wandb
        except ImportError as err:
            raise missing_package("wandb") from err
        self.wandb = wandb
        run_id = previous_id(run_dir)
        try:
            self.run = wandb.init(
                project=project(config, "WANDB_PROJECT"),
                name=run_name(run_dir),
                dir=str(run_dir),
                config=config,  # nested, as the run's .hydra/config.yaml
                id=run_id,
                resume="allow" if run_id else None,
                allow_val_change=True,  # a resumed run may change train.steps, log.*, ...
            )
        except wandb.errors.Error as err:
            raise GanError(f"log.wandb: {str(err).strip().splitlines()[0]}") from err

    def scalars(self, step: int, record: dict[str, Any]) -> None:
        self.run.log(dict(numbers(record)), step=step)

    def picture(self, step: int, tag: str, picture: Image.Image) -> None:
        self.run.log({tag: self.wandb.Image(picture)}, step=step)

    def close(self, status: Status) -> None:
        self.run.finish(exit_code=EXIT_CODES[status])
