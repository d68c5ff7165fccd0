"""TensorBoard: the metrics.jsonl scalars, the fixed-latent sample grids and the config.

Optional (``pip install 'gan-cli[tensorboard]'``), switched on with ``log.tensorboard=true``;
events go to ``<run dir>/tensorboard``, so ``tensorboard --logdir outputs`` shows every run.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from omegaconf import OmegaConf
from PIL import Image

from gan_cli.trackers import Status, missing_package, numbers


class TensorBoardTracker:
    def __init__(self, run_dir: Path, config: dict[str, Any]):
        try:
            from torch.utils.tensorboard import SummaryWriter
        except ImportError as err:
            raise missing_package("tensorboard") from err
        self.writer = SummaryWriter(log_dir=str(Path(run_dir) / "tensorboard"))
        # TensorBoard's text tab renders Markdown: the resolved config as a YAML block.
        self.writer.add_text("config", f"```yaml\n{OmegaConf.to_yaml(config)}```", 0)

    def scalars(self, step: int, record: dict[str, Any]) -> None:
        """Every finite number of a metrics record (losses, D outputs, grad norms, metrics)."""
        for key, value in numbers(record):
            self.writer.add_scalar(key, value, step)

    def picture(self, step: int, tag: str, picture: Image.Image) -> None:
        """A sample grid (or scatter plot), the picture the run folder's PNG shows."""
        self.writer.add_image(tag, np.atleast_3d(np.asarray(picture)), step, dataformats="HWC")

    def close(self, status: Status) -> None:
        self.writer.close()
