"""What the file-making commands share: output paths checked first and written whole or not at
all (``outputs``), devices refused in the words of the command (``devices``), ``--ckpt`` taking
a run folder (``checkpoint.resolve_path``), and ``gan bench --json`` checked before measuring."""

import json
from pathlib import Path

import pytest
import torch
from typer.testing import CliRunner

from gan_cli import outputs
from gan_cli.cli import app
from gan_cli.commands import bench
from gan_cli.errors import GanError
from gan_cli.training.checkpoint import resolve_path
from gan_cli.training.devices import OPTION, OVERRIDE, pick_device


def test_check_new_refuses_existing_paths_and_file_parents(tmp_path):
    (tmp_path / "file").write_text("mine")
    with pytest.raises(GanError, match="file already exists; choose another --out"):
        outputs.check_new(tmp_path / "file", "--out")
    with pytest.raises(GanError, match="file is a file, not a folder"):
        outputs.check_new(tmp_path / "file" / "deeper" / "x.png", "--out")
    outputs.check_new(tmp_path / "new" / "deeper" / "x.png", "--out")  # missing folders are made later
    assert sorted(p.name for p in tmp_path.iterdir()) == ["file"]
    with pytest.raises(GanError, match="--out x.txt: a PNG; give a name ending in .png"):
        outputs.check_suffix(Path("x.txt"), ".png", "--out", "a PNG")


def test_new_file_appears_whole_or_not_at_all(tmp_path):
    target = tmp_path / "a" / "b" / "out.bin"
    with pytest.raises(KeyboardInterrupt):
        with outputs.new_file(target) as f:
            f.write(b"half")
            raise KeyboardInterrupt
    assert list(tmp_path.iterdir()) == []  # neither the file, its temporary, nor the folders made
    with outputs.new_file(target) as f:
        f.write(b"whole")
    assert target.read_bytes() == b"whole" and [p.name for p in target.parent.iterdir()] == ["out.bin"]
    with pytest.raises(GanError, match="appeared while writing"):
        with outputs.new_file(target) as f:
            f.write(b"other")
    assert target.read_bytes() == b"whole"  # never written over


def test_new_folder_is_renamed_into_place_or_removed(tmp_path):
    with pytest.raises(KeyboardInterrupt):
        with outputs.new_folder(tmp_path / "pngs") as tmp:
            (tmp / "0.png").write_bytes(b"x")
            raise KeyboardInterrupt
    assert list(tmp_path.iterdir()) == []
    with outputs.new_folder(tmp_path / "pngs") as tmp:
        assert tmp.name.startswith(".pngs.")
        (tmp / "0.png").write_bytes(b"x")
    assert [p.name for p in tmp_path.iterdir()] == ["pngs"] and (tmp_path / "pngs" / "0.png").is_file()


@pytest.mark.parametrize("setting", [OVERRIDE, OPTION])
def test_device_refusals_name_the_setting_of_the_command(setting, monkeypatch):
    assert pick_device("cpu", setting) == torch.device("cpu")
    with pytest.raises(GanError, match=f"unknown device 'tpu' \\(use {setting}auto"):
        pick_device("tpu", setting)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert pick_device("auto", setting) == torch.device("cpu")
    with pytest.raises(GanError) as err:
        pick_device("cuda:1", setting)
    assert str(err.value) == f"{setting}cuda:1 requested but CUDA is not available (use {setting}cpu)"
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    with pytest.raises(GanError, match="has 2 CUDA device\\(s\\): use .*cuda:0 to .*cuda:1"):
        pick_device("cuda:2", setting)


def test_resolve_path_takes_a_file_a_run_folder_or_its_checkpoints_folder(tmp_path):
    ckpt = tmp_path / "run" / "checkpoints" / "last.pt"
    ckpt.parent.mkdir(parents=True)
    ckpt.write_bytes(b"weights")
    (tmp_path / "run" / "checkpoints" / "step_0000002.pt").write_bytes(b"older")
    assert resolve_path(ckpt) == ckpt
    assert resolve_path(tmp_path / "run") == ckpt
    assert resolve_path(tmp_path / "run" / "checkpoints") == ckpt
    step = tmp_path / "run" / "checkpoints" / "step_0000002.pt"
    assert resolve_path(step) == step
    with pytest.raises(GanError, match="is a folder without checkpoints/last.pt; give a checkpoint file"):
        resolve_path(tmp_path)
    with pytest.raises(GanError, match="checkpoint not found: .*nowhere \\(give a checkpoint file or a run"):
        resolve_path(tmp_path / "nowhere")


def test_bench_json_is_checked_before_measuring_and_written_at_the_end(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    measured = []
    result_of_a_run = {
        "images_per_sec": 10.0, "gflops_per_image": 1.0, "tflops_per_sec": 0.01, "steps_per_sec": 1.0,
        "peak_memory_mb": 1.0, "memory_kind": "process RSS", "device": "CPU", "spread": (9.0, 11.0),
    }  # fmt: skip
    monkeypatch.setattr(bench, "measure", lambda *args: measured.append(args) or result_of_a_run)
    (tmp_path / "afile").write_text("mine")
    (tmp_path / "old.json").write_text("{}")
    for path, message in (("afile/x.json", "afile is a file, not a folder"), ("old.json", "already exists")):
        result = CliRunner().invoke(app, ["bench", "--json", path])
        assert isinstance(result.exception, GanError) and message in str(result.exception)
    assert measured == [] and (tmp_path / "old.json").read_text() == "{}"
    result = CliRunner().invoke(app, ["bench", "--json", "nodir/x.json", "model=mlp"])
    assert result.exit_code == 0, result.output
    saved = json.loads((tmp_path / "nodir" / "x.json").read_text())
    assert saved["overrides"] == ["model=mlp"] and saved["results"]["as configured"]["images_per_sec"] == 10.0
