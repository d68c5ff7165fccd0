"""Pictures of samples: image grids, and scatter plots for 2-D points, written with Pillow."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageDraw


def to_uint8(images: torch.Tensor) -> np.ndarray:
    """N×C×H×W floats in [-1, 1] -> N×H×W×C uint8."""
    x = ((images.detach().float().cpu().clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8)
    return x.permute(0, 2, 3, 1).numpy()


def image_grid(images: torch.Tensor, nrow: int | None = None, pad: int = 2) -> Image.Image:
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
