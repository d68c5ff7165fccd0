"""Any folder of images (faces, cats, paintings), optionally with class sub-folders as labels.

Every image is converted to RGB (or grayscale), its shorter side resized to the resolution and
the centre cropped, and the whole set held in memory. Files that are not readable images are
skipped and counted; a folder with no readable image is refused.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import torch
from PIL import Image, UnidentifiedImageError

from gan_cli.datasets.base import Data
from gan_cli.errors import GanError
from gan_cli.registry import DATASETS

log = logging.getLogger(__name__)

EXTENSIONS = {".png", ".jpg", ".jpeg", ".webp", ".bmp", ".gif", ".tif", ".tiff"}


def load_image(path: Path, resolution: int, mode: str) -> np.ndarray:
    """One image as H×W×C uint8: converted to ``mode``, shorter side resized, centre-cropped."""
    with Image.open(path) as img:
        img = img.convert(mode)
        scale = resolution / min(img.size)
        size = (max(resolution, round(img.width * scale)), max(resolution, round(img.height * scale)))
        img = img.resize(size, Image.Resampling.BICUBIC)
        left, top = (img.width - resolution) // 2, (img.height - resolution) // 2
        img = img.crop((left, top, left + resolution, top + resolution))
        return np.asarray(img, dtype=np.uint8).reshape(resolution, resolution, len(mode))


@DATASETS.register("image_folder")
def image_folder(
    path: str,  # folder of images; sub-folders, if any, are the classes
    resolution: int = 64,  # images are resized and centre-cropped to this square size
    channels: int = 3,  # 3 for RGB, 1 for grayscale
) -> Data:
    folder = Path(path).expanduser()
    if not folder.is_dir():
        raise GanError(f"image folder not found: {folder} (set dataset.path)")
    if channels not in (1, 3):
        raise GanError(f"image_folder channels must be 1 or 3, got {channels}")
    files = sorted(p for p in folder.rglob("*") if p.suffix.lower() in EXTENSIONS and p.is_file())
    classes = sorted({p.parent.relative_to(folder).as_posix() for p in files} - {"."})
    class_index = {c: i for i, c in enumerate(classes)}
    images, labels, skipped = [], [], 0
    for p in files:
        try:
            images.append(load_image(p, resolution, "RGB" if channels == 3 else "L"))
        except (UnidentifiedImageError, OSError, ValueError):
            skipped += 1
            continue
        labels.append(class_index.get(p.parent.relative_to(folder).as_posix(), 0))
    if skipped:
        log.warning("skipped %d unreadable image file(s) in %s", skipped, folder)
    if not images:
        raise GanError(f"no readable images in {folder} (looked for {', '.join(sorted(EXTENSIONS))})")
    samples = torch.from_numpy(np.stack(images)).permute(0, 3, 1, 2).float() / 127.5 - 1.0
    labelled = len(classes) > 0
    return Data(
        samples,
        torch.tensor(labels) if labelled else None,
        num_classes=len(classes),
        description=f"{len(images)} images from {folder}",
    )
