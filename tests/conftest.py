"""Shared helpers: compose the real configs, shrunk to CPU-sized runs in a temporary folder."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from gan_cli.config import compose, resolve
from gan_cli.registry import MODELS, TRICKS

REPO = Path(__file__).resolve().parent.parent

# Each test process (and every gan process a test starts) uses one thread: the suite runs one
# process per core, and a fixed thread count keeps runs that are compared bit for bit from
# changing their share of the cores as other test processes come and go (gan_cli/training/threads.py).
os.environ["OMP_NUM_THREADS"] = "1"
torch.set_num_threads(1)

# A few seconds on a CPU: tiny networks, a handful of steps, every artefact written.
TINY = [
    "train.steps=4",
    "train.batch_size=8",
    "log.every=2",
    "log.progress=false",
    "sample.every=2",
    "sample.n=4",
    "checkpoint.every=2",
    "device=cpu",
    "metrics=none",
]
TINY_MODELS = {
    "dcgan": ["model.z_dim=8", "model.g_channels=4", "model.d_channels=4"],
    "mlp": ["model.z_dim=8", "model.hidden=16", "model.depth=1"],
    "r3gan": ["model.z_dim=8", "model.widths=[12,8,4]", "model.cardinality=[4,4,2]"],
    "cyclegan": ["model.g_channels=4", "model.g_blocks=1", "model.d_channels=4", "model.d_layers=2"],
    "pix2pix": ["model.g_channels=4", "model.g_depth=4", "model.d_channels=4", "model.d_layers=2"],
    "srgan": [
        "model.g_channels=4",
        "model.g_blocks=1",
        "model.d_channels=4",
        "model.d_dense=8",
        "model.content=l1",
    ],
    "cogan": ["model.z_dim=8", "model.g_channels=4", "model.d_channels=4"],
    "ssgan": ["model.z_dim=8", "model.g_widths=[16]", "model.d_widths=[16,8]", "dataset.labelled=20"],
    "sagan": [
        "model.z_dim=8",
        "model.g_channels=4",
        "model.d_channels=4",
        "model.max_multiplier=2",
        "model.attention_resolution=8",
    ],
    "biggan": [
        "model.z_dim=12",
        "model.shared_dim=4",
        "model.g_channels=4",
        "model.d_channels=4",
        "model.max_multiplier=2",
        "model.attention_resolution=8",
    ],
    "progan": [
        "model.z_dim=8",
        "model.channel_base=64",
        "model.channel_max=8",
        "model.fade_images=16",
        "model.stable_images=16",
    ],
    "stylegan": [
        "model.z_dim=8",
        "model.w_dim=8",
        "model.mapping_layers=2",
        "model.channel_base=64",
        "model.channel_max=8",
    ],
}
TINY_DATASETS = {
    "mnist": ["dataset.resolution=16", "dataset.download=false"],
    "ring8": ["dataset.n=512"],
    "grid25": ["dataset.n=512"],
    "mnist_domains": ["dataset.resolution=16", "dataset.download=false"],
    "stacked_mnist": ["dataset.resolution=16", "dataset.download=false", "dataset.n=512"],
}


def tiny_config(tmp_path: Path, *overrides: str) -> dict:
    """The resolved config for ``overrides``, shrunk to a CPU-sized run, data root in tmp."""
    chosen = dict(o.split("=", 1) for o in overrides if o.split("=")[0] in ("model", "dataset"))
    shrink = (
        TINY
        + TINY_MODELS.get(chosen.get("model", "dcgan"), [])
        + TINY_DATASETS.get(chosen.get("dataset", "mnist"), [])
    )
    return resolve(compose([*overrides, *shrink, f"data.root={tmp_path / 'data'}"]))


def split_and_whole_losses(tmp_path: Path, model: str, key: str) -> tuple[list, list]:
    """The loss records of a 6-step run of ``model`` and of a 3-step run resumed to 6 (one record
    a step: step, d_loss, g_loss and the family's own ``key``), for exact-resume tests."""
    import json

    from gan_cli.training import checkpoint
    from gan_cli.training.loop import train

    def config(steps: int) -> dict:
        cfg = tiny_config(tmp_path, f"model={model}", "checkpoint.every=3")
        cfg["train"]["steps"], cfg["log"]["every"] = steps, 1  # tiny_config's own values win over overrides
        return cfg

    train(config(6), tmp_path / "whole")
    train(config(3), tmp_path / "split")
    train(
        config(6), tmp_path / "split", resume=checkpoint.load(tmp_path / "split" / "checkpoints" / "last.pt")
    )

    def losses(run: Path) -> list:
        records = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
        return [(r["step"], r["d_loss"], r["g_loss"], r[key]) for r in records if "g_loss" in r]

    return losses(tmp_path / "split"), losses(tmp_path / "whole")


@pytest.fixture(scope="module")
def root(tmp_path_factory):
    """A data folder of the test module's own (nothing downloaded: offline tests)."""
    return str(tmp_path_factory.mktemp("data"))


@pytest.fixture(scope="module")
def digits(root):
    """The bundled 10k MNIST split at resolution 32: the shipped classifier's data."""
    from gan_cli.datasets.mnist import mnist

    return mnist(root, resolution=32, download=False, split="test")


@pytest.fixture(autouse=True)
def _seeded():
    torch.manual_seed(0)


def run_gan(*args: str, cwd: Path, timeout: float = 240) -> subprocess.CompletedProcess:
    """The ``gan`` program as a user runs it, in its own process."""
    env = {**os.environ, "GAN_DATA": str(cwd / "data"), "COLUMNS": "200"}
    return subprocess.run(
        [sys.executable, "-m", "gan_cli", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def ctrl_c_once_started(
    *args: str, cwd: Path, started: str, timeout: float = 120
) -> subprocess.CompletedProcess:
    """``gan ARGS`` in its own process, sent Ctrl-C (SIGINT) once a path matching the glob
    ``started`` exists under ``cwd`` (the work is under way); returns what it did."""
    import signal
    import time

    env = {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1", "COLUMNS": "200"}
    process = subprocess.Popen(
        [sys.executable, "-m", "gan_cli", *args],
        cwd=cwd,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + timeout
        while not list(cwd.glob(started)):
            assert process.poll() is None, process.communicate()
            assert time.monotonic() < deadline, f"nothing matched {started} in {timeout} s"
            time.sleep(0.05)
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=60)
    finally:
        process.kill()
    return subprocess.CompletedProcess(process.args, process.returncode, out, err)


# The default DCGAN on MNIST, shrunk for a `gan train` subprocess.
TINY_CLI_RUN = [
    "device=cpu",
    "metrics=none",
    "model.z_dim=8",
    "model.g_channels=4",
    "model.d_channels=4",
    "dataset.resolution=16",
    "dataset.download=false",
    "train.batch_size=8",
]


def trick(name: str, **params):
    return TRICKS.build({"name": name, **params})


def tiny_mlp():
    return MODELS.build({"name": "mlp", "z_dim": 4, "hidden": 8, "depth": 1}, data_shape=(2,))


def tiny_dcgan(**params):
    return MODELS.build(
        {"name": "dcgan", "z_dim": 4, "g_channels": 4, "d_channels": 4, **params}, data_shape=(1, 16, 16)
    )


class Outcome:
    """What one in-process ``gan`` command did: exit code and its stdout/stderr."""

    def __init__(self, exit_code: int, out: str, err: str):
        self.exit_code, self.out, self.err = exit_code, out, err
        self.output = out + err


@pytest.fixture
def gan(capsys, monkeypatch):
    """``gan(*args)`` runs the ``gan`` program's entry point in this process, exactly as the
    console script does (error handling included), and returns its ``Outcome``."""
    from gan_cli import cli

    def run(*args: str) -> Outcome:
        capsys.readouterr()
        monkeypatch.setattr(sys, "argv", ["gan", *args])
        monkeypatch.setenv("COLUMNS", "200")
        try:
            cli.main()
            code = 0
        except SystemExit as exit_:
            code = exit_.code if isinstance(exit_.code, int) else (0 if exit_.code is None else 1)
        captured = capsys.readouterr()
        return Outcome(code, captured.out, captured.err)

    return run
