"""image_folder on real-world folders: mixed formats and modes, class sub-folders, non-square
images, corrupt files, random crops and flips, and streaming through DataLoader workers."""

import warnings
import zlib

import numpy as np
import pytest
import torch
from PIL import Image

from gan_cli.datasets import image_folder as module
from gan_cli.datasets.base import Data
from gan_cli.datasets.image_folder import image_folder
from gan_cli.datasets.streaming import StreamingData
from gan_cli.errors import GanError
from gan_cli.registry import DATASETS


def two_colour(width: int, height: int) -> Image.Image:
    """Left half red, right half blue: shows which part of an image was kept, and its side."""
    pixels = np.zeros((height, width, 3), np.uint8)
    pixels[:, : width // 2, 0] = 255
    pixels[:, width // 2 :, 2] = 255
    return Image.fromarray(pixels)


def grey(level: int, size: int = 12) -> Image.Image:
    return Image.new("L", (size, size), level)


@pytest.fixture
def mixed(tmp_path):
    """Two classes, one with a nested folder, every common format and mode, and junk."""
    for cls in ("cats", "dogs/puppies"):
        (tmp_path / cls).mkdir(parents=True)
    Image.new("RGB", (30, 20), (255, 0, 0)).save(tmp_path / "cats" / "1.jpg", quality=95)
    Image.new("RGBA", (16, 16), (0, 0, 0, 0)).save(tmp_path / "cats" / "2.png")  # fully transparent
    palette = Image.new("P", (16, 16), 0)
    palette.putpalette([0, 255, 0] * 256)
    palette.save(tmp_path / "cats" / "3.gif")
    Image.fromarray(np.full((16, 16), 65535 // 2, np.uint16)).save(tmp_path / "dogs" / "4.png")  # 16-bit
    grey(64).save(tmp_path / "dogs" / "puppies" / "5.webp", lossless=True)
    (tmp_path / "dogs" / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n not really")
    (tmp_path / "dogs" / "notes.txt").write_text("not an image")
    (tmp_path / ".thumbnails").mkdir()
    grey(0).save(tmp_path / ".thumbnails" / "hidden.png")
    return tmp_path


def test_mixed_formats_are_converted_the_same_way_and_junk_is_counted(mixed, caplog):
    data = image_folder(str(mixed), resolution=8)
    assert isinstance(data, Data) and data.samples.shape == (5, 3, 8, 8)
    assert data.classes == ("cats", "dogs") and data.labels.tolist() == [0, 0, 0, 1, 1]
    means = data.samples.mean(dim=(2, 3))
    assert means[0].tolist() == pytest.approx([1.0, -1.0, -1.0], abs=0.05)  # red JPEG
    assert means[1].tolist() == pytest.approx([1.0, 1.0, 1.0])  # transparent -> white
    assert means[2].tolist() == pytest.approx([-1.0, 1.0, -1.0])  # palette
    assert means[3].tolist() == pytest.approx([0.0, 0.0, 0.0], abs=0.01)  # 16-bit mid-grey
    assert means[4].tolist() == pytest.approx([64 / 127.5 - 1] * 3, abs=0.01)  # nested folder
    assert "skipped 1 unreadable image file(s)" in caplog.text
    assert "ignored 1 file(s) without an image extension" in caplog.text
    gray = image_folder(str(mixed), resolution=8, channels=1, labels="none")
    assert gray.samples.shape == (5, 1, 8, 8) and gray.labels is None and gray.num_classes == 0


def test_non_square_images_keep_their_centre(tmp_path):
    two_colour(40, 20).save(tmp_path / "wide.png")
    two_colour(20, 40).save(tmp_path / "tall.png")
    data = image_folder(str(tmp_path), resolution=8)
    tall, wide = data.samples  # sorted by name
    # wide: the centre 20x20 of 40x20 is half red, half blue; tall: the whole width survives.
    for image in (tall, wide):
        assert image[0, :, :3].mean() > 0.9 and image[2, :, 5:].mean() > 0.9
        assert image[0, :, 5:].mean() < -0.9 and image[2, :, :3].mean() < -0.9


def test_labels_only_from_two_or_more_class_folders_holding_every_image(tmp_path, caplog):
    (tmp_path / "only").mkdir()
    grey(10).save(tmp_path / "only" / "a.png")
    assert image_folder(str(tmp_path), resolution=8).labels is None  # one folder: no classes
    (tmp_path / "other").mkdir()
    grey(20).save(tmp_path / "other" / "b.png")
    assert image_folder(str(tmp_path), resolution=8).num_classes == 2
    grey(30).save(tmp_path / "loose.png")
    assert image_folder(str(tmp_path), resolution=8).labels is None
    assert "have no class folder" in caplog.text


def test_empty_or_unreadable_folders_and_bad_options_are_refused(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(GanError, match="no readable images in"):
        image_folder(str(tmp_path / "empty"))
    (tmp_path / "junk").mkdir()
    (tmp_path / "junk" / "a.jpg").write_bytes(b"\xff\xd8 truncated")
    for in_memory in (True, False):
        with pytest.raises(GanError, match="no readable images in"):
            image_folder(str(tmp_path / "junk"), in_memory=in_memory)
    for bad, message in [
        ({"crop": "corner"}, "crop must be center or random, got 'corner'"),
        ({"in_memory": "yes"}, "in_memory must be one of true, false, auto, got 'yes'"),
        ({"labels": "files"}, "labels must be auto or none, got 'files'"),
        ({"channels": 4}, "channels must be 1 or 3, got 4"),
    ]:
        with pytest.raises(GanError, match=f"^dataset 'image_folder': {message}$"):
            DATASETS.build({"name": "image_folder", "path": str(tmp_path / "empty"), **bad})


def test_random_crops_and_flips_are_drawn_per_batch_and_resume_exactly(tmp_path):
    two_colour(32, 32).save(tmp_path / "a.png")
    two_colour(32, 32).save(tmp_path / "b.png")
    data = image_folder(str(tmp_path), resolution=16, crop="random", flip=True)
    assert data.shape == (3, 16, 16) and data.samples.shape[-1] == 18
    assert data.head(2).shape == (2, 3, 16, 16)
    batches = data.batches(2, seed=0)
    drawn = [batches().images for _ in range(20)]
    assert all(b.shape == (2, 3, 16, 16) for b in drawn)
    red_left = torch.cat([b[:, 0, :, 0] for b in drawn]).mean(dim=1) > 0
    assert red_left.any() and not red_left.all()  # both orientations occur
    assert len({tuple(b[0, 0, 0].tolist()) for b in drawn}) > 1  # crops move
    state = batches.state_dict()
    ahead = [batches().images for _ in range(5)]
    batches.load_state_dict(state)
    assert all(torch.equal(a, batches().images) for a in ahead)


def write_greys(folder, levels) -> None:
    folder.mkdir(exist_ok=True)
    for i, level in enumerate(levels):
        grey(level).save(folder / f"{i:03d}.png")


def test_streaming_batches_cover_each_epoch_and_resume_exactly(tmp_path):
    levels = list(range(0, 250, 25))  # 10 images, each identified by its grey level
    write_greys(tmp_path / "greys", levels)
    data = image_folder(str(tmp_path / "greys"), resolution=8, channels=1, in_memory=False, workers=2)
    assert isinstance(data, StreamingData) and len(data) == 10 and data.shape == (1, 8, 8)
    assert data.head(3).shape == (3, 1, 8, 8)

    def seen(batch):
        return sorted(round((v + 1) * 127.5) for v in batch.mean(dim=(1, 2, 3)).tolist())

    batches = data.batches(5, seed=3)
    assert sorted(seen(batches().images) + seen(batches().images)) == levels  # one epoch: every image once
    batches()  # into the second epoch
    state = batches.state_dict()
    ahead = [batches().images for _ in range(4)]  # across the next epoch boundary
    resumed = data.batches(5, seed=3)
    resumed.load_state_dict(state)
    assert all(torch.equal(a, resumed().images) for a in ahead)


def test_streaming_replaces_images_that_fail_to_decode(tmp_path, caplog):
    write_greys(tmp_path, [100, 100, 100])
    # A PNG whose header reads fine but whose pixels are cut off: found only when decoded.
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (64, 64), np.uint8)).save(tmp_path / "cut.png")
    (tmp_path / "cut.png").write_bytes((tmp_path / "cut.png").read_bytes()[:120])
    data = image_folder(str(tmp_path), resolution=8, channels=1, in_memory=False, workers=0)
    assert len(data) == 4
    batches = data.batches(4, seed=0)
    batch = batches().images
    assert batch.shape == (4, 1, 8, 8)
    assert torch.allclose(batch, torch.full_like(batch, 100 / 127.5 - 1))
    assert "1 image(s) failed to decode, replaced by others" in caplog.text


def test_auto_streams_folders_too_large_for_memory(tmp_path, monkeypatch):
    write_greys(tmp_path, [0, 255])
    assert isinstance(image_folder(str(tmp_path), resolution=8), Data)
    monkeypatch.setattr(module, "AUTO_IN_MEMORY_BYTES", 8 * 8 * 3 * 4)
    assert isinstance(image_folder(str(tmp_path), resolution=8), StreamingData)
    assert isinstance(image_folder(str(tmp_path), resolution=8, in_memory=True), Data)


@pytest.mark.parametrize("in_memory", [True, False])
def test_batches_carry_the_labels_of_their_images(tmp_path, in_memory):
    write_greys(tmp_path / "dark", [0, 10, 20])
    write_greys(tmp_path / "light", [200, 210, 220])
    (tmp_path / "light" / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n broken")  # replaced when streamed
    data = image_folder(str(tmp_path), resolution=8, channels=1, in_memory=in_memory, workers=0)
    assert data.classes == ("dark", "light")
    batches = data.batches(3, seed=1)
    for _ in range(6):
        batch = batches()
        light = batch.images.mean(dim=(1, 2, 3)) > 0
        assert torch.equal(batch.labels, light.long())


def png_header(width: int, height: int) -> bytes:
    """A grayscale PNG that declares width×height pixels in a few dozen bytes: Pillow reads the
    size from the header, so the pixel limit applies before any pixel is decoded."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return len(data).to_bytes(4, "big") + kind + data + zlib.crc32(kind + data).to_bytes(4, "big")

    ihdr = width.to_bytes(4, "big") + height.to_bytes(4, "big") + bytes([8, 0, 0, 0, 0])
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", ihdr)
        + chunk(b"IDAT", zlib.compress(b"\0"))
        + chunk(b"IEND", b"")
    )


@pytest.mark.parametrize("in_memory", [True, False])
def test_images_over_the_pixel_limit_are_named_too_large_without_library_warnings(
    tmp_path, caplog, in_memory
):
    limit = Image.MAX_IMAGE_PIXELS
    grey(100).save(tmp_path / "fine.png")
    # Past the limit Pillow only warns; past twice the limit it raises: both are refused alike.
    (tmp_path / "warned.png").write_bytes(png_header(10_000, 10_000))
    (tmp_path / "bomb.png").write_bytes(png_header(20_000, 20_000))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        data = image_folder(str(tmp_path), resolution=8, channels=1, in_memory=in_memory, workers=0)
    assert not [str(w.message) for w in caught]
    assert len(data) == 1
    for name, side in (("bomb.png", 20_000), ("warned.png", 10_000)):
        assert f"{tmp_path / name}: image too large ({side}×{side} pixels, limit {limit})" in caplog.text
    assert "unreadable" not in caplog.text
    (tmp_path / "fine.png").unlink()
    with pytest.raises(GanError, match=r"no readable images in .*bomb.png: image too large"):
        image_folder(str(tmp_path), in_memory=in_memory, workers=0)


def test_the_pixel_limit_is_pillows_own(tmp_path, caplog, monkeypatch):
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 100)
    grey(0, size=10).save(tmp_path / "at-the-limit.png")
    grey(0, size=12).save(tmp_path / "over.png")
    grey(0, size=15).save(tmp_path / "over-twice.png")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        data = image_folder(str(tmp_path), resolution=8, channels=1, workers=0)
    assert len(data) == 1 and not caught
    assert "over.png: image too large (12×12 pixels, limit 100)" in caplog.text
    assert "over-twice.png: image too large (15×15 pixels, limit 100)" in caplog.text
    assert Image.MAX_IMAGE_PIXELS == 100  # put back after reading the sizes
