"""Training runs: the run folder's contents, learning that could fail, determinism."""

import json

import pytest
import torch

from gan_cli import sampling
from gan_cli.training import checkpoint
from gan_cli.training.loop import train
from tests.conftest import tiny_config


def test_smoke_run_writes_the_run_folder(tmp_path):
    cfg = tiny_config(tmp_path)
    run = tmp_path / "run"
    train(cfg, run)
    records = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in records] == [2, 4]
    for r in records:
        assert {"d_loss", "g_loss", "d_real", "d_fake", "images_per_sec", "elapsed_sec"} <= set(r)
        assert 0 < r["d_real"] < 1 and 0 < r["d_fake"] < 1  # probabilities for the ns loss
    names = sorted(p.name for p in (run / "samples").iterdir())
    assert names == [
        "final.png",
        "progress.gif",
        "reals.png",
        "step_0000000.png",
        "step_0000002.png",
        "step_0000004.png",
    ]
    assert sorted(p.name for p in (run / "checkpoints").iterdir()) == [
        "last.pt",
        "step_0000002.pt",
        "step_0000004.pt",
    ]
    state = checkpoint.load(run / "checkpoints" / "last.pt")
    assert state["step"] == 4 and state["config"] == cfg and state["data_shape"] == [1, 16, 16]
    assert {"g_optimizer", "d_optimizer", "rng", "batches", "tricks"} <= set(state)


def test_same_seed_same_run(tmp_path):
    cfg = tiny_config(tmp_path, "trick=ganhacks")
    train(cfg, tmp_path / "a")
    train(cfg, tmp_path / "b")
    assert (tmp_path / "a" / "metrics.jsonl").read_text().split('"images_per_sec"')[0] == (
        tmp_path / "b" / "metrics.jsonl"
    ).read_text().split('"images_per_sec"')[0]


def ring_distance(run_dir, name="last.pt"):
    """Median distance of 2000 samples from the ring of radius 2."""
    parts, _ = sampling.load_run(run_dir / "checkpoints" / name)
    points = sampling.draw(parts, 2000, seed=1, device=torch.device("cpu"))
    return (points.norm(dim=1) - 2.0).abs().median().item()


@pytest.mark.slow
def test_mlp_gan_learns_the_8_gaussian_ring(tmp_path):
    cfg = tiny_config(tmp_path, "+experiment=ring", "model=mlp", "dataset=ring8")
    cfg["model"].update(z_dim=16, hidden=128, depth=3)
    cfg["train"].update(steps=1000, batch_size=128)
    cfg["checkpoint"]["every"] = 1_000_000
    cfg["sample"].update(every=1_000_000, n=16)
    # The untrained generator puts its samples near the origin, far from the ring.
    untrained = dict(cfg, train=dict(cfg["train"], steps=1))
    train(untrained, tmp_path / "untrained")
    assert ring_distance(tmp_path / "untrained") > 1.0
    train(cfg, tmp_path / "run")
    assert ring_distance(tmp_path / "run") < 0.25


def test_linear_lr_decay_holds_then_falls_to_zero(tmp_path):
    cfg = tiny_config(tmp_path, "train.lr_decay=linear", "train.lr_decay_start=0.5")
    cfg["train"]["steps"], cfg["checkpoint"]["every"] = 8, 2
    train(cfg, tmp_path / "run")
    lrs = [
        checkpoint.load(tmp_path / "run" / "checkpoints" / f"step_{s:07d}.pt")["g_optimizer"]["param_groups"][
            0
        ]["lr"]
        for s in (4, 6, 8)
    ]
    # The rate each step trained with: held for 4 steps, then linearly to 0 after the last.
    base = cfg["train"]["lr_g"]
    assert lrs == pytest.approx([base, 0.75 * base, 0.25 * base])
