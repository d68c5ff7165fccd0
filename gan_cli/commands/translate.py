"""``gan translate``: images of one domain through a trained CycleGAN or pix2pix into the other.

Inputs are read as the training data was (``image_folder``'s reading: centre square, resized to
the model's resolution, RGB or grayscale as it was trained); each output is a PNG named after
its input, under ``--out``. Everything is checked before anything is written, and no existing
file is overwritten.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from gan_cli.commands.image_files import input_files, output_paths, read_images, trained_model, write_pngs
from gan_cli.errors import GanError
from gan_cli.options import Checkpoint, Device, Ema, Images

DIRECTIONS = ("AtoB", "BtoA")
BATCH = 64  # images per forward pass


def translate(
    ckpt: Path, source: Path, out: Path, direction: str, device: str, ema: bool, seed: int
) -> list[Path]:
    """Translate ``source`` (an image or a folder) into ``out``; returns the files written."""
    import torch

    from gan_cli.models.image_to_image import Translator

    if direction not in DIRECTIONS:
        raise GanError(f"unknown direction '{direction}'; valid: {', '.join(DIRECTIONS)}")
    root, files = input_files(source)
    targets = output_paths(root, files, out)
    model, state, target_device = trained_model(
        ckpt, device, lambda m: isinstance(m, Translator), "translate", "cyclegan, pix2pix do"
    )
    if direction not in model.directions:
        raise GanError(
            f"{model.registered_name} translates {' and '.join(model.directions)} only, not {direction}"
        )
    images = read_images(files, tuple(state["data_shape"]))
    with torch.no_grad(), torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)  # pix2pix's dropout noise
        translated = torch.cat(
            [model.translate(x.to(target_device), direction, ema).cpu() for x in images.split(BATCH)]
        )
    write_pngs(targets, translated, out)
    return targets


def translate_command(
    ckpt: Checkpoint,
    source: Images,
    out: Annotated[
        Path, typer.Option("--out", "-o", help="Folder for the translated PNGs (existing files are refused).")
    ],
    direction: Annotated[str, typer.Option(help="AtoB or BtoA (CycleGAN); pix2pix: AtoB.")] = "AtoB",
    device: Device = "auto",
    ema: Ema = True,
    seed: Annotated[int, typer.Option(help="Seed of pix2pix's dropout noise.")] = 0,
) -> None:
    """Translate images from one domain into the other with a trained CycleGAN or pix2pix.

    Examples:

      gan translate --ckpt outputs/DATE/TIME/checkpoints/last.pt --input horses/ --out zebras/

      gan translate --ckpt last.pt --input zebra.jpg --out horses/ --direction BtoA
    """
    written = translate(ckpt, source, out, direction, device, ema, seed)
    typer.echo(f"translated {len(written)} image(s) {direction} into {out}")
