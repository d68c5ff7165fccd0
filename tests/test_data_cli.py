"""``gan data show`` and ``gan data download`` through Typer's runner, on the real configs."""

import subprocess
import sys

import pytest
from PIL import Image
from typer.testing import CliRunner

from gan_cli.commands.data import data_app
from gan_cli.datasets import cifar10
from gan_cli.errors import GanError
from tests.test_fashion_cifar import tiny_cifar

runner = CliRunner()


@pytest.fixture(autouse=True)
def _in_tmp(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("GAN_DATA", str(tmp_path / "data"))


def lines(output: str) -> dict[str, str]:
    """The "key  value" lines `gan data show` prints to stdout (warnings go to stderr)."""
    return dict(line.split(None, 1) for line in output.strip().splitlines())


def test_show_writes_a_grid_and_prints_what_the_model_will_see(tmp_path):
    for cls, colour in (("red", (255, 0, 0)), ("blue", (0, 0, 255))):
        (tmp_path / "pics" / cls).mkdir(parents=True)
        for i in range(3):
            Image.new("RGB", (20, 30), colour).save(tmp_path / "pics" / cls / f"{i}.png")
    args = ["show", "dataset=image_folder", f"dataset.path={tmp_path / 'pics'}", "dataset.resolution=16"]
    result = runner.invoke(data_app, [*args, "-n", "4"])
    assert result.exit_code == 0, result.output
    info = lines(result.stdout)
    assert info["count"] == "6" and info["shape"] == "3 x 16 x 16"
    assert info["range"] == "[-1.000, 1.000]" and info["classes"] == "2: blue (3), red (3)"
    grid = Image.open(tmp_path / "data_image_folder.png")
    assert grid.size == (2 + 2 * 18, 2 + 2 * 18)  # 4 images of 16 px, 2 px borders
    before = (tmp_path / "data_image_folder.png").read_bytes()
    again = runner.invoke(data_app, args)
    assert isinstance(again.exception, GanError) and "exists; choose another --out" in str(again.exception)
    assert (tmp_path / "data_image_folder.png").read_bytes() == before


def test_show_toy_points_as_a_scatter_and_mnist_classes(tmp_path):
    result = runner.invoke(data_app, ["show", "dataset=ring8", "dataset.n=300", "--out", "ring.png"])
    assert result.exit_code == 0, result.output
    assert lines(result.stdout)["shape"] == "2" and Image.open(tmp_path / "ring.png").size == (512, 512)
    result = runner.invoke(data_app, ["show", "dataset=mnist", "dataset.download=false", "-n", "9"])
    info = lines(result.stdout)
    assert info["count"] == "10000" and info["shape"] == "1 x 32 x 32"
    assert info["classes"].startswith("10: 0 (980), 1 (1135)")


def test_show_refuses_a_bad_override_in_one_line():
    result = runner.invoke(data_app, ["show", "dataset=cifar100"])
    assert isinstance(result.exception, GanError) and "did you mean 'cifar10'" in str(result.exception)


def test_download_fetches_ahead_or_says_what_to_fetch_by_hand(tmp_path, monkeypatch):
    monkeypatch.setattr(cifar10, "MIRRORS", ["http://127.0.0.1:9/"])
    # download=false in the config does not stop the command whose job is downloading.
    result = runner.invoke(data_app, ["download", "dataset=cifar10", "dataset.download=false"])
    message = str(result.exception)
    assert isinstance(result.exception, GanError) and "\n" not in message
    assert "could not be downloaded" in message
    assert "download cifar-10-python.tar.gz from http://127.0.0.1:9/ and put it there" in message
    tiny_cifar(tmp_path, monkeypatch)
    result = runner.invoke(data_app, ["download", "dataset=cifar10"])
    assert result.exit_code == 0, result.output
    assert "ready: CIFAR-10 train (5 images) in" in result.output
    assert (tmp_path / "data" / "cifar10" / "train.cache.npz").exists()
    assert runner.invoke(data_app, ["download", "dataset=ring8"]).output == "ring8 has nothing to download\n"


def test_importing_the_commands_does_not_import_torch():
    code = "import sys, gan_cli.commands.data; assert 'torch' not in sys.modules"
    assert subprocess.run([sys.executable, "-c", code]).returncode == 0


@pytest.mark.parametrize(
    "out,message",
    [
        ("noext", "--out noext: the grid is a PNG picture; give a name ending in .png"),
        ("x.txt", "give a name ending in .png"),
        ("afile/x.png", "afile is a file, not a folder"),
        ("afile", "give a name ending in .png"),
    ],
)
def test_show_checks_its_output_before_loading_anything(tmp_path, monkeypatch, out, message):
    from gan_cli.commands import data as data_cli

    (tmp_path / "afile").write_text("mine")
    before = sorted(tmp_path.rglob("*"))

    def no_loading(cfg):
        raise AssertionError("the data was loaded before the refusal")

    monkeypatch.setattr(data_cli, "load", no_loading)
    result = runner.invoke(data_app, ["show", "dataset=ring8", "--out", out])
    assert isinstance(result.exception, GanError) and message in str(result.exception)
    assert sorted(tmp_path.rglob("*")) == before and (tmp_path / "afile").read_text() == "mine"
