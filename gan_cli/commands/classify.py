"""``gan classify``: images through the classifier a semi-supervised GAN trained (its D).

Each image is read as the training data was (centre square, resized to the model's resolution,
grayscale or RGB as it was trained) and given the class of highest probability under the
running average of D's weights, with that probability. The predictions are printed, or written
as CSV to ``--out`` (a new file: an existing one is refused before anything is read).
"""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Annotated

import typer

from gan_cli.commands.image_files import input_files, read_images, trained_model
from gan_cli.options import Checkpoint, Device, Images

BATCH = 256  # images per forward pass
COLUMNS = ("image", "class", "confidence")


def classify(ckpt: Path, source: Path, out: Path | None, device: str) -> list[tuple[str, int, float]]:
    """(image path, class, probability) for each image of ``source`` (a file or a folder)."""
    import torch

    from gan_cli import outputs

    if out is not None:
        outputs.check_suffix(out, ".csv", "--out", "the predictions are written as CSV")
        outputs.check_new(out, "--out")
    _, files = input_files(source)
    model, state, chosen = trained_model(ckpt, device, lambda m: m.classifies, "classify", "ssgan does")
    images = read_images(files, tuple(state["data_shape"]))
    probabilities = torch.cat([model.classify(x.to(chosen)).cpu() for x in images.split(BATCH)])
    confidence, classes = probabilities.max(1)
    rows = [(str(f), int(c), float(p)) for f, c, p in zip(files, classes, confidence, strict=True)]
    if out is not None:
        text = io.StringIO()
        writer = csv.writer(text, lineterminator="\n")
        writer.writerow(COLUMNS)
        writer.writerows((name, label, f"{p:.4f}") for name, label, p in rows)
        with outputs.new_file(out) as f:
            f.write(text.getvalue().encode())
    return rows


def classify_command(
    ckpt: Checkpoint,
    source: Images,
    out: Annotated[
        Path | None,
        typer.Option(
            "--out", "-o", help="Write the predictions to this new CSV file instead of printing them."
        ),
    ] = None,
    device: Device = "auto",
) -> None:
    """Classify images with the D of a trained semi-supervised GAN (model=ssgan).

    Examples:

      gan classify --ckpt outputs/DATE/TIME --input digit.png

      gan classify --ckpt last.pt --input digits/ --out predictions.csv
    """
    rows = classify(ckpt, source, out, device)
    if out is not None:
        typer.echo(f"classified {len(rows)} image(s) into {out}")
        return
    for name, label, probability in rows:
        typer.echo(f"{name}\t{label}\t{probability:.4f}")
