"""Fashion-MNIST and CIFAR-10 from tiny files in their original formats, served from file://
"mirrors": parsing, caching, checksum refusals, the offline message, and the unpickler that
only builds arrays. No network."""

import gzip
import io
import os
import pickle
import tarfile

import numpy as np
import pytest

from gan_cli.datasets import cifar10, fashion_mnist
from gan_cli.datasets.download import md5
from gan_cli.errors import GanError
from gan_cli.registry import DATASETS

UNREACHABLE = ["http://127.0.0.1:9/"]  # nothing listens on the discard port


def idx_gz(array: np.ndarray) -> bytes:
    """An IDX file of unsigned bytes, gzipped, as the official files are."""
    header = bytes([0, 0, 0x08, array.ndim]) + b"".join(d.to_bytes(4, "big") for d in array.shape)
    return gzip.compress(header + array.astype(np.uint8).tobytes())


def serve(folder, files: dict[str, bytes]) -> tuple[list[str], dict[str, str]]:
    """Write ``files`` into ``folder``: a mirror list pointing there and their checksums."""
    folder.mkdir(parents=True, exist_ok=True)
    for name, content in files.items():
        (folder / name).write_bytes(content)
    return [folder.as_uri() + "/"], {name: md5(folder / name) for name in files}


def tiny_fashion(tmp_path, monkeypatch) -> tuple[dict, dict]:
    """Tiny Fashion-MNIST files (5 train, 3 test images) behind a file:// mirror; returns the
    images and labels of each split."""
    rng = np.random.default_rng(0)
    images = {"train": rng.integers(0, 256, (5, 28, 28)), "test": rng.integers(0, 256, (3, 28, 28))}
    labels = {"train": np.array([0, 1, 2, 9, 4]), "test": np.array([7, 8, 9])}
    mirrors, checksums = serve(
        tmp_path / "server",
        {
            "train-images-idx3-ubyte.gz": idx_gz(images["train"]),
            "train-labels-idx1-ubyte.gz": idx_gz(labels["train"]),
            "t10k-images-idx3-ubyte.gz": idx_gz(images["test"]),
            "t10k-labels-idx1-ubyte.gz": idx_gz(labels["test"]),
        },
    )
    monkeypatch.setattr(fashion_mnist, "MIRRORS", mirrors)
    files = {split: {name: checksums[name] for name in names} for split, names in fashion_mnist.FILES.items()}
    monkeypatch.setattr(fashion_mnist, "FILES", files)
    return images, labels


@pytest.fixture
def fashion_server(tmp_path, monkeypatch):
    return tiny_fashion(tmp_path, monkeypatch)


def test_fashion_mnist_downloads_parses_and_caches(fashion_server, tmp_path, monkeypatch):
    images, labels = fashion_server
    root = tmp_path / "data"
    data = fashion_mnist.fashion_mnist(root=str(root), resolution=28)
    assert data.samples.shape == (5, 1, 28, 28) and data.num_classes == 10
    assert np.allclose(data.samples[:, 0].numpy(), images["train"] / 127.5 - 1.0, atol=1e-6)
    assert data.labels.tolist() == labels["train"].tolist() and data.classes[9] == "Ankle boot"
    folder = root / "fashion_mnist"
    assert (folder / "train.cache.npz").exists()
    # The cache alone serves the next load: the originals may go, the mirror may be down.
    for name in fashion_mnist.FILES["train"]:
        (folder / name).unlink()
    monkeypatch.setattr(fashion_mnist, "MIRRORS", UNREACHABLE)
    again = fashion_mnist.fashion_mnist(root=str(root), resolution=32)
    assert again.samples.shape == (5, 1, 32, 32)
    assert np.array_equal(again.samples[:, :, 2:30, 2:30].numpy(), data.samples.numpy())
    with pytest.raises(GanError, match="^dataset 'fashion_mnist': split must be train or test, got 'val'$"):
        DATASETS.build({"name": "fashion_mnist", "split": "val"}, root=str(root))


def test_fashion_mnist_test_split_and_files_put_there_by_hand(fashion_server, tmp_path, monkeypatch):
    images, labels = fashion_server
    root = tmp_path / "data"
    (root / "fashion_mnist").mkdir(parents=True)
    for name in fashion_mnist.FILES["test"]:
        (root / "fashion_mnist" / name).write_bytes((tmp_path / "server" / name).read_bytes())
    monkeypatch.setattr(fashion_mnist, "MIRRORS", UNREACHABLE)
    data = fashion_mnist.fashion_mnist(root=str(root), resolution=28, download=False, split="test")
    assert data.labels.tolist() == [7, 8, 9] and "test (3 images)" in data.description


@pytest.mark.parametrize(
    "load,files",
    [
        (fashion_mnist.fashion_mnist, "train-images-idx3-ubyte.gz, train-labels-idx1-ubyte.gz"),
        (cifar10.cifar10, "cifar-10-python.tar.gz"),
    ],
)
def test_offline_and_absent_is_one_line_saying_what_to_put_where(load, files, tmp_path, monkeypatch):
    module = fashion_mnist if load is fashion_mnist.fashion_mnist else cifar10
    monkeypatch.setattr(module, "MIRRORS", UNREACHABLE)
    folder = tmp_path / load.__name__
    with pytest.raises(GanError) as err:
        load(root=str(tmp_path))
    message = str(err.value)
    assert "\n" not in message
    assert f"is not in {folder} and could not be downloaded" in message
    assert f"download {files} from {UNREACHABLE[0]} and put" in message and "data.root" in message
    with pytest.raises(GanError, match="dataset.download=false; download"):
        load(root=str(tmp_path), download=False)
    assert not any(folder.iterdir())  # no partial downloads left behind


def test_tampered_files_are_refused_and_never_deleted(fashion_server, tmp_path):
    server = tmp_path / "server"
    name = "train-labels-idx1-ubyte.gz"
    original = (server / name).read_bytes()
    (server / name).write_bytes(original[:-1] + bytes([original[-1] ^ 1]))
    root = tmp_path / "data"
    with pytest.raises(GanError, match=f"checksum mismatch for {name}"):
        fashion_mnist.fashion_mnist(root=str(root))
    assert not (root / "fashion_mnist" / name).exists()
    # The same file put there by hand: refused, and left for its owner to delete.
    (root / "fashion_mnist" / name).write_bytes((server / name).read_bytes())
    with pytest.raises(GanError, match="does not match its published checksum") as err:
        fashion_mnist.fashion_mnist(root=str(root))
    assert "\n" not in str(err.value) and (root / "fashion_mnist" / name).exists()
    assert not (root / "fashion_mnist" / "train.cache.npz").exists()


def cifar_batch(images: np.ndarray, labels: list[int]) -> bytes:
    """A batch pickled the way the official files are: a dict of a uint8 N×3072 array and a label
    list, naming numpy's array reconstruction as ``numpy.core.multiarray``."""
    batch = {
        "batch_label": "tiny",
        "labels": labels,
        "data": images.reshape(len(images), -1),
        "filenames": [],
    }
    raw = pickle.dumps(batch, protocol=3)
    return raw.replace(b"numpy._core.multiarray", b"numpy.core.multiarray")


def tarball(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for name, content in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(content)
            tar.addfile(info, io.BytesIO(content))
    return buffer.getvalue()


@pytest.fixture
def cifar_images():
    """Two images per training batch, three in the test batch; N×3×32×32 uint8."""
    rng = np.random.default_rng(1)
    return {
        name: rng.integers(0, 256, (3 if name == "test_batch" else 2, 3, 32, 32), dtype=np.uint8)
        for name in (*cifar10.BATCHES["train"], "test_batch")
    }


def serve_cifar(tmp_path, monkeypatch, members: dict[str, bytes]) -> None:
    mirrors, checksums = serve(tmp_path / "server", {"cifar-10-python.tar.gz": tarball(members)})
    monkeypatch.setattr(cifar10, "MIRRORS", mirrors)
    monkeypatch.setattr(cifar10, "ARCHIVE", checksums)


def tiny_cifar(tmp_path, monkeypatch) -> None:
    """A CIFAR-10 tarball of one black image per batch behind a file:// mirror."""
    batch = cifar_batch(np.zeros((1, 3, 32, 32), np.uint8), [3])
    names = (*cifar10.BATCHES["train"], *cifar10.BATCHES["test"])
    serve_cifar(tmp_path, monkeypatch, {f"cifar-10-batches-py/{name}": batch for name in names})


# For tests that build every dataset: stand-ins for the official files, by dataset name.
TINY_OFFICIAL = {"fashion_mnist": tiny_fashion, "cifar10": tiny_cifar}


def test_cifar10_reads_the_python_batches_inside_the_tarball(cifar_images, tmp_path, monkeypatch):
    members = {
        f"cifar-10-batches-py/{name}": cifar_batch(images, [i % 10 for i in range(len(images))])
        for name, images in cifar_images.items()
    }
    # A crafted member name: read, never written anywhere, so it cannot escape the folder.
    members["../../escaped"] = b"x"
    serve_cifar(tmp_path, monkeypatch, members)
    root = tmp_path / "data" / "deep"
    train = cifar10.cifar10(root=str(root))
    assert train.samples.shape == (10, 3, 32, 32) and train.classes[0] == "airplane"
    expected = np.concatenate([cifar_images[name] for name in cifar10.BATCHES["train"]])
    assert np.allclose(train.samples.numpy(), expected / 127.5 - 1.0, atol=1e-6)  # R, G, B planes
    assert train.labels.tolist() == [0, 1] * 5
    test = cifar10.cifar10(root=str(root), split="test", resolution=16)
    assert test.samples.shape == (3, 3, 16, 16) and test.labels.tolist() == [0, 1, 2]
    folder = root / "cifar10"
    assert sorted(p.name for p in folder.iterdir()) == [
        "cifar-10-python.tar.gz",
        "test.cache.npz",
        "train.cache.npz",
    ]
    assert not (tmp_path / "data" / "escaped").exists() and not (tmp_path / "escaped").exists()
    (folder / "cifar-10-python.tar.gz").unlink()
    assert np.array_equal(cifar10.cifar10(root=str(root)).samples.numpy(), train.samples.numpy())


class RunsCode:
    def __reduce__(self):
        return (os.system, ("touch code-ran",))


@pytest.mark.parametrize(
    "batch,message",
    [
        (pickle.dumps({"data": RunsCode(), "labels": []}, protocol=2), r"asks to run (posix|os)\.system"),
        (pickle.dumps({"data": [1, 2], "labels": [0]}, protocol=2), "is not a CIFAR-10 batch"),
        (b"\x80\x02}q\x00(", "not a readable CIFAR-10 batch"),
    ],
)
def test_cifar10_refuses_pickles_that_are_not_batches(batch, message, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    serve_cifar(tmp_path, monkeypatch, {"cifar-10-batches-py/test_batch": batch})
    with pytest.raises(GanError, match=message) as err:
        cifar10.cifar10(root=str(tmp_path / "data"), split="test")
    assert "\n" not in str(err.value)
    assert not (tmp_path / "code-ran").exists()
    assert not (tmp_path / "data" / "cifar10" / "test.cache.npz").exists()


def test_cifar10_tarball_without_the_batches_is_refused(tmp_path, monkeypatch):
    serve_cifar(tmp_path, monkeypatch, {"cifar-10-batches-py/readme.html": b"hello"})
    with pytest.raises(GanError, match="has no data_batch_1, .*not the CIFAR-10 python tarball"):
        cifar10.cifar10(root=str(tmp_path / "data"))
