"""Never lose a run: exact resume, clean stops on signals, NaN guards, crash-safe checkpoints."""

import json
import random
import signal
import subprocess
import sys
import time

import pytest
import torch

from gan_cli.errors import GanError, Interrupted
from gan_cli.losses.non_saturating import NonSaturating
from gan_cli.training import checkpoint
from gan_cli.training.interrupts import StopSignals
from gan_cli.training.loop import train
from gan_cli.training.steps import AdversarialStep
from gan_cli.training.task import guarded, resume, start, with_overrides
from tests.conftest import TINY_CLI_RUN, run_gan, tiny_config

LOSS_KEYS = ("d_loss", "g_loss", "d_real", "d_fake")


def losses(run_dir):
    records = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    return [(r["step"], *(r[k] for k in LOSS_KEYS)) for r in records]


def signal_at(monkeypatch, stop_step: int, signum: int = signal.SIGTERM):
    """Make the training step send a real signal to this process at ``stop_step``."""
    original = AdversarialStep.__call__

    def step_then_signal(self, step, next_batch):
        scalars = original(self, step, next_batch)
        if step == stop_step:
            signal.raise_signal(signum)
        return scalars

    monkeypatch.setattr(AdversarialStep, "__call__", step_then_signal)


def test_signal_stop_then_resume_reproduces_the_uninterrupted_run_bit_for_bit(tmp_path, monkeypatch):
    cfg = tiny_config(tmp_path, "trick=ganhacks")
    cfg["train"]["steps"], cfg["log"]["every"], cfg["checkpoint"]["every"] = 9, 3, 100
    train(cfg, tmp_path / "whole")

    signal_at(monkeypatch, 4)  # mid-way between two metrics records
    with pytest.raises(Interrupted) as stop:
        train(cfg, tmp_path / "parts")
    assert stop.value.step == 4 and stop.value.signum == signal.SIGTERM
    monkeypatch.undo()
    assert checkpoint.load(tmp_path / "parts" / "checkpoints" / "last.pt")["step"] == 4
    resume(tmp_path / "parts", [])

    assert losses(tmp_path / "parts") == losses(tmp_path / "whole")
    whole = checkpoint.load(tmp_path / "whole" / "checkpoints" / "last.pt")
    parts = checkpoint.load(tmp_path / "parts" / "checkpoints" / "last.pt")
    for net in ("generator", "discriminator"):
        assert all(torch.equal(whole[net][k], parts[net][k]) for k in whole[net])


def test_resume_drops_records_written_after_its_checkpoint(tmp_path):
    cfg = tiny_config(tmp_path)
    cfg["train"]["steps"], cfg["log"]["every"], cfg["checkpoint"]["every"] = 6, 1, 3
    train(cfg, tmp_path / "run")
    # As if killed at step 6 before last.pt was updated: the newest checkpoint is step 3.
    (tmp_path / "run" / "checkpoints" / "last.pt").unlink()
    resume(tmp_path / "run" / "checkpoints" / "step_0000003.pt", [])
    assert [r[0] for r in losses(tmp_path / "run")] == [1, 2, 3, 4, 5, 6]


def test_finished_runs_and_foreign_overrides_are_refused(tmp_path):
    cfg = tiny_config(tmp_path)
    train(cfg, tmp_path / "run")
    with pytest.raises(GanError, match="nothing to do"):
        resume(tmp_path / "run", [])
    with pytest.raises(GanError, match="resume accepts overrides of"):
        resume(tmp_path / "run", ["model.z_dim=3"])
    with pytest.raises(GanError, match="train.steps must be an integer"):
        with_overrides(cfg, ["train.steps=many"])
    other = tiny_config(tmp_path, "model=mlp")
    other["resume"] = str(tmp_path / "run" / "checkpoints" / "last.pt")
    with pytest.raises(GanError, match="another model config"):
        start(other, tmp_path / "new")


def test_train_with_resume_continues_into_a_new_folder(tmp_path):
    cfg = tiny_config(tmp_path)
    train(cfg, tmp_path / "first")
    longer = dict(cfg, train=dict(cfg["train"], steps=6), resume=str(tmp_path / "first"))  # its last.pt
    start(longer, tmp_path / "second")
    assert [r[0] for r in losses(tmp_path / "second")] == [6]
    assert [r[0] for r in losses(tmp_path / "first")] == [2, 4]


def test_first_signal_asks_to_stop_second_ctrl_c_stops_at_once():
    before = signal.getsignal(signal.SIGINT)  # a background job's is SIG_IGN, not Python's default
    with StopSignals() as signals:
        signal.raise_signal(signal.SIGINT)
        assert signals.received == signal.SIGINT
        with pytest.raises(KeyboardInterrupt):
            signal.raise_signal(signal.SIGINT)
    assert signal.getsignal(signal.SIGINT) is before


def nan_from_call(monkeypatch, first_bad: int, last_bad: int):
    """The generator loss is NaN on calls first_bad..last_bad (1-based)."""
    calls = {"n": 0}
    original = NonSaturating.g_loss

    def g_loss(self, fake_out, real_out):
        calls["n"] += 1
        loss = original(self, fake_out, real_out)
        return loss * float("nan") if first_bad <= calls["n"] <= last_bad else loss

    monkeypatch.setattr(NonSaturating, "g_loss", g_loss)


def test_a_nan_loss_stops_the_run_and_keeps_the_last_good_checkpoint(tmp_path, monkeypatch):
    cfg = tiny_config(tmp_path)
    cfg["train"]["steps"], cfg["log"]["every"], cfg["checkpoint"]["every"] = 10, 3, 2
    nan_from_call(monkeypatch, 5, 10**9)
    with pytest.raises(
        GanError, match=r"non-finite g_loss at step 5; stopped \(last good checkpoint: .*last.pt\)"
    ):
        train(cfg, tmp_path / "run")
    state = checkpoint.load(tmp_path / "run" / "checkpoints" / "last.pt")
    assert state["step"] == 4
    assert all(torch.isfinite(v).all() for v in state["generator"].values())
    assert sorted(p.name for p in (tmp_path / "run" / "checkpoints").iterdir()) == [
        "last.pt",
        "step_0000002.pt",
        "step_0000004.pt",
    ]


def test_rollback_restores_the_last_checkpoint_and_lowers_the_learning_rate_once(tmp_path, monkeypatch):
    cfg = tiny_config(tmp_path)
    cfg["train"].update(steps=8, on_nan="rollback", nan_lr_factor=0.5)
    cfg["log"]["every"], cfg["checkpoint"]["every"] = 1, 2
    nan_from_call(monkeypatch, 5, 5)
    train(cfg, tmp_path / "run")
    assert [r[0] for r in losses(tmp_path / "run")] == list(range(1, 9))
    assert all(all(map(lambda x: x == x, r[1:])) for r in losses(tmp_path / "run"))
    state = checkpoint.load(tmp_path / "run" / "checkpoints" / "last.pt")
    assert state["g_optimizer"]["param_groups"][0]["lr"] == pytest.approx(cfg["train"]["lr_g"] * 0.5)

    nan_from_call(monkeypatch, 1, 10**9)
    with pytest.raises(GanError, match="non-finite g_loss at step 1; stopped .*none yet"):
        train(cfg, tmp_path / "early")


def test_rotation_keeps_the_newest_periodic_checkpoints_and_last(tmp_path):
    cfg = tiny_config(tmp_path)
    cfg["train"]["steps"], cfg["checkpoint"]["every"], cfg["checkpoint"]["keep"] = 5, 1, 2
    train(cfg, tmp_path / "run")
    names = sorted(p.name for p in (tmp_path / "run" / "checkpoints").iterdir())
    assert names == ["last.pt", "step_0000004.pt", "step_0000005.pt"]


def test_out_of_memory_is_one_line_suggesting_a_smaller_batch(capsys):
    def oom():
        raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")

    with pytest.raises(SystemExit) as exit_:
        guarded(oom)
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert "smaller train.batch_size" in err and len(err.strip().splitlines()) == 1


TINY_CLI = [*TINY_CLI_RUN, "log.every=1", "sample.every=1000", "checkpoint.every=1000"]


@pytest.mark.slow
def test_sigterm_to_a_real_gan_train_then_gan_resume(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    env_cwd = tmp_path / "a"
    proc = subprocess.Popen(
        [sys.executable, "-m", "gan_cli", "train", "train.steps=100000", *TINY_CLI],
        cwd=env_cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.time() + 120
    while time.time() < deadline:
        metrics = list(env_cwd.glob("outputs/*/*/metrics.jsonl"))
        if metrics and len(metrics[0].read_text().splitlines()) >= 3:
            break
        time.sleep(0.2)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 128 + signal.SIGTERM, err
    assert "stopped: SIGTERM at step" in err and "gan resume" in err and "Traceback" not in err
    (run,) = env_cwd.glob("outputs/*/*")
    stopped_at = checkpoint.load(run / "checkpoints" / "last.pt")["step"]

    result = run_gan("resume", str(run), f"train.steps={stopped_at + 3}", cwd=env_cwd)
    assert result.returncode == 0, result.stderr
    result = run_gan("train", f"train.steps={stopped_at + 3}", *TINY_CLI, cwd=tmp_path / "b")
    assert result.returncode == 0, result.stderr
    (whole,) = (tmp_path / "b").glob("outputs/*/*")
    assert losses(run) == losses(whole)
    assert (run / "train.log").read_text().count("resumed from step") == 1


WRITER = """
import sys, torch
from pathlib import Path
from gan_cli.training import checkpoint
state = {"config": {}, "data_shape": [1], "step": 0, "generator": {"w": torch.randn(4_000_000)}, "discriminator": {}}
while True:
    state["step"] += 1
    checkpoint.save(state, Path(sys.argv[1]))
    print(state["step"], flush=True)
"""


@pytest.mark.slow
def test_kill_9_while_writing_never_leaves_a_broken_checkpoint(tmp_path):
    path = tmp_path / "last.pt"
    rng = random.Random(0)
    for _ in range(6):
        proc = subprocess.Popen([sys.executable, "-c", WRITER, str(path)], stdout=subprocess.PIPE, text=True)
        proc.stdout.readline()  # at least one checkpoint is complete
        time.sleep(rng.uniform(0.0, 0.3))
        proc.kill()
        proc.wait()
        assert checkpoint.load(path)["step"] >= 1


@pytest.mark.slow
def test_ctrl_c_at_any_moment_of_start_up_is_one_line_and_exit_130(tmp_path):
    """Imports, config checks, data loading, model building: wherever Ctrl-C lands."""
    for delay in (0.8, 1.6, 2.4, 3.2, 4.0):
        proc = subprocess.Popen(
            [sys.executable, "-m", "gan_cli", "train", "train.steps=100000", *TINY_CLI],
            cwd=tmp_path,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        time.sleep(delay)
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=60)
        assert proc.returncode == 130, (delay, err)
        assert "Traceback" not in out + err, (delay, err)
        lines = err.strip().splitlines()
        assert len(lines) == 1 and ("interrupted" in lines[0] or "SIGINT at step" in lines[0]), (delay, err)


def test_importing_gan_cli_leaves_ctrl_c_to_the_importer():
    """Only the gan command answers Ctrl-C from its first line; a notebook importing the package
    keeps KeyboardInterrupt."""
    probe = "import signal; before = signal.getsignal(signal.SIGINT); import gan_cli; print(signal.getsignal(signal.SIGINT) is before)"
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "True"
