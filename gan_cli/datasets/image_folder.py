"""Any folder of images (faces, cats, paintings), optionally with class sub-folders as labels.

Every image is brought to one form whatever it was stored as — EXIF rotation applied, 16-bit
scaled to 8, palette and transparency composited over white, then RGB or grayscale — and its
centre square (or, with ``crop=random``, a random square, drawn anew each time) resized to the
resolution. Hidden files and folders are ignored; files that are not readable images are
skipped and counted, images over Pillow's pixel limit (``Image.MAX_IMAGE_PIXELS``, its guard
against decompression bombs) skipped and named; a folder with no readable image is refused.
Pillow's own warnings never reach the terminal.

Folders up to ``AUTO_IN_MEMORY_BYTES`` of decoded samples are decoded once (in parallel) and
kept as one tensor on the training device; larger ones are streamed from disk by DataLoader
workers (``gan_cli/datasets/streaming.py``).
"""

from __future__ import annotations

import functools
import logging
import os
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Literal

import numpy as np
import torch
from PIL import Image, ImageOps

from gan_cli.datasets.base import Augment, Data, promises, square
from gan_cli.datasets.streaming import StreamingData, parallel_map
from gan_cli.errors import GanError
from gan_cli.registry import DATASETS
from gan_cli.schema import PositiveInt, Range

log = logging.getLogger(__name__)

EXTENSIONS = {".png", ".jpg", ".jpeg", ".webp", ".bmp", ".gif", ".tif", ".tiff"}
# in_memory=auto keeps a folder in memory when its float32 samples fit in 1 GiB: CIFAR-sized sets
# and tens of thousands of 64×64 images; CelebA or FFHQ at full size stream.
AUTO_IN_MEMORY_BYTES = 1 << 30
# With crop=random, images are stored this much larger than the resolution and a random square
# of the resolution is cut from them per draw (pix2pix's 286 -> 256 jitter).
RANDOM_CROP_MARGIN = 9 / 8
Crop = Literal["center", "random"]
# Decoding a handful of images is quicker than starting worker processes.
MIN_FILES_FOR_WORKERS = 256
UNREADABLE = (
    OSError,
    ValueError,
    SyntaxError,
    EOFError,
    Image.DecompressionBombError,
    Image.DecompressionBombWarning,  # raised, not warned, under ``pillow_quiet``
)
# How many too-large files a warning names before it only counts the rest.
NAMED_TOO_LARGE = 5


def find_images(folder: Path) -> tuple[list[Path], int]:
    """Image files under ``folder`` (sorted, hidden paths left out), and how many other files."""
    files = sorted(
        p
        for p in folder.rglob("*")
        if p.is_file() and not any(part.startswith(".") for part in p.relative_to(folder).parts)
    )
    images = [p for p in files if p.suffix.lower() in EXTENSIONS]
    return images, len(files) - len(images)


def class_labels(
    folder: Path, files: list[Path], labels: Literal["auto", "none"]
) -> tuple[list[int] | None, tuple[str, ...]]:
    """Labels from the first-level sub-folder of each file (nested folders inside it belong to
    it), when ``labels`` is auto and there are two or more such folders holding every image."""
    tops = [p.relative_to(folder).parts[0] if len(p.relative_to(folder).parts) > 1 else None for p in files]
    classes = tuple(sorted({t for t in tops if t is not None}))
    if labels == "none" or len(classes) < 2:
        return None, ()
    if None in tops:
        log.warning("images directly in %s have no class folder: the folder is read without labels", folder)
        return None, ()
    index = {c: i for i, c in enumerate(classes)}
    return [index[t] for t in tops], classes


def as_mode(img: Image.Image, mode: str) -> Image.Image:
    """``img`` as RGB or L, the same way whatever it was stored as."""
    img = ImageOps.exif_transpose(img)
    if img.mode.startswith("I"):  # 16/32-bit grayscale: scale to 8 bits instead of clipping
        pixels = np.asarray(img, dtype=np.float64)
        peak = 65535.0 if pixels.max() > 255 else 255.0
        img = Image.fromarray((pixels.clip(0, peak) * (255 / peak)).round().astype(np.uint8))
    if img.mode == "P" or "transparency" in img.info:
        img = img.convert("RGBA")
    if img.mode in ("RGBA", "LA", "PA", "RGBa", "La"):
        # Transparent pixels have no defined colour underneath; white is what a viewer shows.
        img = Image.alpha_composite(Image.new("RGBA", img.size, "white"), img.convert("RGBA"))
    return img.convert(mode)


@contextmanager
def pillow_quiet() -> Iterator[None]:
    """Pillow's warnings kept off the terminal: past ``Image.MAX_IMAGE_PIXELS`` it only warns
    (it raises past twice that), so the warning is raised here and both are refused alike; the
    rest (odd EXIF, palette notes) concern images that decode anyway and are dropped."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        yield


def too_large(path: Path) -> str | None:
    """\"<path>: image too large (W×H pixels, limit N)\" when the header of ``path`` declares
    more pixels than Pillow's limit, else None. Reads the header with the limit lifted (nothing
    is decoded): Pillow's own error gives the pixel count but not the size."""
    limit = Image.MAX_IMAGE_PIXELS
    if limit is None:
        return None
    Image.MAX_IMAGE_PIXELS = None
    try:
        with pillow_quiet(), Image.open(path) as img:
            width, height = img.size
    except UNREADABLE:
        return None
    finally:
        Image.MAX_IMAGE_PIXELS = limit
    if width * height <= limit:
        return None
    return f"{path}: image too large ({width}×{height} pixels, limit {limit})"


def load_image(path: Path, size: int, mode: str) -> np.ndarray:
    """One image as size×size×C uint8: converted to ``mode``, centre square resized to ``size``."""
    with pillow_quiet(), Image.open(path) as img:
        img.draft(None, (size, size))  # JPEGs: let the decoder downscale by 2-8× for free
        img = ImageOps.fit(as_mode(img, mode), (size, size), Image.Resampling.BICUBIC)
        return np.asarray(img, dtype=np.uint8).reshape(size, size, len(mode))


def decode(path: Path, size: int, mode: str) -> np.ndarray | None:
    """``load_image`` as C×H×W, or None for a file that is not a readable image.

    An array, not a tensor: workers would pass each tensor through its own shared-memory file,
    and a folder of them would run out of file descriptors.
    """
    try:
        return np.ascontiguousarray(load_image(path, size, mode).transpose(2, 0, 1))
    except UNREADABLE:
        return None


def readable(path: Path) -> bool:
    """Whether ``path`` opens as an image (its header only: cheap enough for a whole folder)."""
    try:
        with pillow_quiet(), Image.open(path) as img:
            return img.width > 0 and img.height > 0
    except UNREADABLE:
        return False


def worker_count(workers: int, files: int) -> int:
    """``workers``, or when it is -1: one per CPU core up to 8, none for a small folder."""
    if workers >= 0:
        return workers
    return 0 if files < MIN_FILES_FOR_WORKERS else min(8, os.cpu_count() or 1)


def folder_classes(params: dict) -> int:
    """The class sub-folders the loader will find (a file listing; no image is decoded)."""
    folder = Path(params["path"]).expanduser()
    if not folder.is_dir():
        raise GanError(f"image folder not found: {folder} (set dataset.path)")
    return len(class_labels(folder, find_images(folder)[0], params["labels"])[1])


@DATASETS.register("image_folder")
@promises(lambda p: (square(p["channels"], p), folder_classes(p)))
def image_folder(
    path: str,  # folder of images; two or more sub-folders become class labels
    resolution: PositiveInt = 64,  # side of the square images the model sees
    channels: Literal[1, 3] = 3,  # 3 for RGB, 1 for grayscale
    labels: Literal["auto", "none"] = "auto",  # auto: first-level sub-folders are classes; none: no labels
    crop: Crop = "center",  # center, or random: a random square, drawn anew each time
    flip: bool = False,  # mirror left-right at random, drawn anew each time
    in_memory: bool | Literal["auto"] = "auto",  # true: decoded on the device; false: stream; auto: by size
    workers: Annotated[int, Range(min=-1)] = -1,  # DataLoader decoding processes; -1: one per core (<= 8)
) -> Data | StreamingData:
    folder = Path(path).expanduser()
    if not folder.is_dir():
        raise GanError(f"image folder not found: {folder} (set dataset.path)")
    files, others = find_images(folder)
    label_list, classes = class_labels(folder, files, labels)
    stored = round(resolution * RANDOM_CROP_MARGIN) if crop == "random" else resolution
    augment = Augment(resolution, random_crop=crop == "random", flip=flip)
    read = functools.partial(decode, size=stored, mode="RGB" if channels == 3 else "L")
    n_workers = worker_count(workers, len(files))
    if in_memory == "auto":
        in_memory = len(files) * channels * stored * stored * 4 <= AUTO_IN_MEMORY_BYTES
    if in_memory:
        decoded = parallel_map(read, files, n_workers)
        keep = [i for i, image in enumerate(decoded) if image is not None]
    else:  # a header check now; a file that still fails to decode is replaced when drawn
        keep = [i for i, ok in enumerate(parallel_map(readable, files, n_workers)) if ok]
    # Only the files that failed are asked why (a header read each), so a clean folder pays nothing.
    kept = set(keep)
    large = [m for m in (too_large(f) for i, f in enumerate(files) if i not in kept) if m is not None]
    for message in large[:NAMED_TOO_LARGE]:
        log.warning("skipped %s", message)
    if len(large) > NAMED_TOO_LARGE:
        log.warning("skipped %d more image(s) too large in %s", len(large) - NAMED_TOO_LARGE, folder)
    skipped = len(files) - len(keep) - len(large)
    if skipped or others:
        log.warning(
            "skipped %d unreadable image file(s) in %s (and ignored %d file(s) without an image extension)",
            skipped,
            folder,
            others,
        )
    if not keep and large:
        more = f" (and {len(large) - 1} more too large)" if len(large) > 1 else ""
        raise GanError(f"no readable images in {folder}: {large[0]}{more}")
    if not keep:
        raise GanError(f"no readable images in {folder} (looked for {', '.join(sorted(EXTENSIONS))})")
    kept_labels = None if label_list is None else torch.tensor([label_list[i] for i in keep])
    fields = {
        "labels": kept_labels,
        "num_classes": len(classes),
        "classes": classes,
        "description": f"{len(keep)} images from {folder}",
        "augment": augment,
    }
    if in_memory:
        samples = torch.from_numpy(np.stack([decoded[i] for i in keep])).float().div_(127.5).sub_(1.0)
        return Data(samples, **fields)
    return StreamingData([files[i] for i in keep], read, channels, workers=n_workers, **fields)
