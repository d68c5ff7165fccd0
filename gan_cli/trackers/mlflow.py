"""MLflow: the config as parameters, the metrics.jsonl records as metrics, the sample grids as
images, each by step.

Optional (``pip install 'gan-cli[mlflow]'``, the light mlflow-skinny client), switched on with
``log.mlflow=true``. Runs go to ``MLFLOW_TRACKING_URI`` when it is set, else to a file store in
``<run dir>/mlruns``. ``gan resume`` continues the MLflow run of its folder.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

from PIL import Image

from gan_cli.errors import GanError
from gan_cli.trackers import Status, flatten, missing_package, numbers, project, run_name

STATUSES = {"finished": "FINISHED", "stopped": "KILLED", "failed": "FAILED"}
RUN_DIR_TAG = "gan_cli.run_dir"  # finds the run again when its folder is resumed
BATCH = 100  # MLflow takes at most 100 parameters in one log_batch


class MlflowTracker:
    def __init__(self, run_dir: Path, config: dict[str, Any]):
        try:
            from mlflow import entities
            from mlflow.exceptions import MlflowException
            from mlflow.tracking import MlflowClient
        except ImportError as err:
            raise missing_package("mlflow") from err
        self.entities = entities
        uri = os.environ.get("MLFLOW_TRACKING_URI")
        if not uri:
            # MLflow 3 keeps its file store in maintenance mode and refuses it unless allowed; a
            # store of one run inside that run's folder is what it still suits.
            os.environ.setdefault("MLFLOW_ALLOW_FILE_STORE", "true")
            uri = (Path(run_dir).resolve() / "mlruns").as_uri()
        self.client = MlflowClient(uri)
        try:
            self.run_id = self._start(Path(run_dir).resolve(), config)
        except MlflowException as err:
            raise GanError(f"log.mlflow ({uri}): {str(err).strip().splitlines()[0]}") from err

    def _start(self, run_dir: Path, config: dict[str, Any]) -> str:
        """The id of the run this folder already has (gan resume), else of a new one; the
        config's parameters logged into it."""
        name = project(config, "MLFLOW_EXPERIMENT_NAME")
        experiment = self.client.get_experiment_by_name(name)
        experiment_id = experiment.experiment_id if experiment else self.client.create_experiment(name)
        found = self.client.search_runs(
            [experiment_id], filter_string=f"tags.`{RUN_DIR_TAG}` = '{run_dir}'", max_results=1
        )
        params = {key: str(value) for key, value in flatten(config).items()}
        if found:  # parameters cannot change: a resume's new values (train.steps=...) become tags
            run = found[0]
            self.client.update_run(run.info.run_id, status="RUNNING")
            for key, value in params.items():
                if run.data.params.get(key, value) != value:
                    self.client.set_tag(run.info.run_id, f"resumed.{key}", value)
            params = {k: v for k, v in params.items() if k not in run.data.params}
        else:
            run = self.client.create_run(
                experiment_id, run_name=run_name(run_dir), tags={RUN_DIR_TAG: str(run_dir)}
            )
        items = [self.entities.Param(key, value) for key, value in params.items()]
        for i in range(0, len(items), BATCH):
            self.client.log_batch(run.info.run_id, params=items[i : i + BATCH])
        return run.info.run_id

    def scalars(self, step: int, record: dict[str, Any]) -> None:
        now = int(time.time() * 1000)
        metrics = [self.entities.Metric(key, value, now, step) for key, value in numbers(record)]
        if metrics:
            self.client.log_batch(self.run_id, metrics=metrics)

    def picture(self, step: int, tag: str, picture: Image.Image) -> None:
        self.client.log_image(self.run_id, picture, key=tag, step=step)

    def close(self, status: Status) -> None:
        self.client.set_terminated(self.run_id, STATUSES[status])
