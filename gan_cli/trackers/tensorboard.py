"""TensorBoard logging of a run: the metrics.jsonl scalars and the fixed-latent sample grids.

Optional (``pip install 'gan-cli[tensorboard]'``), switched on with ``log.tensorboard=true``;
events go to ``<run dir>/tensorboard``, so ``tensorboard --logdir outputs`` shows every run.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
from PIL import Image

from gan_cli.errors import GanError


class TensorBoardLog:
    def __init__(self, run_dir: Path):
        try:
            from torch.utils.tensorboard import SummaryWriter
        except ImportError as err:
            raise GanError(
                "log.tensorboard=true needs the tensorboard package: pip install 'gan-cli[tensorboard]'"
            ) from err
        self.writer = SummaryWriter(log_dir=str(Path(run_dir) / "tensorboard"))

    def scalars(self, step: int, record: dict) -> None:
        """Every finite number of a metrics record (losses, D outputs, grad norms, metrics)."""
        for key, value in record.items():
            if key != "step" and isinstance(value, (int, float)) and not isinstance(value, bool):
                if math.isfinite(value):
                    self.writer.add_scalar(key, value, step)

    def picture(self, step: int, tag: str, picture: Image.Image) -> None:
        """A sample grid (or scatter plot), the picture the run folder's PNG shows."""
        self.writer.add_image(tag, np.atleast_3d(np.asarray(picture)), step, dataformats="HWC")

    def close(self) -> None:
        self.writer.close()
