"""``gan data``: look at a dataset as the model will see it, or fetch it ahead of training.

Arguments are the same Hydra overrides as ``gan train`` takes; the dataset is built through
the registry exactly as training builds it. Heavy imports happen inside the commands so that
``gan --help`` stays instant.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

data_app = typer.Typer(
    help="Look at a dataset, or download it ahead of training.\n\n"
    "Examples:\n\n"
    "  gan data show dataset=cifar10\n\n"
    "  gan data download dataset=fashion_mnist",
    no_args_is_help=True,
    add_completion=False,
)

OVERRIDES = typer.Argument(
    help="Hydra overrides, as for gan train: dataset=..., dataset.KEY=..., data.root=..."
)


def composed(overrides: list[str]) -> dict[str, Any]:
    """The resolved config, composed and checked as for ``gan train``."""
    from gan_cli.config import compose, resolve

    # Logging is left unconfigured: Python then prints dataset warnings (skipped files,
    # fallbacks) as plain lines on stderr, and nothing else.
    return resolve(compose(overrides))


def load(cfg: dict[str, Any]) -> Any:
    """The dataset ``cfg`` names, built as training builds it."""
    from gan_cli.training.loop import load_data

    return load_data(cfg)


def class_summary(data: Any) -> str:
    """``10: airplane (5000), ...``: the label count and, for a few classes, each one's size."""
    if not data.num_classes:
        return "none (unlabelled)"
    if data.labels is None or data.num_classes > 20:
        return str(data.num_classes)
    import torch

    counts = torch.bincount(data.labels.cpu(), minlength=data.num_classes).tolist()
    names = data.classes or [str(i) for i in range(data.num_classes)]
    return f"{data.num_classes}: " + ", ".join(f"{name} ({count})" for name, count in zip(names, counts))


@data_app.command()
def show(
    overrides: Annotated[list[str] | None, OVERRIDES] = None,
    out: Annotated[
        Path | None,
        typer.Option("--out", "-o", help="PNG to write \\[default: data_DATASET.png]; never overwritten."),
    ] = None,
    n: Annotated[
        int, typer.Option("-n", "--count", min=1, help="Images in the grid (points: up to 2000).")
    ] = 64,
) -> None:
    """Write a grid of real samples and print their count, shape, value range and classes.

    2-D toy data is drawn as a scatter plot. Samples are shown as the model sees them: resized,
    cropped, in [-1, 1].

    Examples:

      gan data show dataset=cifar10

      gan data show dataset=image_folder dataset.path=~/faces dataset.resolution=128 -o faces.png

      gan data show dataset=ring8
    """
    from gan_cli.images import sample_picture
    from gan_cli.outputs import check_new, check_suffix, new_file

    cfg = composed(overrides or [])
    target = out or Path(f"data_{cfg['dataset']['name']}.png")
    check_suffix(target, ".png", "--out", "the grid is a PNG picture")
    check_new(target, "--out")
    data = load(cfg)
    head = data.head(max(n, 2000) if len(data.shape) == 1 else n)
    with new_file(target) as f:
        sample_picture(head).save(f, format="PNG")
    # A streamed dataset is not all in memory: its value range is that of the samples shown.
    samples = getattr(data, "samples", None)
    values, note = (head, f" (of the {len(head)} shown)") if samples is None else (samples, "")
    rows = {
        "dataset": f"{cfg['dataset']['name']}: {data.description}",
        "count": str(len(data)),
        "shape": " x ".join(map(str, data.shape)),
        "range": f"[{values.min().item():.3f}, {values.max().item():.3f}]{note}",
        "classes": class_summary(data),
        "wrote": f"{target} ({len(head)} {'points' if len(data.shape) == 1 else 'images'})",
    }
    for key, value in rows.items():
        typer.echo(f"{key:<8} {value}")


@data_app.command()
def download(overrides: Annotated[list[str] | None, OVERRIDES] = None) -> None:
    """Fetch a dataset's files into data.root now, so that training later needs no network.

    The files are checksum-verified and parsed into the dataset's cache, as on first use.

    Examples:

      gan data download dataset=cifar10

      gan data download dataset=fashion_mnist dataset.split=test data.root=/data
    """
    cfg = composed(overrides or [])
    dataset = cfg["dataset"]
    if "download" not in dataset:
        typer.echo(f"{dataset['name']} has nothing to download")
        return
    # Downloading is the point here: switch it on, and ask for the training split outright,
    # not "auto", which falls back to other data when the download fails.
    dataset["download"] = True
    if dataset.get("split") == "auto":
        dataset["split"] = "train"
    data = load(cfg)
    typer.echo(f"ready: {data.description} in {Path(cfg['data']['root']).expanduser()}")
