"""MNIST handwritten digits (LeCun, Cortes & Burges), from the original IDX files.

The package ships the official 10k test split (``gan_cli/assets/mnist``, CC BY-SA 3.0) so that
``gan train`` works offline. The 60k training split is used when its files are in
``<data.root>/mnist`` or can be downloaded there.
"""

from __future__ import annotations

import gzip
import logging
from pathlib import Path
from typing import Literal

import numpy as np

from gan_cli.datasets.base import Data, from_uint8, promises, square
from gan_cli.datasets.download import UnwritableFolder, official_files
from gan_cli.errors import GanError
from gan_cli.registry import DATASETS
from gan_cli.schema import PositiveInt

log = logging.getLogger(__name__)

BUNDLED = Path(__file__).resolve().parent.parent / "assets" / "mnist"
MIRRORS = [
    "https://ossci-datasets.s3.amazonaws.com/mnist/",
    "https://storage.googleapis.com/cvdf-datasets/mnist/",
]
# The official files' checksums (also in gan_cli/assets/mnist/README.md).
TRAIN_FILES = {
    "train-images-idx3-ubyte.gz": "f68b3c2dcbeaaa9fbdd348bbdeb94873",
    "train-labels-idx1-ubyte.gz": "d53e105ee54ea40749a09fcbcd1e9432",
}
TEST_FILES = {
    "t10k-images-idx3-ubyte.gz": "9fb629c4189551a2d022fa330f9573f3",
    "t10k-labels-idx1-ubyte.gz": "ec29112dd5afa0611ce80d1b7f02629c",
}
Split = Literal["auto", "train", "test"]


def read_idx(path: Path) -> np.ndarray:
    """Parse a (gzipped) IDX file: big-endian magic, dims as uint32, then uint8 data."""
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rb") as f:
            raw = f.read()
    except (OSError, EOFError) as err:
        raise GanError(f"cannot read {path}: {err}") from err
    if len(raw) < 4 or raw[:2] != b"\0\0" or raw[2] != 0x08:
        raise GanError(f"{path} is not an IDX file of unsigned bytes")
    ndim = raw[3]
    dims = tuple(int.from_bytes(raw[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim))
    data = np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim)
    if data.size != int(np.prod(dims)):
        raise GanError(f"{path} is truncated: expected {int(np.prod(dims))} values, found {data.size}")
    return data.reshape(dims)


def read_idx_pair(images_path: Path, labels_path: Path) -> tuple[np.ndarray, np.ndarray]:
    """N×1×H×W uint8 images and their N labels, from a pair of IDX files."""
    images, labels = read_idx(images_path), read_idx(labels_path)
    if images.ndim != 3 or labels.ndim != 1:
        raise GanError(f"{images_path} and {labels_path} are not an IDX image file and label file")
    if len(images) != len(labels):
        raise GanError(f"{images_path} and {labels_path} disagree on the number of samples")
    return images[:, None], labels


def load_idx_pair(images_path: Path, labels_path: Path, description: str, resolution: int) -> Data:
    images, labels = read_idx_pair(images_path, labels_path)
    return from_uint8(images, labels, resolution, num_classes=10, description=description)


@DATASETS.register("mnist")
@promises(lambda p: (square(1, p), 10))
def mnist(
    root: str,  # injected: the data directory (config key data.root)
    resolution: PositiveInt = 32,  # 28 is native; 32 pads by 2 pixels for power-of-two models
    download: bool = True,  # fetch the 60k training split when it is missing
    split: Split = "auto",  # "auto": train if available else bundled test; "train"; "test"
) -> Data:
    folder = Path(root).expanduser() / "mnist"
    if split != "test":
        try:
            train = official_files(folder, TRAIN_FILES, MIRRORS, download, "the MNIST training split")
        except UnwritableFolder as err:
            if split == "train":
                raise
            # The bundled split needs no writing, so an unwritable data root costs only the 60k.
            log.warning(
                "training on the bundled 10k MNIST test split: cannot write the data folder %s (%s) "
                "for the 60k training split; set GAN_DATA or data.root to a writable folder",
                err.folder,
                err.reason,
            )
        except GanError as err:
            if split == "train":
                raise
            log.debug("MNIST training split unavailable: %s", err)
            log.warning(
                "MNIST training split not found in %s and not downloadable: "
                "training on the bundled 10k test split",
                folder,
            )
        else:
            return load_idx_pair(*train, "MNIST train (60k)", resolution)
    return load_idx_pair(*(BUNDLED / name for name in TEST_FILES), "MNIST test (10k, bundled)", resolution)
