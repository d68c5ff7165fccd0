"""`gan sample` through the real command line: refusals come before any work and make nothing,
samples are generated and written in bounded batches, conditional models give what was asked,
and Ctrl-C leaves nothing behind."""

import io

import numpy as np
import pytest
import torch
from PIL import Image
from typer.testing import CliRunner

from gan_cli import sampling
from gan_cli.cli import app
from gan_cli.datasets.base import split_off
from gan_cli.errors import GanError
from gan_cli.images import image_grid, stream_grid, to_uint8
from gan_cli.training.loop import load_data, train
from tests.conftest import ctrl_c_once_started, tiny_config

runner = CliRunner()


def gan(*args):
    return runner.invoke(app, [str(a) for a in args])


def refused(result, *fragments):
    assert isinstance(result.exception, GanError), (result.exception, result.output)
    message = str(result.exception)
    assert "\n" not in message
    for fragment in fragments:
        assert fragment in message, message


def trained(tmp_path_factory, name, *overrides):
    tmp = tmp_path_factory.mktemp(name)
    train(tiny_config(tmp, *overrides), tmp / "run")
    return tmp / "run"


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """A 4-step DCGAN run folder (16×16 MNIST)."""
    return trained(tmp_path_factory, "dcgan")


@pytest.fixture(scope="module")
def conditional(tmp_path_factory):
    """A 4-step class-conditional DCGAN run folder (10 classes)."""
    return trained(tmp_path_factory, "cdcgan", "model=dcgan", "model.conditional=true")


@pytest.fixture(scope="module")
def stylegan(tmp_path_factory):
    return trained(tmp_path_factory, "stylegan", "model=stylegan", "trick=stylegan")


@pytest.fixture
def here(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.mark.parametrize(
    "args,fragments",
    [
        (["-o", "noext"], ["--format grid writes one PNG", "ending in .png"]),
        (["-o", "x.txt"], ["ending in .png"]),
        (["-f", "npz", "-o", "x.txt"], ["--format npz writes one .npz file", "ending in .npz"]),
        (["-f", "npz", "-o", "noext"], ["ending in .npz"]),
        (["-f", "png", "-o", "x.png"], ["--format png writes a folder of PNGs", "give a folder name"]),
        (["-o", "afile/x.png"], ["afile is a file, not a folder"]),
        (["-o", "mine.png"], ["mine.png already exists", "nothing was overwritten"]),
        (["-f", "png", "-o", "mydir"], ["mydir already exists"]),
        (["--truncation", "nan"], ["--truncation must be a positive number", "nan"]),
        (["--truncation", "inf"], ["--truncation must be a positive number", "inf"]),
        (["--truncation", "0"], ["--truncation must be a positive number"]),
        (["--truncation", "-0.5"], ["--truncation must be a positive number"]),
        (["--device", "tpu"], ["unknown device 'tpu'", "--device auto"]),
        (["-f", "jpg"], ["unknown format 'jpg'"]),
        (["--mix", "-f", "npz"], ["--mix writes one grid picture"]),
    ],
)
def test_bad_input_is_refused_before_the_checkpoint_is_loaded(run, here, monkeypatch, args, fragments):
    (here / "afile").write_text("mine")
    (here / "mine.png").write_bytes(b"my picture")
    (here / "mydir").mkdir()
    (here / "mydir" / "0.png").write_bytes(b"my first picture")
    before = sorted(p.relative_to(here) for p in here.rglob("*"))

    def no_loading(*_):
        raise AssertionError("the checkpoint was loaded before the refusal")

    monkeypatch.setattr(sampling, "load_run", no_loading)
    refused(gan("sample", "--ckpt", run, *args), *fragments)
    assert sorted(p.relative_to(here) for p in here.rglob("*")) == before  # nothing made
    assert (here / "mine.png").read_bytes() == b"my picture" and (here / "afile").read_text() == "mine"
    assert (here / "mydir" / "0.png").read_bytes() == b"my first picture"


def test_ckpt_takes_a_run_folder_or_its_checkpoints_folder(run, here):
    result = gan("sample", "--ckpt", run, "-n", "4")
    assert result.exit_code == 0, result.output
    assert (run / "samples" / "sample_n4_seed0.png").is_file()
    result = gan("sample", "--ckpt", run / "checkpoints", "-n", "4", "-o", "b.png")
    assert result.exit_code == 0, result.output
    with Image.open(run / "samples" / "sample_n4_seed0.png") as a, Image.open(here / "b.png") as b:
        assert np.array_equal(np.asarray(a), np.asarray(b))
    (here / "empty").mkdir()
    refused(gan("sample", "--ckpt", "empty"), "empty is a folder without checkpoints/last.pt", "run folder")
    refused(gan("sample", "--ckpt", "nowhere"), "checkpoint not found: nowhere")


def test_an_unavailable_device_names_the_option_of_the_command(run, here, monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    result = gan("sample", "--ckpt", run, "--device", "cuda")
    refused(result, "--device cuda requested but CUDA is not available (use --device cpu)")
    assert "device=" not in str(result.exception)


def test_npz_is_written_in_batches_and_equals_the_latents_drawn_at_once(run, here, monkeypatch):
    sizes = []
    generate = sampling.generate

    def counted(model, inputs, *args):
        sizes.append(len(inputs))
        return generate(model, inputs, *args)

    monkeypatch.setattr(sampling, "generate", counted)
    result = gan("sample", "--ckpt", run, "-n", "600", "-f", "npz", "-o", "s.npz", "--device", "cpu")
    assert result.exit_code == 0, result.output
    assert "wrote 600 samples to s.npz" in result.output
    assert max(sizes) <= sampling.BATCH and sum(sizes) == 1 + 600  # a probe of one, then batches
    images = np.load(here / "s.npz")["images"]
    assert images.shape == (600, 1, 16, 16) and images.dtype == np.float32
    parts, _ = sampling.load_run(run / "checkpoints" / "last.pt")
    inputs = sampling.seeded_inputs(parts, 600, 0)  # all at once
    for start in (0, 256, 512):
        expected = generate(parts.model, inputs.slice(start, start + 256))
        assert np.array_equal(images[start : start + 256], expected.numpy())
    assert not [p for p in here.iterdir() if p.name.startswith(".")]  # no temporary file left


def test_a_grid_is_streamed_row_by_row_pixel_for_pixel(run, here):
    result = gan("sample", "--ckpt", run, "-n", "300", "-o", "g.png", "--seed", "3", "--device", "cpu")
    assert result.exit_code == 0, result.output
    parts, _ = sampling.load_run(run / "checkpoints" / "last.pt")
    expected = image_grid(sampling.draw(parts, 300, 3, torch.device("cpu")), nrow=18)
    with Image.open(here / "g.png") as grid:
        assert grid.size == (2 + 18 * 18, 2 + 17 * 18) and grid.mode == "L"
        assert np.array_equal(np.asarray(grid), np.asarray(expected))


@pytest.mark.parametrize("channels,count,nrow", [(1, 7, 3), (3, 9, 3), (3, 1, 1), (1, 5, 5)])
def test_the_streamed_grid_is_the_grid_image_grid_draws(channels, count, nrow):
    images = torch.rand(count, channels, 5, 4) * 2 - 1
    f = io.BytesIO()
    stream_grid(f, images.split(2), count, nrow)
    f.seek(0)
    with Image.open(f) as streamed:
        assert np.array_equal(np.asarray(streamed), np.asarray(image_grid(images, nrow)))


def test_a_grid_too_large_to_open_is_refused_before_generating(run, stylegan, here, monkeypatch):
    calls = []
    generate = sampling.generate
    monkeypatch.setattr(sampling, "generate", lambda *a, **k: calls.append(1) or generate(*a, **k))
    result = gan("sample", "--ckpt", run, "-n", "100000000", "--device", "cpu")
    refused(
        result, "a grid of 100000000 images of 16×16 px would be 180002×180002 px", "65,535", "--format npz"
    )
    assert len(calls) <= 1  # the one-sample probe at most
    refused(gan("sample", "--ckpt", stylegan, "--mix", "-n", str(10**10)), "65,535")
    assert not (run / "samples" / "sample_n100000000_seed0.png").exists()
    assert not list((stylegan / "samples").glob("mix_*"))


def test_the_mixing_grid_is_generated_a_row_at_a_time(stylegan, here, monkeypatch):
    monkeypatch.setattr(sampling, "BATCH", 8)
    parts, _ = sampling.load_run(stylegan / "checkpoints" / "last.pt")
    mixes = []
    mix = type(parts.model).mix

    def counted(self, z_rows, z_cols, *args):
        mixes.append(len(z_rows) * len(z_cols))
        return mix(self, z_rows, z_cols, *args)

    monkeypatch.setattr(type(parts.model), "mix", counted)
    result = gan("sample", "--ckpt", stylegan, "--mix", "-n", "400", "-o", "mix.png", "--device", "cpu")
    assert result.exit_code == 0, result.output
    assert max(mixes) <= 8 and sum(mixes) == 20 * 20  # 20 rows × 20 columns, 8 at a time
    with Image.open(here / "mix.png") as grid:
        assert grid.size == (2 + 21 * 18,) * 2


def test_a_conditional_model_gives_exactly_n_samples(conditional, here):
    def npz(*args):
        out = f"c{len(list(here.iterdir()))}.npz"
        result = gan("sample", "--ckpt", conditional, "-f", "npz", "-o", out, *args)
        assert result.exit_code == 0, result.output
        return np.load(here / out)

    seven = npz("-n", "7")
    assert seven["images"].shape == (7, 1, 16, 16) and seven["labels"].tolist() == list(range(7))
    assert npz("-n", "13")["labels"].tolist() == [*range(10), 0, 1, 2]  # the classes in turn
    assert npz("-n", "20")["labels"].tolist() == [c for c in range(10) for _ in range(2)]
    threes = npz("-n", "5", "--label", "3")
    assert threes["images"].shape[0] == 5 and threes["labels"].tolist() == [3] * 5

    def grid_size(*args):
        out = f"g{len(list(here.iterdir()))}.png"
        assert gan("sample", "--ckpt", conditional, "-o", out, *args).exit_code == 0
        with Image.open(here / out) as grid:
            return grid.size

    assert grid_size("-n", "20") == (2 + 2 * 18, 2 + 10 * 18)  # one row per class
    assert grid_size("-n", "7") == (2 + 7 * 18, 2 + 18)  # one of each of the first 7 classes
    assert grid_size("-n", "13") == (2 + 10 * 18, 2 + 2 * 18)  # a column per class
    assert grid_size("-n", "9", "--label", "4") == (2 + 3 * 18, 2 + 3 * 18)
    refused(gan("sample", "--ckpt", conditional, "--label", "10"), "label 10 out of range")


def test_ctrl_c_while_writing_pngs_removes_the_partial_folder(run, here, monkeypatch):
    write = sampling.write_png_folder

    def interrupted(folder, samples, count):
        write(folder, [next(iter(samples))], 256)
        assert len(list(folder.iterdir())) == 256
        raise KeyboardInterrupt

    monkeypatch.setattr(sampling, "write_png_folder", interrupted)
    result = gan("sample", "--ckpt", run, "-n", "1000", "-f", "png", "-o", "pngs")
    assert result.exit_code == 130
    assert result.stderr.strip() == "error: interrupted; nothing was written"
    assert list(here.iterdir()) == []


@pytest.mark.slow
def test_sigint_to_a_real_gan_sample_exits_130_and_leaves_no_folder(run, tmp_path):
    """Ctrl-C while a real process writes thousands of PNGs: one line, exit 130, no folder."""
    args = ["--ckpt", str(run), "-n", "1000000", "-f", "png", "-o", "pngs", "--device", "cpu"]
    done = ctrl_c_once_started("sample", *args, cwd=tmp_path, started=".pngs.*/*.png")
    out, err = done.stdout, done.stderr
    assert done.returncode == 130, err
    assert err.strip() == "error: interrupted; nothing was written"
    assert "Traceback" not in out + err
    assert list(tmp_path.iterdir()) == []  # neither pngs/ nor its hidden temporary folder


@pytest.fixture(scope="module")
def limited(tmp_path_factory):
    """A 4-step DCGAN run folder trained on 50 digits (dataset.limit)."""
    return trained(tmp_path_factory, "limited", "dataset.limit=50")


def test_nearest_pairs_each_sample_with_the_closest_training_image(digits):
    train, held_out = split_off(digits, 200)
    samples = held_out.samples[:6]
    pairs = sampling.beside_nearest(samples, train)
    assert torch.equal(pairs[0::2], samples)
    closest = torch.cdist(samples.flatten(1), train.samples.flatten(1)).argmin(1)
    assert torch.equal(pairs[1::2], train.samples[closest])


def test_nearest_draws_the_partners_from_the_run_s_training_subset(limited, here):
    done = gan("sample", "--ckpt", limited, "--nearest", "-n", "8", "-o", "pairs.png")
    assert done.exit_code == 0 and "each beside its nearest training image" in done.output, done.output
    cfg = torch.load(limited / "checkpoints" / "last.pt", weights_only=False)["config"]
    train, _ = split_off(load_data(cfg), 50)
    subset = {bytes(image) for image in to_uint8(train.samples)}
    with Image.open("pairs.png") as grid:
        assert grid.size == (2 + 6 * 18, 2 + 3 * 18)  # 8 pairs, 3 to a row (as 8 samples would lie)
        cells = np.asarray(grid.convert("L"))
    partners = [cells[2 + 18 * (i // 6) :][:16, 2 + 18 * (i % 6) :][:, :16] for i in range(1, 16, 2)]
    assert all(bytes(p[..., None]) in subset for p in partners)
    refused(gan("sample", "--ckpt", limited, "--nearest", "-f", "npz"), "--nearest writes one grid picture")
    assert sorted(p.name for p in here.iterdir()) == ["pairs.png"]
