"""gan translate: a folder through a trained translator, never overwriting, one-line refusals."""

import numpy as np
import pytest
import torch
from PIL import Image

from gan_cli.commands.translate import translate
from gan_cli.datasets.image_folder import load_image
from gan_cli.errors import GanError
from gan_cli.sampling import load_run
from gan_cli.training.loop import train
from tests.conftest import run_gan, tiny_config


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """Checkpoints of a 2-step CycleGAN, pix2pix and DCGAN."""
    root = tmp_path_factory.mktemp("runs")
    paths = {}
    for model, extra in (
        ("cyclegan", []),
        ("pix2pix", ["dataset.paired=true"]),
        ("dcgan", ["dataset=mnist"]),
    ):
        dataset = [] if extra[:1] == ["dataset=mnist"] else ["dataset=mnist_domains"]
        cfg = tiny_config(root, f"model={model}", *dataset, *extra, "metrics=none", "train.steps=2")
        train(cfg, root / model)
        paths[model] = root / model / "checkpoints" / "last.pt"
    return paths


def digit_folder(folder, n=3):
    """Textured greys: a flat image leaves instance norm dividing by ~0, where batch size alone
    moves the output by whole grey levels."""
    folder.mkdir(parents=True)
    rng = np.random.default_rng(0)
    for i in range(n):
        Image.fromarray(rng.integers(0, 256, (28, 28), dtype=np.uint8)).save(folder / f"digit{i}.png")
    (folder / "sub").mkdir()
    Image.new("RGB", (40, 30), (200, 10, 10)).save(folder / "sub" / "wide.jpg")
    return folder


@pytest.mark.slow
def test_a_folder_is_translated_file_by_file_as_the_model_translates(runs, tmp_path):
    source = digit_folder(tmp_path / "in")
    written = translate(runs["cyclegan"], source, tmp_path / "out", "BtoA", "cpu", True, 0)
    names = sorted(p.relative_to(tmp_path / "out").as_posix() for p in written)
    assert names == ["digit0.png", "digit1.png", "digit2.png", "sub/wide.png"]
    parts, _ = load_run(runs["cyclegan"])
    x = torch.tensor(load_image(source / "digit2.png", 16, "L")).permute(2, 0, 1)[None].float() / 127.5 - 1
    with torch.no_grad():
        expected = ((parts.model.eval().translate(x, "BtoA").clamp(-1, 1) + 1) * 127.5).round()
    with Image.open(tmp_path / "out" / "digit2.png") as img:
        assert img.size == (16, 16)
        written_pixels = torch.tensor(np.asarray(img), dtype=torch.float32)
    # One grey level of slack: batched and single convolutions may round the last bit apart.
    assert (written_pixels - expected[0, 0]).abs().max() <= 1
    assert written_pixels.std() > 1  # an image, not a constant that would match anything


def test_an_existing_output_is_refused_before_anything_is_written(runs, tmp_path):
    source = digit_folder(tmp_path / "in")
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "digit1.png").write_bytes(b"mine")
    with pytest.raises(GanError, match="digit1.png already exists"):
        translate(runs["cyclegan"], source, tmp_path / "out", "AtoB", "cpu", True, 0)
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["digit1.png"]
    assert (tmp_path / "out" / "digit1.png").read_bytes() == b"mine"


@pytest.mark.parametrize(
    "model,direction,message",
    [
        ("cyclegan", "AtoC", "unknown direction 'AtoC'; valid: AtoB, BtoA"),
        ("pix2pix", "BtoA", "pix2pix translates AtoB only, not BtoA"),
        ("dcgan", "AtoB", "holds a dcgan model, which does not translate"),
    ],
)
def test_refusals_are_one_line(runs, tmp_path, model, direction, message):
    source = digit_folder(tmp_path / "in")
    with pytest.raises(GanError, match=message) as err:
        translate(runs[model], source, tmp_path / "out", direction, "cpu", True, 0)
    assert "\n" not in str(err.value) and not (tmp_path / "out").exists()


def test_an_unreadable_image_is_named(runs, tmp_path):
    source = digit_folder(tmp_path / "in")
    (source / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n broken")
    with pytest.raises(GanError, match="cannot read .*broken.png as an image"):
        translate(runs["pix2pix"], source, tmp_path / "out", "AtoB", "cpu", True, 0)
    assert not (tmp_path / "out").exists()


@pytest.mark.slow
def test_the_cli_translates_one_image_and_refuses_in_one_line(runs, tmp_path):
    source = digit_folder(tmp_path / "in")
    args = ["translate", "--ckpt", str(runs["pix2pix"]), "--input", str(source / "digit0.png"), "--out", "o"]
    ok = run_gan(*args, cwd=tmp_path)
    assert ok.returncode == 0, ok.stderr
    assert "translated 1 image(s) AtoB" in ok.stdout and (tmp_path / "o" / "digit0.png").is_file()
    again = run_gan(*args, cwd=tmp_path)  # the output exists now
    assert again.returncode == 2 and "already exists" in again.stderr
    assert "Traceback" not in again.stderr


def test_ckpt_takes_a_run_folder_and_a_bad_device_names_the_option(runs, tmp_path, monkeypatch):
    source = digit_folder(tmp_path / "in")
    run_folder = runs["cyclegan"].parent.parent
    written = translate(run_folder, source, tmp_path / "out", "AtoB", "cpu", True, 0)
    assert len(written) == 4
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(GanError) as err:
        translate(run_folder, source, tmp_path / "other", "AtoB", "cuda", True, 0)
    assert str(err.value) == "--device cuda requested but CUDA is not available (use --device cpu)"
    with pytest.raises(GanError, match="is a folder without checkpoints/last.pt"):
        translate(tmp_path / "in", source, tmp_path / "other", "AtoB", "cpu", True, 0)
    assert not (tmp_path / "other").exists()
