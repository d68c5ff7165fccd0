"""CIFAR-10: 60k 32×32 colour images in 10 classes (Krizhevsky 2009, "Learning Multiple Layers
of Features from Tiny Images", https://www.cs.toronto.edu/~kriz/cifar.html).

The official "python version" tarball is downloaded into ``<data.root>/cifar10`` on first use
(MD5 as published), its pickled batches read straight out of it, and the split cached there as
``<split>.cache.npz``. Nothing is extracted to disk, so no member name can write outside the
folder; and the pickles are read by an unpickler that builds numpy arrays and nothing else,
because unpickling an arbitrary file can run arbitrary code.
"""

from __future__ import annotations

import pickle
import tarfile
from pathlib import Path, PurePosixPath
from typing import IO, Literal

import numpy as np

from gan_cli.datasets.base import Data, labelled_split, promises, square
from gan_cli.datasets.cache import cached_arrays
from gan_cli.datasets.download import official_files, verify
from gan_cli.errors import GanError
from gan_cli.registry import DATASETS
from gan_cli.schema import PositiveInt

MIRRORS = ["https://www.cs.toronto.edu/~kriz/"]
ARCHIVE = {"cifar-10-python.tar.gz": "c58f30108f718f92721af3b95e74349a"}
BATCHES = {"train": tuple(f"data_batch_{i}" for i in range(1, 6)), "test": ("test_batch",)}
CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")
IMAGE_BYTES = 3 * 32 * 32  # one row of a batch's "data": the red, green, then blue 32×32 plane
# What a malformed pickle raises depends on where it breaks.
MALFORMED = (pickle.UnpicklingError, EOFError, ValueError, TypeError, AttributeError, IndexError, KeyError)


class BatchUnpickler(pickle.Unpickler):
    """Reads a CIFAR-10 batch (a dict of a uint8 array, a list of labels, names) and refuses any
    pickle that asks for something else: ``find_class`` is where a pickle names the callables
    it will run, and a batch needs only numpy's array reconstruction (named ``numpy.core`` by
    the original Python 2 files, ``numpy._core`` by numpy 2)."""

    ALLOWED = frozenset(
        {
            ("numpy.core.multiarray", "_reconstruct"),
            ("numpy._core.multiarray", "_reconstruct"),
            ("numpy", "ndarray"),
            ("numpy", "dtype"),
        }
    )

    def __init__(self, file: IO[bytes], source: str):
        # latin1 turns the Python 2 byte strings of the original files into numpy's raw data.
        super().__init__(file, encoding="latin1")
        self.source = source

    def find_class(self, module: str, name: str) -> object:
        if (module, name) not in self.ALLOWED:
            raise GanError(f"{self.source} asks to run {module}.{name}: not a CIFAR-10 batch, refused")
        return super().find_class(module, name)


def read_batch(file: IO[bytes], source: str) -> tuple[np.ndarray, np.ndarray]:
    """N×3×32×32 uint8 images and N labels from one pickled batch."""
    try:
        batch = BatchUnpickler(file, source).load()
    except MALFORMED as err:
        raise GanError(f"{source} is not a readable CIFAR-10 batch ({type(err).__name__}: {err})") from err
    data = batch.get("data") if isinstance(batch, dict) else None
    labels = batch.get("labels") if isinstance(batch, dict) else None
    if not (
        isinstance(data, np.ndarray)
        and data.dtype == np.uint8
        and data.ndim == 2
        and data.shape[1] == IMAGE_BYTES
        and isinstance(labels, list)
        and len(labels) == len(data)
    ):
        raise GanError(f"{source} is not a CIFAR-10 batch (no N×{IMAGE_BYTES} uint8 'data' with N 'labels')")
    return data.reshape(-1, 3, 32, 32), np.asarray(labels, dtype=np.int64)


def read_split(archive: Path, split: str) -> dict[str, np.ndarray]:
    """``images`` and ``labels`` of a split, read from the batches inside the tarball."""
    found = {}
    try:
        with tarfile.open(archive, "r:gz") as tar:
            for member in tar:
                name = PurePosixPath(member.name).name
                if member.isfile() and name in BATCHES[split]:
                    found[name] = read_batch(tar.extractfile(member), f"{archive.name}:{member.name}")
    except (tarfile.TarError, OSError, EOFError) as err:
        raise GanError(f"cannot read {archive}: {err}") from err
    missing = [name for name in BATCHES[split] if name not in found]
    if missing:
        raise GanError(f"{archive} has no {', '.join(missing)}: not the CIFAR-10 python tarball")
    images, labels = zip(*(found[name] for name in BATCHES[split]))
    return {"images": np.concatenate(images), "labels": np.concatenate(labels)}


def load_split(folder: Path, split: str, download: bool) -> dict[str, np.ndarray]:
    """``images`` N×3×32×32 and ``labels`` of one split, from the cache or the official tarball."""

    def parse() -> dict[str, np.ndarray]:
        (archive,) = official_files(folder, ARCHIVE, MIRRORS, download, "CIFAR-10")
        verify(archive, ARCHIVE[archive.name])
        return read_split(archive, split)

    return cached_arrays(folder / f"{split}.cache.npz", parse)


@DATASETS.register("cifar10")
@promises(lambda p: (square(3, p), 10))
def cifar10(
    root: str,  # injected: the data directory (config key data.root)
    resolution: PositiveInt = 32,  # 32 is native; other sizes are resized with antialiasing
    download: bool = True,  # fetch the official tarball when it is missing
    split: Literal["train", "test"] = "train",  # train (50k) or test (10k)
) -> Data:
    arrays = load_split(Path(root).expanduser() / "cifar10", split, download)
    return labelled_split(arrays, resolution, CLASSES, f"CIFAR-10 {split}")
