"""Training on a few images (``dataset.limit``) and watching D overfit (``log.d_monitor``)."""

import json

import pytest
import torch

from gan_cli.datasets.base import Data, split_off
from gan_cli.errors import GanError
from gan_cli.training.loop import Run, train
from tests.conftest import run_gan, tiny_config


def records(run_dir) -> list[dict]:
    return [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]


def test_the_subset_is_fixed_by_the_data_and_the_limit_alone():
    data = Data(torch.arange(20.0)[:, None], torch.arange(20) % 4, num_classes=4)
    train, held_out = split_off(data, 5)
    again, _ = split_off(data, 5)
    chosen, rest = train.samples[:, 0].long(), held_out.samples[:, 0].long()
    assert torch.equal(chosen, again.samples[:, 0].long())
    assert len(chosen) == 5 and sorted(chosen.tolist() + rest.tolist()) == list(range(20))
    assert torch.equal(train.labels, chosen % 4)  # labels follow their samples
    assert chosen.tolist() != list(range(5))  # a random choice, not the head of the data
    assert split_off(data, None) == (data, None)


def test_a_limit_that_holds_everything_back_is_refused():
    with pytest.raises(GanError, match="dataset.limit=20 leaves nothing held out"):
        split_off(Data(torch.zeros(20, 2)), 20)


@pytest.mark.parametrize("value", ["0", "-3", "2.5", "many"])
@pytest.mark.slow
def test_a_bad_limit_is_one_line_before_any_folder(tmp_path, value):
    result = run_gan("train", f"dataset.limit={value}", "train.steps=2", cwd=tmp_path)
    assert result.returncode == 2
    assert "dataset.limit must be an integer >= 1 or null" in result.stderr
    assert "Traceback" not in result.stderr + result.stdout
    assert not (tmp_path / "outputs").exists()


def test_a_limited_run_trains_on_its_subset_and_logs_d_on_each_group(tmp_path):
    cfg = tiny_config(tmp_path, "dataset.limit=24", "train.steps=4")
    run = Run(cfg, tmp_path / "probe")
    subset = run.train_data.samples.flatten(1)
    assert len(run.train_data) == 24 and len(run.held_out) == len(run.data) - 24
    for _ in range(3):
        drawn = run.batches().images.flatten(1)
        assert (torch.cdist(drawn, subset).min(1).values == 0).all()  # every image is one of the 24

    train(cfg, tmp_path / "run")
    logged = [r for r in records(tmp_path / "run") if "d_loss" in r]
    assert logged
    for record in logged:
        for group in ("train", "held_out", "fake"):
            assert -1 <= record[f"d_sign_{group}"] <= 1
            assert record[f"d_out_{group}"] == record[f"d_out_{group}"]  # finite, logged


def test_the_monitor_reports_d_on_the_same_fixed_reals(tmp_path):
    cfg = tiny_config(tmp_path, "model=mlp", "dataset=ring8", "dataset.limit=100")
    run = Run(cfg, tmp_path / "run")
    n = run.batches.batch_size
    with torch.no_grad():
        expected = run.model.discriminator(run.train_data.take(torch.arange(n)))
        held_out = run.model.discriminator(run.held_out.take(torch.arange(n)))
    first, second = run.monitor(), run.monitor()
    assert first == second
    assert first["d_out_train"] == pytest.approx(expected.mean().item(), rel=1e-5)
    assert first["d_sign_train"] == pytest.approx(expected.sign().mean().item())
    assert first["d_out_held_out"] == pytest.approx(held_out.mean().item(), rel=1e-5)


def test_without_a_limit_there_is_no_held_out_group(tmp_path):
    cfg = tiny_config(tmp_path, "model=mlp", "dataset=ring8")
    assert set(Run(cfg, tmp_path / "run").monitor()) == {
        "d_out_train",
        "d_sign_train",
        "d_out_fake",
        "d_sign_fake",
    }


def test_watching_d_does_not_change_training(tmp_path):
    """Augmenting tricks draw random numbers in D's input and batch norm updates its statistics
    in every forward pass: the monitor must leave both as they were."""
    finals = []
    for watched in ("true", "false"):
        cfg = tiny_config(
            tmp_path,
            "+trick.diffaugment.policy='color,translation'",
            f"log.d_monitor={watched}",
            "dataset.limit=40",
        )
        train(cfg, tmp_path / watched)
        finals.append(torch.load(tmp_path / watched / "checkpoints" / "last.pt", weights_only=False))
    for net in ("generator", "discriminator"):
        for (name, a), b in zip(finals[0][net].items(), finals[1][net].values()):
            assert torch.equal(a, b), f"{net}.{name}"
    assert "d_out_held_out" in records(tmp_path / "true")[0]
    assert "d_out_train" not in records(tmp_path / "false")[0]
