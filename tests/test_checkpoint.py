"""Checkpoints: atomic, self-describing, and refused with one line when they are not ours."""

import os
import threading

import pytest
import torch

from gan_cli.errors import GanError
from gan_cli.registry import MODELS
from gan_cli.training import checkpoint


def minimal_state(**extra):
    model = MODELS.build({"name": "mlp", "z_dim": 2, "hidden": 4, "depth": 1}, data_shape=(2,))
    return {
        "config": {"model": {"name": "mlp"}},
        "data_shape": [2],
        "step": 7,
        "generator": model.generator.state_dict(),
        "discriminator": model.discriminator.state_dict(),
        **extra,
    }


def test_round_trip_keeps_tensors_and_adds_the_format_version(tmp_path):
    state = minimal_state()
    checkpoint.save(state, tmp_path / "c.pt")
    loaded = checkpoint.load(tmp_path / "c.pt")
    assert loaded["format_version"] == checkpoint.FORMAT_VERSION and loaded["step"] == 7
    assert all(torch.equal(loaded["generator"][k], v) for k, v in state["generator"].items())
    assert os.listdir(tmp_path) == ["c.pt"]  # no temporary file left behind


def test_a_failed_write_leaves_the_previous_checkpoint_intact(tmp_path):
    checkpoint.save(minimal_state(), tmp_path / "c.pt")
    with pytest.raises(TypeError, match="cannot pickle"):
        checkpoint.save(minimal_state(bad=threading.Lock()), tmp_path / "c.pt")
    assert checkpoint.load(tmp_path / "c.pt")["step"] == 7
    assert os.listdir(tmp_path) == ["c.pt"]


class Exploit:
    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def test_a_checkpoint_that_would_run_code_is_refused(tmp_path):
    Exploit.marker = tmp_path / "pwned"
    torch.save(minimal_state(payload=Exploit()), tmp_path / "evil.pt")
    with pytest.raises(GanError, match="refusing to load"):
        checkpoint.load(tmp_path / "evil.pt")
    assert not (tmp_path / "pwned").exists()


@pytest.mark.parametrize(
    "content,message",
    [
        (None, "not found"),
        (b"", "not a readable gan-cli checkpoint"),
        (b"hello world", "not a readable gan-cli checkpoint"),
    ],
)
def test_missing_or_garbage_files_are_refused(tmp_path, content, message):
    path = tmp_path / "x.pt"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(GanError, match=message):
        checkpoint.load(path)


def test_truncated_foreign_and_newer_checkpoints_are_refused(tmp_path):
    checkpoint.save(minimal_state(), tmp_path / "good.pt")
    data = (tmp_path / "good.pt").read_bytes()
    (tmp_path / "cut.pt").write_bytes(data[: len(data) // 2])
    with pytest.raises(GanError, match="truncated"):
        checkpoint.load(tmp_path / "cut.pt")
    torch.save({"state_dict": {}}, tmp_path / "foreign.pt")
    with pytest.raises(GanError, match="not a gan-cli checkpoint"):
        checkpoint.load(tmp_path / "foreign.pt")
    torch.save({**minimal_state(), "format_version": checkpoint.FORMAT_VERSION + 1}, tmp_path / "new.pt")
    with pytest.raises(GanError, match="upgrade gan-cli"):
        checkpoint.load(tmp_path / "new.pt")


def test_weights_of_another_model_are_named_as_such(tmp_path):
    other = MODELS.build({"name": "mlp", "z_dim": 3, "hidden": 4, "depth": 1}, data_shape=(2,))
    with pytest.raises(GanError, match="generator weights do not fit"):
        checkpoint.load_weights(other.generator, minimal_state()["generator"], "generator", "x.pt")
