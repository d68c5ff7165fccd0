"""The Hydra task behind ``gan train``: Hydra owns run folders, sweeps and launchers.

``config_path`` is absolute because Hydra would resolve a relative one as a Python package.
"""

from __future__ import annotations

import sys
from pathlib import Path

import hydra
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig

from gan_cli.config import config_dir, resolve
from gan_cli.errors import GanError
from gan_cli.report_error import print_error


@hydra.main(config_path=str(config_dir()), config_name="config", version_base="1.3")
def main(cfg: DictConfig) -> None:
    from gan_cli.training_loop import train

    try:
        train(resolve(cfg), Path(HydraConfig.get().runtime.output_dir))
    except GanError as err:
        print_error(err)
        sys.exit(2)
