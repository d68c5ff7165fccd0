"""Fashion-MNIST: 70k 28×28 grayscale Zalando article images in 10 classes, MNIST's drop-in
replacement (Xiao, Rasul & Vollgraf 2017, arXiv:1708.07747; MIT licence).

The official IDX files are downloaded into ``<data.root>/fashion_mnist`` on first use (their
MD5s as published in github.com/zalandoresearch/fashion-mnist), parsed once and cached there as
``<split>.cache.npz``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import numpy as np

from gan_cli.datasets.base import Data, labelled_split, promises, square
from gan_cli.datasets.cache import cached_arrays
from gan_cli.datasets.download import official_files, verify
from gan_cli.datasets.mnist import read_idx_pair
from gan_cli.registry import DATASETS
from gan_cli.schema import PositiveInt

MIRRORS = [
    "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
    "https://raw.githubusercontent.com/zalandoresearch/fashion-mnist/master/data/fashion/",
]
FILES = {
    "train": {
        "train-images-idx3-ubyte.gz": "8d4fb7e6c68d591d4c3dfef9ec88bf0d",
        "train-labels-idx1-ubyte.gz": "25c81989df183df01b3e8a0aad5dffbe",
    },
    "test": {
        "t10k-images-idx3-ubyte.gz": "bef4ecab320f06d8554ea6380940ec79",
        "t10k-labels-idx1-ubyte.gz": "bb300cfdad3c16e7a12a480ee83cd310",
    },
}
CLASSES = (
    "T-shirt/top",
    "Trouser",
    "Pullover",
    "Dress",
    "Coat",
    "Sandal",
    "Shirt",
    "Sneaker",
    "Bag",
    "Ankle boot",
)


def load_split(folder: Path, split: str, download: bool) -> dict[str, np.ndarray]:
    """``images`` N×1×28×28 and ``labels`` of one split, from the cache or the official files."""

    def parse() -> dict[str, np.ndarray]:
        paths = official_files(folder, FILES[split], MIRRORS, download, f"the Fashion-MNIST {split} split")
        for path in paths:
            verify(path, FILES[split][path.name])
        images, labels = read_idx_pair(*paths)
        return {"images": images, "labels": labels}

    return cached_arrays(folder / f"{split}.cache.npz", parse)


@DATASETS.register("fashion_mnist")
@promises(lambda p: (square(1, p), 10))
def fashion_mnist(
    root: str,  # injected: the data directory (config key data.root)
    resolution: PositiveInt = 32,  # 28 is native; 32 pads by 2 pixels for power-of-two models
    download: bool = True,  # fetch the official files when they are missing
    split: Literal["train", "test"] = "train",  # train (60k) or test (10k)
) -> Data:
    arrays = load_split(Path(root).expanduser() / "fashion_mnist", split, download)
    return labelled_split(arrays, resolution, CLASSES, f"Fashion-MNIST {split}")
