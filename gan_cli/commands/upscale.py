"""``gan upscale``: images of any size through a trained SRGAN, ``scale`` times larger.

Each image is read at its own size, in the mode the model was trained on (RGB or grayscale), and
upscaled whole or, when a side is over ``--tile`` pixels, in tiles that overlap by ``OVERLAP``
pixels so every output pixel is computed with its full surroundings; each result is a PNG named
after its input under ``--out``. Everything is checked before anything is written, and no
existing file is overwritten (the rules of ``gan translate``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from gan_cli.commands.image_files import input_files, output_paths, trained_model, write_pngs
from gan_cli.errors import GanError
from gan_cli.options import Checkpoint, Device, Ema, Images

if TYPE_CHECKING:
    import torch

OVERLAP = (
    16  # low-resolution pixels of context around each tile: more than SRResNet's reach at the sizes used
)


def read_image(path: Path, channels: int) -> torch.Tensor:
    """1×C×H×W in [-1, 1] at the file's own size; an unreadable file is refused by name."""
    import numpy as np
    import torch
    from PIL import Image

    from gan_cli.datasets.image_folder import UNREADABLE, as_mode, pillow_quiet

    mode = "RGB" if channels == 3 else "L"
    try:
        with pillow_quiet(), Image.open(path) as img:
            pixels = np.asarray(as_mode(img, mode), dtype=np.uint8).reshape(img.height, img.width, channels)
    except UNREADABLE as err:
        raise GanError(f"cannot read {path} as an image ({err})") from err
    return torch.from_numpy(pixels.transpose(2, 0, 1).copy())[None].float().div_(127.5).sub_(1.0)


def tiled(
    upscale: Callable[[torch.Tensor], torch.Tensor],
    x: torch.Tensor,
    scale: int,
    tile: int,
    overlap: int = OVERLAP,
) -> torch.Tensor:
    """``upscale(x)``, computed tile by tile when a side of x is over ``tile``: each tile is
    upscaled with ``overlap`` pixels of its surroundings, and only its own part is kept."""
    height, width = x.shape[-2:]
    if max(height, width) <= tile:
        return upscale(x)
    out = x.new_empty(*x.shape[:-2], height * scale, width * scale)
    for top in range(0, height, tile):
        for left in range(0, width, tile):
            bottom, right = min(height, top + tile), min(width, left + tile)
            y0, x0 = max(0, top - overlap), max(0, left - overlap)
            part = upscale(x[..., y0 : min(height, bottom + overlap), x0 : min(width, right + overlap)])
            dy, dx = (top - y0) * scale, (left - x0) * scale
            own = part[..., dy : dy + (bottom - top) * scale, dx : dx + (right - left) * scale]
            out[..., top * scale : bottom * scale, left * scale : right * scale] = own
    return out


def upscale(ckpt: Path, source: Path, out: Path, device: str, ema: bool, tile: int) -> list[Path]:
    """Upscale ``source`` (an image or a folder) into ``out``; returns the files written."""
    import torch

    from gan_cli.models.srgan import SRGAN

    if tile < 1:
        raise GanError(f"--tile must be a positive number of pixels, got {tile}")
    root, files = input_files(source)
    targets = output_paths(root, files, out)
    model, state, chosen = trained_model(
        ckpt, device, lambda m: isinstance(m, SRGAN), "upscale", "srgan does"
    )
    channels = state["data_shape"][0]
    images = [read_image(f, channels) for f in files]  # every file is readable before any is written
    G = model.current_generator(ema)

    def upscaled() -> Iterator[torch.Tensor]:
        with torch.no_grad():
            for x in images:
                yield tiled(G, x.to(chosen), model.scale, tile)[0].cpu()

    write_pngs(targets, upscaled(), out)
    return targets


def upscale_command(
    ckpt: Checkpoint,
    source: Images,
    out: Annotated[
        Path, typer.Option("--out", "-o", help="Folder for the upscaled PNGs (existing files are refused).")
    ],
    device: Device = "auto",
    ema: Ema = True,
    tile: Annotated[
        int, typer.Option(help="Upscale images with a side over this many pixels in overlapping tiles of it.")
    ] = 256,
) -> None:
    """Upscale images with a trained SRGAN (×2, ×4 or ×8, as it was trained).

    Examples:

      gan upscale --ckpt outputs/DATE/TIME --input photo.png --out big/

      gan upscale --ckpt last.pt --input small_digits/ --out upscaled/ --tile 128
    """
    written = upscale(ckpt, source, out, device, ema, tile)
    typer.echo(f"upscaled {len(written)} image(s) into {out}")
