"""`gan eval`: a trained checkpoint's metrics, printed and written beside it, never overwritten."""

import json

import pytest
import typer
from typer.testing import CliRunner

from gan_cli.commands.evaluate import eval_command, evaluate_checkpoint
from gan_cli.config import compose, resolve
from gan_cli.errors import GanError
from gan_cli.training.loop import train
from tests.conftest import tiny_config


@pytest.fixture(scope="module")
def ckpt(tmp_path_factory):
    """A 4-step DCGAN on the bundled MNIST at resolution 32 (the shipped classifier's data)."""
    tmp = tmp_path_factory.mktemp("run")
    cfg = tiny_config(tmp, "eval.n=200")
    cfg["dataset"]["resolution"] = 32
    cfg["metrics"] = resolve(compose([]))["metrics"]  # the default set, whatever tiny_config chose
    train(cfg, tmp / "run")
    return tmp / "run" / "checkpoints" / "last.pt"


@pytest.mark.slow
def test_training_logs_the_default_metrics(ckpt):
    records = [json.loads(line) for line in (ckpt.parent.parent / "metrics.jsonl").read_text().splitlines()]
    assert any("fid_classifier" in r and "precision_classifier" in r for r in records)


def test_eval_writes_the_metrics_and_protocol_beside_the_checkpoint(ckpt):
    record = evaluate_checkpoint(ckpt, n=300, seed=3, device="cpu", ema=True, metrics=None)
    written = json.loads((ckpt.parent / "last.eval.json").read_text())
    assert written["metrics"] == record["metrics"]
    assert written["n"] == 300 and written["seed"] == 3 and written["step"] == 4
    assert written["ema"] is False  # the run kept no EMA generator
    assert written["dataset"].startswith("MNIST")
    assert written["metrics"]["fid_classifier"] > 0
    protocol = written["protocol"]["fid"]
    assert protocol["features"] == "classifier" and len(protocol["reference_key"]) == 16
    # The same latents give the same numbers; an earlier file is never overwritten.
    again = evaluate_checkpoint(ckpt, n=300, seed=3, device="cpu", ema=True, metrics=None)
    assert again["metrics"] == record["metrics"]
    assert again["written_to"].endswith("last.eval-2.json")
    assert json.loads((ckpt.parent / "last.eval.json").read_text()) == written


def test_eval_refuses_unknown_sets_and_missing_inception_weights_in_one_line(ckpt, monkeypatch, tmp_path):
    with pytest.raises(GanError, match="unknown metrics set 'incepton' \\(did you mean 'inception'"):
        evaluate_checkpoint(ckpt, n=10, seed=0, device="cpu", ema=True, metrics="incepton")
    monkeypatch.setattr("torch.hub.get_dir", lambda: str(tmp_path))
    with pytest.raises(GanError, match="Inception-v3 weights not found") as err:
        evaluate_checkpoint(ckpt, n=10, seed=0, device="cpu", ema=True, metrics="inception")
    assert "\n" not in str(err.value)


def test_the_eval_command_prints_a_table(ckpt):
    app = typer.Typer()
    app.command()(eval_command)
    app.command("other")(lambda: None)  # two commands: Typer then takes the command name
    result = CliRunner().invoke(app, ["eval-command", "--ckpt", str(ckpt), "-n", "100", "--device", "cpu"])
    assert result.exit_code == 0, result.output
    assert "fid_classifier" in result.output and "wrote" in result.output


def test_eval_takes_a_run_folder_and_speaks_of_evaluation_not_training(ckpt, monkeypatch):
    from gan_cli.cli import app

    args = ["eval", "--ckpt", str(ckpt.parent.parent), "-n", "20", "--metrics", "none", "--device", "cpu"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    said = result.stdout + result.stderr
    assert "evaluating against the bundled 10k test split" in result.stderr  # no 60k split in tmp
    assert "training" not in said.lower() and "last.eval" in said
    monkeypatch.setattr("torch.cuda.is_available", lambda: False)
    result = CliRunner().invoke(app, ["eval", "--ckpt", str(ckpt), "--device", "cuda"])
    assert isinstance(result.exception, GanError)
    assert str(result.exception) == "--device cuda requested but CUDA is not available (use --device cpu)"
