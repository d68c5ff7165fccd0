"""Pictures of samples: image grids, and scatter plots for 2-D points, written with Pillow."""

from __future__ import annotations

import math
import struct
import zlib
from collections.abc import Iterable
from pathlib import Path
from typing import BinaryIO

import numpy as np
import torch
from PIL import Image, ImageDraw


def to_uint8(images: torch.Tensor) -> np.ndarray:
    """N×C×H×W floats in [-1, 1] -> N×H×W×C uint8."""
    x = ((images.detach().float().cpu().clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8)
    return x.permute(0, 2, 3, 1).numpy()


PAD = 2  # pixels of dark border around and between the images of a grid
PNG_COLOUR_TYPES = {1: 0, 2: 4, 3: 2, 4: 6}  # channels -> PNG colour type (grey, grey+alpha, RGB, RGBA)


def grid_size(count: int, nrow: int, height: int, width: int, pad: int = PAD) -> tuple[int, int]:
    """(width, height) in pixels of a grid of ``count`` images of height × width, ``nrow`` a row."""
    return pad + nrow * (width + pad), pad + math.ceil(count / nrow) * (height + pad)


def image_grid(images: torch.Tensor, nrow: int | None = None, pad: int = PAD) -> Image.Image:
    """Tile N images into rows of ``nrow`` (default: as square as possible) on a dark border."""
    pixels = to_uint8(images)
    n, h, w, c = pixels.shape
    nrow = nrow or math.ceil(math.sqrt(n))
    rows = math.ceil(n / nrow)
    canvas = np.zeros((pad + rows * (h + pad), pad + nrow * (w + pad), c), dtype=np.uint8)
    for i, img in enumerate(pixels):
        y, x = pad + (i // nrow) * (h + pad), pad + (i % nrow) * (w + pad)
        canvas[y : y + h, x : x + w] = img
    return Image.fromarray(canvas[..., 0] if c == 1 else canvas)


def scatter(points: torch.Tensor, reference: torch.Tensor | None = None, size: int = 512) -> Image.Image:
    """2-D samples (blue) over reference data (grey), on axes fitted to the reference."""
    frame = reference if reference is not None else points
    lo, hi = frame.min().item(), frame.max().item()
    margin = 0.15 * (hi - lo) + 1e-6
    lo, hi = lo - margin, hi + margin

    def pixel(p: torch.Tensor) -> np.ndarray:
        return ((p.detach().float().cpu().numpy() - lo) / (hi - lo) * (size - 1)).round()

    img = Image.new("RGB", (size, size), "white")
    draw = ImageDraw.Draw(img)
    for data, colour in ((reference, (190, 190, 190)), (points, (31, 90, 200))):
        if data is None:
            continue
        for x, y in pixel(data):
            draw.ellipse((x - 1.5, size - 1 - y - 1.5, x + 1.5, size - 1 - y + 1.5), fill=colour)
    return img


def sample_picture(
    samples: torch.Tensor, reference: torch.Tensor | None = None, nrow: int | None = None
) -> Image.Image:
    """A grid for images (rows of ``nrow``), a scatter plot for 2-D points over ``reference``."""
    return image_grid(samples, nrow) if samples.dim() == 4 else scatter(samples, reference)


def save_samples(
    path: Path, samples: torch.Tensor, reference: torch.Tensor | None = None, nrow: int | None = None
) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    sample_picture(samples, reference, nrow).save(path)


def png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def stream_grid(f: BinaryIO, chunks: Iterable[torch.Tensor], count: int, nrow: int, pad: int = PAD) -> None:
    """The PNG ``image_grid`` draws, written to ``f`` one grid row at a time: ``chunks`` are
    N×C×H×W batches in [-1, 1] (of any sizes, ``count`` images in all), and memory holds one
    row of the grid, never the whole picture, however many rows it has."""
    f.write(b"\x89PNG\r\n\x1a\n")
    compressor = zlib.compressobj(6)
    pending: list[bytes] = []
    row = None  # the current grid row's scanlines, its images and the border below them
    placed = 0

    def emit(lines: np.ndarray) -> None:
        # Each scanline starts with its filter type, 0: none.
        data = np.concatenate([np.zeros((len(lines), 1), np.uint8), lines.reshape(len(lines), -1)], 1)
        pending.append(compressor.compress(data.tobytes()))
        if sum(map(len, pending)) >= 1 << 20:
            f.write(png_chunk(b"IDAT", b"".join(pending)))
            pending.clear()

    for chunk in chunks:
        for img in to_uint8(chunk):
            if row is None:  # the first image gives the size of all
                h, w, c = img.shape
                if c not in PNG_COLOUR_TYPES:
                    raise ValueError(f"cannot write {c}-channel images as PNG")
                width, height = grid_size(count, nrow, h, w, pad)
                header = struct.pack(">IIBBBBB", width, height, 8, PNG_COLOUR_TYPES[c], 0, 0, 0)
                f.write(png_chunk(b"IHDR", header))
                emit(np.zeros((pad, width, c), np.uint8))
                row = np.zeros((h + pad, width, c), np.uint8)
            x = pad + (placed % nrow) * (w + pad)
            row[:h, x : x + w] = img
            placed += 1
            if placed % nrow == 0:
                emit(row)
                row[:] = 0
    if placed != count:
        raise ValueError(f"expected {count} images for the grid, got {placed}")
    if placed % nrow:
        emit(row)
    pending.append(compressor.flush())
    f.write(png_chunk(b"IDAT", b"".join(pending)))
    f.write(png_chunk(b"IEND", b""))
