"""Paired images for pix2pix: A/B folders with matching file names, or A|B side by side.

``layout=folders``: ``<path>/A/x.png`` pairs with ``<path>/B/x.jpg`` (relative path without the
extension must match; unmatched files are counted and left out). ``layout=side_by_side``: each
image in ``<path>`` holds A in its left half and B in its right half, as pix2pix's own datasets
(facades, maps, edges2shoes) are stored. Images are read as ``image_folder`` reads them; random
crops and flips (pix2pix's 286 -> 256 jitter) cut both images of a pair alike.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Literal

import numpy as np
import torch
from PIL import Image, ImageOps

from gan_cli.datasets.base import Augment, promises, square
from gan_cli.datasets.image_folder import (
    RANDOM_CROP_MARGIN,
    UNREADABLE,
    Crop,
    as_mode,
    decode,
    find_images,
    pillow_quiet,
)
from gan_cli.datasets.unpaired import TwoDomainData, domain_folder
from gan_cli.errors import GanError
from gan_cli.registry import DATASETS
from gan_cli.schema import PositiveInt

log = logging.getLogger(__name__)


def fitted(img: Image.Image, size: int, channels: int) -> np.ndarray:
    """The centre square of ``img`` resized to size×size, as C×H×W uint8."""
    square = ImageOps.fit(img, (size, size), Image.Resampling.BICUBIC)
    return np.asarray(square, dtype=np.uint8).reshape(size, size, channels).transpose(2, 0, 1)


def halves(path: Path, size: int, mode: str) -> tuple[np.ndarray, np.ndarray] | None:
    """The left and right halves of one side-by-side image, or None when it cannot be read."""
    try:
        with pillow_quiet(), Image.open(path) as img:
            img = as_mode(img, mode)
            w, h = img.size
            left, right = img.crop((0, 0, w // 2, h)), img.crop((w // 2, 0, w, h))
            return fitted(left, size, len(mode)), fitted(right, size, len(mode))
    except UNREADABLE:
        return None


def matched_folders(
    path: str, a: str, b: str, size: int, mode: str
) -> list[tuple[np.ndarray, np.ndarray] | None]:
    folders = [Path(domain_folder(path, name)) for name in (a, b)]
    files = [{f.relative_to(folder).with_suffix(""): f for f in find_images(folder)[0]} for folder in folders]
    common = sorted(set(files[0]) & set(files[1]))
    unmatched = len(files[0]) + len(files[1]) - 2 * len(common)
    if unmatched:
        log.warning("left out %d image(s) without a same-named counterpart in %s", unmatched, path)
    pairs = [(decode(files[0][k], size, mode), decode(files[1][k], size, mode)) for k in common]
    return [None if x is None or y is None else (x, y) for x, y in pairs]


@DATASETS.register("paired")
@promises(lambda p: (square(p["channels"], p), 0))
def paired(
    path: str,  # folder of side-by-side images, or holding the A and B folders
    layout: Literal["folders", "side_by_side"] = "folders",  # folders: A/ and B/ by name; side_by_side: A|B
    a: str = "A",  # domain A's sub-folder (layout=folders)
    b: str = "B",  # domain B's sub-folder (layout=folders)
    resolution: PositiveInt = 256,  # side of the square images the model sees
    channels: Literal[1, 3] = 3,  # 3 for RGB, 1 for grayscale
    crop: Crop = "center",  # center, or random: a random square per pair, drawn anew each time
    flip: bool = False,  # mirror pairs left-right at random, drawn anew each time
) -> TwoDomainData:
    stored = round(resolution * RANDOM_CROP_MARGIN) if crop == "random" else resolution
    mode = "RGB" if channels == 3 else "L"
    if layout == "folders":
        pairs = matched_folders(path, a, b, stored, mode)
    else:
        folder = Path(path).expanduser()
        if not folder.is_dir():
            raise GanError(f"paired image folder not found: {folder} (set dataset.path)")
        pairs = [halves(f, stored, mode) for f in find_images(folder)[0]]
    kept = [p for p in pairs if p is not None]
    if len(kept) < len(pairs):
        log.warning("skipped %d unreadable image pair(s) in %s", len(pairs) - len(kept), path)
    if not kept:
        raise GanError(f"no readable image pairs in {path} (layout={layout})")
    a_images, b_images = (
        torch.from_numpy(np.stack(side)).float().div_(127.5).sub_(1.0) for side in zip(*kept)
    )
    return TwoDomainData(
        a_images,
        augment=Augment(resolution, random_crop=crop == "random", flip=flip),
        description=f"{len(kept)} image pairs from {path}",
        other=b_images,
        paired=True,
    )
