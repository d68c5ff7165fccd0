"""Hyperparameters on a schedule: the shapes' values, where each value lands as training runs,
what is logged, and an interrupted run that resumes on the same schedule."""

import json
import math
import signal

import pytest
import torch

from gan_cli.errors import GanError, Interrupted
from gan_cli.training import checkpoint
from gan_cli.training.loop import train
from gan_cli.training.schedules import Schedule, Schedules
from gan_cli.training.task import resume
from tests.conftest import tiny_config
from tests.test_reliability import losses, signal_at


def values(schedule: Schedule, last: int) -> list[float]:
    return [schedule.value(step, last) for step in range(1, last + 1)]


def test_each_shape_goes_from_start_to_end_over_the_run():
    assert values(Schedule("constant", 3.0, 3.0), 4) == [3.0] * 4
    # Step s trains with the value after s - 1 steps done: the last step is not wasted at the end.
    assert values(Schedule("linear", 1.0, 0.0), 4) == pytest.approx([1.0, 0.75, 0.5, 0.25])
    cosine = values(Schedule("cosine", 1.0, 0.0), 4)
    assert cosine == pytest.approx(
        [1.0, (1 + math.cos(math.pi / 4)) / 2, 0.5, (1 + math.cos(3 * math.pi / 4)) / 2]
    )


def test_warm_up_then_hold_then_decay_until_a_step_and_stay():
    schedule = Schedule("linear", 2.0, 1.0, warmup=2, hold=1, until=5)
    # Warm-up to start by step 2; step 3 holds; the decay runs over steps 4-5 and ends at step 6.
    assert values(schedule, 8) == pytest.approx([1.0, 2.0, 2.0, 2.0, 1.5, 1.0, 1.0, 1.0])


def test_a_parameter_no_attribute_holds_is_refused():
    class Fixed:
        pass

    train_cfg = {
        "steps": 10,
        "lr_g": 1e-3,
        "lr_d": 1e-3,
        "betas": [0.5, 0.9],
        "lr_decay": "none",
        "lr_decay_start": 0.5,
    }
    with pytest.raises(GanError, match="trick.x.rate cannot follow a schedule: trick.x does not read 'rate'"):
        Schedules(train_cfg).attach("trick.x", {"rate": {"schedule": "linear", "start": 1.0}}, Fixed())


def records(run_dir) -> list[dict]:
    return [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]


def test_rates_betas_and_a_tricks_parameter_follow_their_schedules_and_are_logged(tmp_path):
    cfg = tiny_config(
        tmp_path,
        "model=mlp",
        "dataset=ring8",
        "metrics=none",
        "trick=sagan",  # TTUR's rates 1e-4 / 4e-4: a schedule scales them, it does not replace them
        "train.lr_g={schedule:cosine,start:2e-4,end:5e-5}",
        "train.betas=[0.0,{schedule:linear,start:0.9,end:0.99}]",
        "+trick.r1.gamma={schedule:linear,start:1.0,end:0.1,warmup:2}",
    )
    cfg["train"]["steps"], cfg["log"]["every"], cfg["checkpoint"]["every"] = 8, 4, 4
    train(cfg, tmp_path / "run")
    last = 8
    lr_g = Schedule("cosine", 2e-4, 5e-5)
    beta2 = Schedule("linear", 0.9, 0.99)
    gamma = Schedule("linear", 1.0, 0.1, warmup=2)
    logged = [r for r in records(tmp_path / "run") if "d_loss" in r]
    assert [r["step"] for r in logged] == [4, 8]
    for record in logged:
        step = record["step"]
        assert record["train.lr_g"] == pytest.approx(lr_g.value(step, last))
        assert record["train.betas.1"] == pytest.approx(beta2.value(step, last))
        assert record["trick.r1.gamma"] == pytest.approx(gamma.value(step, last))
        assert "train.lr_d" not in record  # a plain rate is not a schedule
        state = checkpoint.load(tmp_path / "run" / "checkpoints" / f"step_{step:07d}.pt")
        g_group, d_group = state["g_optimizer"]["param_groups"][0], state["d_optimizer"]["param_groups"][0]
        assert g_group["lr"] == pytest.approx(1e-4 * lr_g.value(step, last) / 2e-4)
        assert d_group["lr"] == pytest.approx(4e-4)
        assert g_group["betas"] == pytest.approx((0.0, beta2.value(step, last)))
        assert d_group["betas"] == pytest.approx((0.0, beta2.value(step, last)))


def test_an_interrupted_scheduled_run_resumes_on_the_same_schedule(tmp_path, monkeypatch):
    cfg = tiny_config(
        tmp_path,
        "model=mlp",
        "dataset=ring8",
        "metrics=none",
        "train.lr_d={schedule:cosine,start:1e-3,end:1e-5,warmup:2}",
        "+trick.r1.gamma={schedule:linear,start:1.0,end:0.0}",
    )
    cfg["train"]["steps"], cfg["log"]["every"], cfg["checkpoint"]["every"] = 9, 3, 100
    train(cfg, tmp_path / "whole")
    signal_at(monkeypatch, 4, signal.SIGTERM)
    with pytest.raises(Interrupted):
        train(cfg, tmp_path / "parts")
    monkeypatch.undo()
    resume(tmp_path / "parts", [])
    assert losses(tmp_path / "parts") == losses(tmp_path / "whole")
    whole = records(tmp_path / "whole")
    assert [r["trick.r1.gamma"] for r in records(tmp_path / "parts") if "trick.r1.gamma" in r] == [
        r["trick.r1.gamma"] for r in whole if "trick.r1.gamma" in r
    ]
    whole_d = checkpoint.load(tmp_path / "whole" / "checkpoints" / "last.pt")["discriminator"]
    parts_d = checkpoint.load(tmp_path / "parts" / "checkpoints" / "last.pt")["discriminator"]
    assert all(torch.equal(whole_d[k], parts_d[k]) for k in whole_d)
