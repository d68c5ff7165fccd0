"""A data root that cannot be written (GAN_DATA read-only, or below a file): MNIST falls back to
its bundled split with one warning; datasets that must download into it say which folder and
what to do, in one line. Tests run as root, where chmod stops no write, so the unwritable root
here lies below a regular file (mkdir raises NotADirectoryError)."""

import logging
import os
import stat

import numpy as np
import pytest

from gan_cli.datasets import cifar10, fashion_mnist, mnist, stacked_mnist
from gan_cli.datasets.cache import cached_arrays
from gan_cli.datasets.download import fetch
from gan_cli.datasets.mnist import BUNDLED, TEST_FILES
from gan_cli.errors import GanError
from tests.conftest import TINY_CLI_RUN, run_gan


@pytest.fixture
def blocked_root(tmp_path):
    """A data root that cannot be created: its parent is a regular file."""
    (tmp_path / "a-file").write_text("the user's file, left alone")
    return tmp_path / "a-file" / "gan-data"


def test_mnist_falls_back_to_the_bundled_split_with_one_warning(blocked_root, caplog):
    caplog.set_level(logging.DEBUG)
    data = mnist.mnist(root=str(blocked_root), resolution=28)
    assert "bundled" in data.description and len(data) == 10_000
    warnings = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(warnings) == 1, warnings
    assert (
        f"cannot write the data folder {blocked_root / 'mnist'} ({blocked_root.parent} is a file)"
        in warnings[0]
    )
    assert "GAN_DATA" in warnings[0] and "bundled 10k MNIST test split" in warnings[0]
    # Stacked MNIST writes nothing itself: it draws from what mnist gives, fallback included.
    assert "bundled" in stacked_mnist.stacked_mnist(root=str(blocked_root), n=8, resolution=28).description
    with pytest.raises(GanError, match="cannot write the data folder"):
        mnist.mnist(root=str(blocked_root), split="train")
    assert (blocked_root.parent).read_text() == "the user's file, left alone"


@pytest.mark.parametrize("load", [fashion_mnist.fashion_mnist, cifar10.cifar10])
def test_datasets_that_download_name_the_folder_they_cannot_write(load, blocked_root):
    with pytest.raises(GanError) as err:
        load(root=str(blocked_root))
    message = str(err.value)
    assert "\n" not in message
    folder = blocked_root / load.__name__
    assert f"cannot write the data folder {folder} ({blocked_root.parent} is a file)" in message
    assert "GAN_DATA" in message and "data.root=" in message


def test_fetch_into_a_read_only_folder_is_one_line(tmp_path, monkeypatch):
    # As root, chmod stops nothing: stand in the error a read-only file system gives.
    def refuse(*args, **kwargs):
        raise OSError(30, "Read-only file system")

    monkeypatch.setattr("tempfile.TemporaryFile", refuse)
    with pytest.raises(GanError, match=r"cannot write the data folder .*\(Read-only file system\).*GAN_DATA"):
        fetch(["http://127.0.0.1:9/"], tmp_path / "x.gz", "0" * 32)


@pytest.mark.slow
def test_gan_train_with_an_unwritable_data_root(tmp_path):
    (tmp_path / "data").write_text("")  # run_gan sets GAN_DATA=<cwd>/data: here a file
    # The tiny CLI run, but allowed to reach for the data root (no dataset.download=false).
    tiny = [o for o in TINY_CLI_RUN if not o.startswith("dataset.download")] + ["train.steps=2"]
    result = run_gan("train", *tiny, cwd=tmp_path)
    output = result.stdout + result.stderr  # the run's log goes to stdout
    assert result.returncode == 0, output
    assert "Traceback" not in output
    assert output.count("WARNING") == 1 and output.count("cannot write the data folder") == 1, output
    assert "bundled 10k MNIST test split" in output
    refused = run_gan("train", *tiny, "dataset=fashion_mnist", cwd=tmp_path)
    assert refused.returncode == 2, refused.stderr
    assert "Traceback" not in refused.stderr + refused.stdout
    lines = refused.stderr.strip().splitlines()
    assert len(lines) == 1 and "cannot write the data folder" in lines[0] and "GAN_DATA" in lines[0], lines
    assert (tmp_path / "data").read_text() == ""


@pytest.fixture
def umask_022():
    previous = os.umask(0o022)
    yield
    os.umask(previous)


def test_cache_and_downloads_get_the_mode_the_umask_gives(tmp_path, umask_022):
    cache = tmp_path / "train.cache.npz"
    cached_arrays(cache, lambda: {"images": np.zeros((2, 1, 4, 4), np.uint8)})
    assert stat.S_IMODE(cache.stat().st_mode) == 0o644  # mkstemp alone gives 0600
    source = BUNDLED / "t10k-labels-idx1-ubyte.gz"
    fetch([source.as_uri()], tmp_path / "labels.gz", TEST_FILES[source.name])
    assert stat.S_IMODE((tmp_path / "labels.gz").stat().st_mode) == 0o644
    with pytest.raises(GanError, match="checksum mismatch"):
        fetch([source.as_uri()], tmp_path / "tampered.gz", "0" * 32)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["labels.gz", "train.cache.npz"]
