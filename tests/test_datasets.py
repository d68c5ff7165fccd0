"""Loading data: the bundled MNIST, IDX parsing, toy mixtures, image folders, batching."""

import gzip

import pytest
import torch
from PIL import Image

from gan_cli.datasets.base import Batches, Data, to_resolution
from gan_cli.datasets.download import fetch, md5
from gan_cli.datasets.mnist import BUNDLED, TEST_FILES, mnist, read_idx
from gan_cli.datasets.toy_mixtures import grid25, ring8
from gan_cli.errors import GanError
from gan_cli.registry import DATASETS


def test_bundled_mnist_is_the_official_test_split(tmp_path, caplog):
    assert {name: md5(BUNDLED / name) for name in TEST_FILES} == TEST_FILES
    data = mnist(root=str(tmp_path), resolution=28, download=False)
    assert data.samples.shape == (10_000, 1, 28, 28)
    assert data.samples.min() == -1.0 and data.samples.max() == 1.0
    assert torch.bincount(data.labels).tolist() == [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]
    assert "bundled 10k test split" in caplog.text


def test_mnist_uses_the_training_split_when_present(tmp_path):
    # Stand-in training files: the bundled ones copied under the training split's names.
    folder = tmp_path / "mnist"
    folder.mkdir()
    (folder / "train-images-idx3-ubyte.gz").write_bytes((BUNDLED / "t10k-images-idx3-ubyte.gz").read_bytes())
    (folder / "train-labels-idx1-ubyte.gz").write_bytes((BUNDLED / "t10k-labels-idx1-ubyte.gz").read_bytes())
    assert "train" in mnist(root=str(tmp_path), download=False).description
    with pytest.raises(GanError, match="not in"):
        mnist(root=str(tmp_path / "elsewhere"), download=False, split="train")


def test_padding_to_32_keeps_every_pixel(tmp_path):
    data28 = mnist(root=str(tmp_path), resolution=28, download=False, split="test")
    data32 = mnist(root=str(tmp_path), resolution=32, download=False, split="test")
    assert torch.equal(data32.samples[:, :, 2:30, 2:30], data28.samples)
    assert (data32.samples[:, :, :2] == -1).all()
    assert to_resolution(data28.samples[:2], 16).shape == (2, 1, 16, 16)


def test_truncated_idx_file_is_refused(tmp_path):
    raw = gzip.decompress((BUNDLED / "t10k-labels-idx1-ubyte.gz").read_bytes())
    (tmp_path / "cut.gz").write_bytes(gzip.compress(raw[:-10]))
    (tmp_path / "junk.gz").write_bytes(b"not gzip at all")
    with pytest.raises(GanError, match="truncated"):
        read_idx(tmp_path / "cut.gz")
    with pytest.raises(GanError, match="cannot read"):
        read_idx(tmp_path / "junk.gz")


@pytest.mark.parametrize("make,modes,spread", [(ring8, 8, 0.02), (grid25, 25, 0.05)])
def test_toy_mixtures_put_points_around_their_modes(make, modes, spread):
    data = make(n=20_000)
    assert data.samples.shape == (20_000, 2) and data.num_classes == modes
    counts = torch.bincount(data.labels, minlength=modes).float()
    assert counts.min() > 0.8 * counts.mean()
    if make is ring8:
        assert data.samples.norm(dim=1).sub(2.0).abs().max() < 6 * spread


def test_image_folder_reads_classes_skips_corrupt_files_and_refuses_empty(tmp_path, caplog):
    for cls, colour in (("cats", (255, 0, 0)), ("dogs", (0, 0, 255))):
        (tmp_path / cls).mkdir()
        Image.new("RGB", (40, 20), colour).save(tmp_path / cls / "a.png")
        Image.new("P", (20, 40)).save(tmp_path / cls / "b.gif")
    (tmp_path / "dogs" / "broken.jpg").write_bytes(b"\xff\xd8 not really a jpeg")
    (tmp_path / "notes.txt").write_text("ignored")
    data = DATASETS.build({"name": "image_folder", "path": str(tmp_path), "resolution": 8})
    assert data.samples.shape == (4, 3, 8, 8) and data.num_classes == 2
    assert data.labels.tolist() == [0, 0, 1, 1]
    assert data.samples[0, 0].mean() == pytest.approx(1.0) and data.samples[0, 2].mean() == pytest.approx(
        -1.0
    )
    assert "skipped 1 unreadable" in caplog.text
    (tmp_path / "empty").mkdir()
    with pytest.raises(GanError, match="no readable images"):
        DATASETS.build({"name": "image_folder", "path": str(tmp_path / "empty")})
    with pytest.raises(GanError, match="not found"):
        DATASETS.build({"name": "image_folder", "path": str(tmp_path / "missing")})


def test_batches_cover_each_epoch_once_and_resume_exactly():
    data = Data(torch.arange(10).float()[:, None])
    batches = Batches(data, 5, seed=1)
    epoch = torch.cat([batches().images, batches().images]).flatten()
    assert sorted(epoch.tolist()) == list(range(10))
    state = batches.state_dict()
    ahead = [batches().images for _ in range(3)]
    batches.load_state_dict(state)
    assert all(torch.equal(a, batches().images) for a in ahead)


def test_download_verifies_the_checksum_before_the_file_appears(tmp_path):
    source = BUNDLED / "t10k-labels-idx1-ubyte.gz"
    url = source.as_uri()
    fetch([url], tmp_path / "good.gz", TEST_FILES[source.name])
    assert md5(tmp_path / "good.gz") == TEST_FILES[source.name]
    with pytest.raises(GanError, match="checksum mismatch"):
        fetch([url], tmp_path / "tampered.gz", "0" * 32)
    with pytest.raises(GanError, match="could not download"):
        fetch(
            ["http://127.0.0.1:9/nothing-listens-here", (tmp_path / "absent").as_uri()],
            tmp_path / "x.gz",
            "0" * 32,
        )
    assert sorted(p.name for p in tmp_path.iterdir()) == ["good.gz"]  # no partial files
