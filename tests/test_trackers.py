"""Experiment trackers (gan_cli/trackers/): what a tiny training run leaves in MLflow's file
store and in W&B's offline run, read back; how stopped runs are closed and resumed ones
continued; a missing package is one line before any folder. Nothing reaches the network."""

from __future__ import annotations

import builtins
import json
import signal
import struct
import sys

import pytest

from gan_cli.errors import GanError, Interrupted
from gan_cli.trackers import TRACKERS, Trackers
from gan_cli.training import checkpoint
from gan_cli.training import loop as training_loop
from gan_cli.training.loop import train
from gan_cli.training.run_folder import RunFolder
from tests.conftest import TINY_CLI_RUN, tiny_config


@pytest.fixture
def offline(tmp_path, monkeypatch):
    """W&B offline and quiet, its settings in tmp; MLflow's store in the run folder; both under
    the default project name. A W&B run a failed test left open is finished."""
    for key, value in {
        "WANDB_MODE": "offline",
        "WANDB_SILENT": "true",
        "WANDB_DISABLE_GIT": "true",
        "WANDB_DISABLE_CODE": "true",
        "WANDB_CONSOLE": "off",
        "WANDB__DISABLE_STATS": "true",
        "WANDB_CONFIG_DIR": str(tmp_path / "wandb-config"),
        "WANDB_CACHE_DIR": str(tmp_path / "wandb-cache"),
        "WANDB_DATA_DIR": str(tmp_path / "wandb-data"),
    }.items():
        monkeypatch.setenv(key, value)
    for key in (
        "WANDB_PROJECT",
        "WANDB_RUN_ID",
        "WANDB_RESUME",
        "MLFLOW_TRACKING_URI",
        "MLFLOW_EXPERIMENT_NAME",
    ):
        monkeypatch.delenv(key, raising=False)
    yield
    wandb = sys.modules.get("wandb")
    if wandb is not None and wandb.run is not None:
        wandb.finish(exit_code=1)


def mlflow_runs(run_dir):
    """The runs of the gan-cli experiment in ``run_dir/mlruns``, and the client to read them."""
    from mlflow.tracking import MlflowClient

    client = MlflowClient((run_dir / "mlruns").as_uri())
    experiment = client.get_experiment_by_name("gan-cli")
    return client, client.search_runs([experiment.experiment_id])


def wandb_records(path) -> list:
    """The records of a ``.wandb`` file: W&B's LevelDB-style log (a 7-byte header, 32 KiB
    blocks of chunks, each with a 7-byte header: CRC, length, kind) of protobuf ``Record``s."""
    from wandb.proto import wandb_internal_pb2

    data, block, pos = path.read_bytes(), 32768, 7
    assert data[:4] == b":W&B"
    records, parts = [], b""
    while pos + 7 <= len(data):
        if block - pos % block < 7:  # a block's tail too short for a chunk header is padding
            pos += block - pos % block
            continue
        _, length, kind = struct.unpack("<IHB", data[pos : pos + 7])
        chunk, pos = data[pos + 7 : pos + 7 + length], pos + 7 + length
        parts = chunk if kind in (1, 2) else parts + chunk  # full, first | middle, last
        if kind in (1, 4):
            record = wandb_internal_pb2.Record()
            record.ParseFromString(parts)
            records.append(record)
    return records


def wandb_run(run_dir, index: int = 0) -> dict:
    """One offline W&B run of ``run_dir`` (in start order): id, name, project, config, history
    (step → {key: value}), exit code. W&B's service process writes the file and closes it only
    after ``finish`` has returned; ``teardown`` waits for that, as the CLI's exit does."""
    import wandb

    wandb.teardown()
    folders = sorted((run_dir / "wandb").glob("offline-run-*"))
    records = wandb_records(next(folders[index].glob("run-*.wandb")))
    run = {"config": {}, "history": {}, "exit_code": None, "folder": folders[index]}
    for record in records:
        kind = record.WhichOneof("record_type")
        if kind == "run":
            run.update(id=record.run.run_id, name=record.run.display_name, project=record.run.project)
            run["config"].update({u.key: json.loads(u.value_json) for u in record.run.config.update})
        elif kind == "config":
            run["config"].update({u.key: json.loads(u.value_json) for u in record.config.update})
        elif kind == "history":
            items = {i.key or "/".join(i.nested_key): json.loads(i.value_json) for i in record.history.item}
            run["history"].setdefault(items["_step"], {}).update(items)
        elif kind == "exit":
            run["exit_code"] = record.exit.exit_code
    return run


@pytest.mark.slow
def test_mlflow_holds_the_config_every_record_and_the_grids_by_step(tmp_path, offline):
    run_dir = tmp_path / "run"
    train(tiny_config(tmp_path, "log.mlflow=true"), run_dir)
    client, runs = mlflow_runs(run_dir)
    (run,) = runs
    assert run.info.status == "FINISHED"
    assert run.info.run_name == str(run_dir)
    params = run.data.params
    assert params["train.steps"] == "4" and params["model.name"] == "dcgan"
    assert params["train.betas"] == "[0.5, 0.999]"
    records = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    history = client.get_metric_history(run.info.run_id, "d_loss")
    assert [(m.step, m.value) for m in history] == [(r["step"], r["d_loss"]) for r in records]
    assert [m.step for m in history] == [2, 4]
    assert {"g_loss", "d_real", "d_fake", "images_per_sec"} <= run.data.metrics.keys()
    images = [a.path for a in client.list_artifacts(run.info.run_id, "images") if a.path.endswith(".png")]
    assert sorted(int(p.split("+step+")[1].split("+")[0]) for p in images) == [0, 2, 4]
    assert all(p.startswith("images/samples+") for p in images)


@pytest.mark.slow
def test_wandb_offline_holds_the_config_every_record_and_the_grids_by_step(tmp_path, offline):
    run_dir = tmp_path / "run"
    train(tiny_config(tmp_path, "log.wandb=true"), run_dir)
    run = wandb_run(run_dir)
    assert run["project"] == "gan-cli" and run["name"] == str(run_dir)
    assert run["config"]["train"]["steps"] == 4  # nested, as the config is
    assert run["config"]["model"]["name"] == "dcgan"
    history = run["history"]
    records = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    assert [(s, h["d_loss"]) for s, h in sorted(history.items()) if "d_loss" in h] == [
        (r["step"], r["d_loss"]) for r in records
    ]
    grids = {s: h["samples/path"] for s, h in history.items() if "samples/path" in h}
    assert sorted(grids) == [0, 2, 4]
    assert all((run["folder"] / "files" / path).is_file() for path in grids.values())
    assert run["exit_code"] == 0


@pytest.mark.slow
def test_a_stopped_run_closes_its_trackers_and_gan_resume_continues_their_runs(
    tmp_path, offline, monkeypatch
):
    """Ctrl-C after the first record: the checkpoint, then MLflow's run KILLED and W&B's exit
    code 130; resumed in its folder, the same MLflow run (a changed setting as a tag) and the same
    W&B run id carry on to the end."""
    run_dir = tmp_path / "run"
    cfg = tiny_config(tmp_path, "log.mlflow=true", "log.wandb=true")  # train.steps=4
    original = RunFolder.record

    def record_then_ctrl_c(folder, record):
        original(folder, record)
        signal.raise_signal(signal.SIGINT)

    monkeypatch.setattr(training_loop.RunFolder, "record", record_then_ctrl_c)
    with pytest.raises(Interrupted):
        train(cfg, run_dir)
    monkeypatch.setattr(training_loop.RunFolder, "record", original)
    client, (stopped,) = mlflow_runs(run_dir)
    assert stopped.info.status == "KILLED"
    assert [m.step for m in client.get_metric_history(stopped.info.run_id, "d_loss")] == [2]
    assert wandb_run(run_dir)["exit_code"] == 130

    state = checkpoint.load(run_dir / "checkpoints" / "last.pt")
    train({**cfg, "train": {**cfg["train"], "steps": 6}}, run_dir, state)
    client, (resumed,) = mlflow_runs(run_dir)
    assert resumed.info.run_id == stopped.info.run_id and resumed.info.status == "FINISHED"
    assert [m.step for m in client.get_metric_history(resumed.info.run_id, "d_loss")] == [2, 4, 6]
    assert resumed.data.params["train.steps"] == "4" and resumed.data.tags["resumed.train.steps"] == "6"
    first, second = wandb_run(run_dir, 0), wandb_run(run_dir, 1)
    assert second["id"] == first["id"] and second["exit_code"] == 0
    assert second["config"]["train"]["steps"] == 6
    assert sorted(s for s, h in second["history"].items() if "d_loss" in h) == [4, 6]


def test_a_run_that_fails_marks_its_tracker_run_failed(tmp_path, offline):
    cfg = tiny_config(tmp_path, "log.mlflow=true")
    with pytest.raises(GanError), RunFolder(tmp_path / "run", config=cfg) as folder:
        folder.record({"step": 1, "d_loss": 0.5, "note": "x", "bad": float("nan")})
        raise GanError("non-finite loss")
    client, (run,) = mlflow_runs(tmp_path / "run")
    assert run.info.status == "FAILED"
    assert set(run.data.metrics) == {"d_loss"}  # numbers only, and finite


def test_trackers_open_at_the_first_record_and_only_on_the_main_process(tmp_path, offline):
    cfg = tiny_config(tmp_path, "log.mlflow=true")
    with RunFolder(tmp_path / "other", main=False, config=cfg) as folder:
        folder.record({"step": 1, "d_loss": 0.5})
    assert not (tmp_path / "other").exists()
    with RunFolder(tmp_path / "run", config=cfg) as folder:
        assert not (tmp_path / "run" / "mlruns").exists()  # nothing yet: data may still fail to load
        folder.record({"step": 1, "d_loss": 0.5})
        assert (tmp_path / "run" / "mlruns").is_dir()


# log.<name>=true and the module whose import fails when its package is missing.
IMPORTS = {"tensorboard": "torch.utils.tensorboard", "wandb": "wandb", "mlflow": "mlflow"}


@pytest.mark.parametrize("name", list(TRACKERS))
def test_a_missing_package_is_one_line_before_any_folder(name, gan, tmp_path, monkeypatch):
    import importlib.util

    real_find_spec = importlib.util.find_spec

    def not_installed(module, *args, **kwargs):
        return None if module == TRACKERS[name][1] else real_find_spec(module, *args, **kwargs)

    def no_training() -> None:
        raise AssertionError("the check passed and training was about to start")

    monkeypatch.setattr(importlib.util, "find_spec", not_installed)
    monkeypatch.setattr("gan_cli.training.task.main", no_training)
    monkeypatch.chdir(tmp_path)
    outcome = gan("train", f"log.{name}=true", *TINY_CLI_RUN)
    assert outcome.exit_code == 2, outcome.output
    assert outcome.err.strip().splitlines() == [
        f"error: log.{name}=true needs the {name} package: pip install 'gan-cli[{name}]'"
    ]
    assert not (tmp_path / "outputs").exists()


@pytest.mark.parametrize("name", list(TRACKERS))
def test_a_package_that_fails_to_import_is_the_same_line(name, tmp_path, offline, monkeypatch):
    """What ``gan resume`` (no up-front check: its folder exists) meets at its first record."""
    real_import = builtins.__import__

    def broken(module, *args, **kwargs):
        if module.startswith(IMPORTS[name]):
            raise ImportError(f"No module named '{module}'")
        return real_import(module, *args, **kwargs)

    trackers = Trackers(tmp_path, tiny_config(tmp_path, f"log.{name}=true"))
    monkeypatch.setattr(builtins, "__import__", broken)
    with pytest.raises(
        GanError, match=rf"^log\.{name}=true needs the {name} package: pip install 'gan-cli\[{name}\]'$"
    ):
        trackers.scalars(1, {"step": 1, "d_loss": 0.5})
