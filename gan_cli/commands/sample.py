"""``gan sample``: samples of a checkpoint as a grid picture, an .npz or a folder of PNGs.

Everything that can be checked is checked before the checkpoint is loaded (format, output path,
truncation, device), and the grid's size before anything is generated. Samples are generated
and written in batches (``sampling``), into a hidden temporary file or folder that becomes the
output only when complete: Ctrl-C removes it (one line, exit 130), and nothing that exists is
written over.
"""

from __future__ import annotations

import re
from dataclasses import replace
from pathlib import Path
from typing import Annotated

import typer

from gan_cli.errors import GanError
from gan_cli.options import Checkpoint, Device, Ema, Seed, ctrl_c_exits


def sample_command(
    ckpt: Checkpoint,
    n: Annotated[int, typer.Option("-n", "--count", min=1, help="Number of samples.")] = 64,
    seed: Seed = 0,
    out: Annotated[
        Path | None,
        typer.Option(
            "--out",
            "-o",
            help="A new .png (grid), .npz (npz) or folder (png); never an existing path "
            "\\[default: RUN/samples/sample_nN_seedS.*].",
        ),
    ] = None,
    fmt: Annotated[
        str,
        typer.Option(
            "--format",
            "-f",
            help="grid: one PNG (up to 65,535 px a side); npz: array 'images' N×C×H×W in [-1, 1] "
            "(and 'labels' if conditional); png: a folder of PNGs.",
        ),
    ] = "grid",
    device: Device = "auto",
    truncation: Annotated[
        float | None,
        typer.Option(
            help="Redraw latent entries beyond ±T (truncation trick, e.g. 0.5); StyleGAN: ψ towards the mean w."
        ),
    ] = None,
    ema: Ema = True,
    label: Annotated[
        int | None,
        typer.Option(
            help="Class to sample (conditional models; default: the classes in turn, one grid row "
            "per class when N is a multiple of the classes)."
        ),
    ] = None,
    mix: Annotated[
        bool,
        typer.Option(
            "--mix",
            help="StyleGAN: a style-mixing grid, rows' coarse styles × columns' fine ones (√N per side).",
        ),
    ] = False,
    vary: Annotated[
        str | None,
        typer.Option(
            help="InfoGAN: a traversal grid of this continuous code (c1, c2...): a row per category, "
            "the code from -2 to 2 across N / categories columns."
        ),
    ] = None,
    nearest: Annotated[
        bool,
        typer.Option(
            "--nearest",
            help="Each sample beside the training image nearest to it in pixels (the run's training "
            "subset under dataset.limit): does G copy its data? One grid picture of pairs.",
        ),
    ] = False,
) -> None:
    """Generate samples from a checkpoint.

    Examples:

      gan sample --ckpt outputs/2026-11-22/20-31-05 -n 64   # a run folder: its last.pt

      gan sample --ckpt last.pt -n 10000 --format npz --out fakes.npz   # for FID tools

      gan sample --ckpt last.pt -n 100 --format png --out fakes/ --seed 7

      gan sample --ckpt last.pt --truncation 0.5 --raw   # truncated latents, non-EMA weights

      gan sample --ckpt last.pt --label 3 -n 16            # one class of a conditional model

      gan sample --ckpt last.pt --mix -n 16 --truncation 0.7   # StyleGAN: 4 × 4 style mixes

      gan sample --ckpt last.pt --vary c1 -n 100             # InfoGAN: 10 categories × 10 values of c1

      gan sample --ckpt last.pt --nearest -n 32              # each sample beside its nearest training image
    """
    typer.echo(sample(ckpt, n, seed, out, fmt, device, truncation, ema, label, mix, vary, nearest))


def sample(
    ckpt: Path,
    n: int,
    seed: int,
    out: Path | None,
    fmt: str,
    device: str,
    truncation: float | None,
    ema: bool,
    label: int | None,
    mix: bool,
    vary: str | None = None,
    nearest: bool = False,
) -> str:
    """Write the samples; returns the line saying what was written where."""
    import torch

    from gan_cli import sampling
    from gan_cli.commands.evaluate import evaluation_notes
    from gan_cli.training import checkpoint
    from gan_cli.training.devices import OPTION, pick_device

    if mix and fmt != "grid":
        raise GanError("--mix writes one grid picture; leave --format at grid")
    if mix and label is not None:
        raise GanError("--mix mixes the styles of unlabelled samples; leave out --label")
    if vary is not None and not re.fullmatch(r"c[1-9][0-9]*", vary):
        raise GanError(f"--vary names a continuous code: c1, c2, ...; got '{vary}'")
    if vary is not None and (fmt != "grid" or mix or label is not None or truncation is not None):
        raise GanError(
            "--vary writes one grid picture of its own; leave out --format, --mix, --label and --truncation"
        )
    if nearest and (fmt != "grid" or mix or vary is not None):
        raise GanError("--nearest writes one grid picture of pairs; leave out --format, --mix and --vary")
    truncation = sampling.truncation_value(truncation)
    ckpt = checkpoint.resolve_path(ckpt)
    kind = "mix" if mix else f"vary_{vary}" if vary is not None else "nearest" if nearest else "sample"
    target = sampling.output_path(ckpt, out, n, seed, fmt, kind)
    chosen = pick_device(device, OPTION)
    parts, state = sampling.load_run(ckpt)
    if vary is not None:
        images, columns = sampling.traversal(parts, vary, n, seed, chosen, ema)
        with ctrl_c_exits("nothing was written"):
            sampling.write(images, target, fmt, columns)
        return f"wrote a traversal of {vary} to {target}"
    if mix:
        plan = sampling.mixing_plan(parts, n, chosen, ema)
        sampling.check_grid(plan)
        rows = sampling.mixing_rows(parts, n, seed, chosen, truncation, ema)
        with ctrl_c_exits("nothing was written"):
            sampling.write_planned(rows, plan, target, fmt)
        return f"wrote a style-mixing grid to {target}"
    plan = sampling.plan(parts, n, chosen, truncation, ema, label)
    if nearest:
        pairs = replace(plan, count=2 * plan.count, nrow=2 * plan.nrow)
        sampling.check_grid(pairs)
        with evaluation_notes():  # the dataset's warnings, worded for a finished run
            train = sampling.training_images(state["config"], plan)
        samples = torch.cat(list(sampling.chunks(parts, plan, seed, chosen, truncation, ema, label)))
        with ctrl_c_exits("nothing was written"):
            sampling.write(sampling.beside_nearest(samples, train), target, fmt, pairs.nrow)
        return f"wrote {plan.count} samples, each beside its nearest training image, to {target}"
    if fmt == "grid":
        sampling.check_grid(plan)
    samples = sampling.chunks(parts, plan, seed, chosen, truncation, ema, label)
    labels = sampling.label_chunks(parts.model, plan, label) if fmt == "npz" else None
    with ctrl_c_exits("nothing was written"):  # generating and writing: the temporary output goes
        sampling.write_planned(samples, plan, target, fmt, labels)
    return f"wrote {plan.count} sample{'s' * (plan.count != 1)} to {target}"
