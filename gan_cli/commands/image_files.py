"""Images in and out of the commands that read them (``gan translate``, ``gan upscale``, ``gan
classify``): the trained model they run, the input files (one image, or a folder's images,
recursively) read as the training data was, and the output PNGs under ``--out``, checked before
anything is written; nothing existing is overwritten."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING

from gan_cli.errors import GanError

if TYPE_CHECKING:  # torch is imported by the commands when they run: gan --help stays instant
    from collections.abc import Callable

    import torch

    from gan_cli.models.base import GAN


def trained_model(
    ckpt: Path, device: str, can: Callable[[GAN], bool], task: str, families: str
) -> tuple[GAN, dict, torch.device]:
    """The model of checkpoint ``ckpt`` (a file or a run folder) in eval mode on ``device``
    (``--device``), its checkpoint state and the device; one line unless ``can(model)``:
    "<ckpt> holds a <family> model, which does not <task> (<families> do)"."""
    from gan_cli.sampling import load_run
    from gan_cli.training.checkpoint import resolve_path
    from gan_cli.training.devices import OPTION, pick_device

    ckpt = resolve_path(ckpt)
    chosen = pick_device(device, OPTION)
    parts, state = load_run(ckpt)
    model = parts.model.to(chosen).eval()
    if not can(model):
        raise GanError(f"{ckpt} holds a {model.registered_name} model, which does not {task} ({families})")
    return model, state, chosen


def input_files(path: Path) -> tuple[Path, list[Path]]:
    """The images to read (one file, or a folder's images, recursively) and the folder their
    output names are relative to."""
    from gan_cli.datasets.image_folder import EXTENSIONS, find_images

    if path.is_file():
        return path.parent, [path]
    if not path.is_dir():
        raise GanError(f"input not found: {path}")
    files = find_images(path)[0]
    if not files:
        raise GanError(f"no images in {path} (looked for {', '.join(sorted(EXTENSIONS))})")
    return path, files


def read_images(files: list[Path], shape: tuple[int, ...]) -> torch.Tensor:
    """The files as one N×C×H×W tensor in [-1, 1] at the model's shape; an unreadable file is
    refused by name."""
    import numpy as np
    import torch

    from gan_cli.datasets.image_folder import UNREADABLE, load_image

    channels, size = shape[0], shape[1]
    images = []
    for f in files:
        try:
            images.append(load_image(f, size, "RGB" if channels == 3 else "L").transpose(2, 0, 1))
        except UNREADABLE as err:
            raise GanError(f"cannot read {f} as an image ({err})") from err
    return torch.from_numpy(np.stack(images)).float().div_(127.5).sub_(1.0)


def output_paths(root: Path, files: list[Path], out: Path) -> list[Path]:
    """``out/<input path relative to root>.png`` for each input, refusing any that exists or that
    two inputs would share (a.jpg and a.png)."""
    targets = [out / f.relative_to(root).with_suffix(".png") for f in files]
    for target in targets:
        if target.exists():
            raise GanError(f"{target} already exists; choose another --out (nothing was written)")
    if len(set(targets)) < len(targets):
        raise GanError(
            "two inputs would write the same output name (e.g. x.jpg and x.png); translate them apart"
        )
    return targets


def write_pngs(targets: list[Path], images: Iterable[torch.Tensor], out: Path) -> None:
    """Each image (C×H×W in [-1, 1]) as the PNG at its target path, folders made as needed."""
    from PIL import Image

    from gan_cli.images import to_uint8

    try:
        for target, image in zip(targets, images, strict=True):
            pixels = to_uint8(image[None])[0]
            target.parent.mkdir(parents=True, exist_ok=True)
            Image.fromarray(pixels[..., 0] if pixels.shape[-1] == 1 else pixels).save(target)
    except OSError as err:
        raise GanError(f"cannot write into {out}: {err.strerror or err}") from err
