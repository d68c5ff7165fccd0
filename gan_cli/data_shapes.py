"""What a dataset's samples will look like — per-sample shape and number of classes — read
from its parameters alone, so that compose time can build the model without loading any data.

One entry per registered dataset, mirroring its loader in ``gan_cli/datasets/``. The training
run builds again from the loaded data's own shape, and ``tests/test_compat.py`` checks that
every entry agrees with what its loader returns.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from gan_cli.errors import GanError
from gan_cli.registry import DATASETS, META_KEYS

Spec = tuple[tuple[int, ...], int]  # (per-sample shape, number of classes; 0: unlabelled)


def image_folder_classes(params: Mapping[str, Any]) -> int:
    """The class sub-folders the loader will find (a file listing, no image is decoded)."""
    from gan_cli.datasets.image_folder import class_labels, find_images

    folder = Path(params["path"]).expanduser()
    if not folder.is_dir():
        raise GanError(f"image folder not found: {folder} (set dataset.path)")
    return len(class_labels(folder, find_images(folder)[0], params["labels"])[1])


def square(channels: int, params: Mapping[str, Any]) -> tuple[int, int, int]:
    return channels, params["resolution"], params["resolution"]


SHAPES: dict[str, Callable[[Mapping[str, Any]], Spec]] = {
    "mnist": lambda p: (square(1, p), 10),
    "fashion_mnist": lambda p: (square(1, p), 10),
    "cifar10": lambda p: (square(3, p), 10),
    "stacked_mnist": lambda p: (square(3, p), 1000),  # one digit per channel: 10³ modes
    "mnist_domains": lambda p: (square(1, p), 0),  # digit labels are kept for measuring, not conditioning
    "paired": lambda p: (square(p["channels"], p), 0),
    "unpaired": lambda p: (square(p["channels"], p), 0),
    "image_folder": lambda p: (square(p["channels"], p), image_folder_classes(p)),
    "ring8": lambda p: ((2,), 8),
    "grid25": lambda p: ((2,), 25),
}


def data_spec(dataset_cfg: Mapping[str, Any]) -> Spec:
    """(shape, num_classes) of the data ``dataset_cfg`` loads, its defaults filled in."""
    name = dataset_cfg["name"]
    DATASETS.get(name)  # an unknown name is refused as the registry words it
    if name not in SHAPES:
        raise GanError(f"dataset '{name}' does not say its data shape: add it to gan_cli/data_shapes.py")
    params = {k: v for k, v in dataset_cfg.items() if k not in META_KEYS}
    bound = inspect.signature(DATASETS.get(name)).bind_partial(**params)
    bound.apply_defaults()
    return SHAPES[name](bound.arguments)
