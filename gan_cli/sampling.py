"""Rebuilding a generator from a checkpoint alone, and writing its samples.

Samples are generated, and written, in batches: whatever the count, memory holds one batch of
samples (a grid: one row of the picture), never all of them. A grid is refused before anything
is generated when a side would be over ``MAX_GRID_SIDE`` pixels.
"""

from __future__ import annotations

import math
import zipfile
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import numpy as np
import torch
from PIL import Image

from gan_cli import components, outputs
from gan_cli.datasets.base import DataSource
from gan_cli.errors import GanError
from gan_cli.images import grid_size, scatter, stream_grid, to_uint8
from gan_cli.metrics.base import Evaluation
from gan_cli.models.base import GAN
from gan_cli.models.inputs import Inputs
from gan_cli.training import checkpoint

FORMATS = ("grid", "npz", "png")
SUFFIXES = {"grid": ".png", "npz": ".npz", "png": ""}
# PNG allows 2^31 - 1 pixels a side, but image viewers, browsers and the formats a grid gets
# converted to (JPEG) stop at 65,535: a grid wider or taller than that is refused up front.
MAX_GRID_SIDE = 65_535
BATCH = 256  # samples per forward pass


@contextmanager
def evaluating(model: GAN) -> Iterator[None]:
    """Eval mode (batch-norm running statistics, fixed noise) and no gradients, then back."""
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            yield
    finally:
        model.train(was_training)


def generate(model: GAN, inputs: Inputs, ema: bool = True, truncation: float | None = None) -> torch.Tensor:
    """Samples in eval mode, so they do not depend on the batch; from the EMA generator when the
    run keeps one and ``ema``; ``truncation`` for a model that truncates in its own latent space
    (``truncates_in_w``; others have truncated z already)."""
    with evaluating(model):
        if truncation is not None and model.truncates_in_w:
            return model.generate(inputs, ema, truncation)
        return model.generate(inputs, ema)


def seeded_inputs(
    parts: components.Components,
    n: int,
    seed: int,
    device: torch.device | str = "cpu",
    label: int | None = None,
    truncation: float | None = None,
    data: DataSource | None = None,
) -> Inputs:
    """n inputs drawn with ``seed``, as training draws its fixed grid and evaluation batches: for
    a conditional model the classes in order (n rounded down to a multiple of the classes, one
    grid row per class) unless ``label`` picks one class; for a family whose inputs are images,
    taken from ``data``. ``gan sample`` draws exactly n (``draw``)."""
    labels = parts.model.sample_labels(n, label)
    n = n if labels is None else len(labels)
    return parts.inputs(n, torch.Generator().manual_seed(seed), device, labels, truncation, data)


def evaluation(
    model: GAN,
    inputs: Inputs,
    outputs: torch.Tensor,
    data: DataSource,
    held_out: DataSource | None = None,
    train: DataSource | None = None,
) -> Evaluation:
    """What the metrics are given for ``outputs`` generated from ``inputs``: the real data they
    should resemble (the model's ``reference`` of ``data``), their classes, their targets, the
    data held out of training (``dataset.limit``) and the data trained on, and the model's
    classifier."""
    classify = model.classify if model.classifies else None
    return Evaluation(
        outputs, model.reference(data), inputs.labels, inputs, inputs.targets, held_out, train, classify
    )


def load_run(path: str | Path) -> tuple[components.Components, dict]:
    """The model, loss and tricks of a checkpoint, with its weights loaded (on the CPU)."""
    state = checkpoint.load(path)
    try:
        parts = components.build(state["config"], tuple(state["data_shape"]), state["num_classes"])
    except (KeyError, TypeError) as err:
        raise GanError(f"{path}: its config is incomplete or from an incompatible gan-cli ({err})") from err
    checkpoint.load_weights(parts.model.generator, state["generator"], "generator", path)
    checkpoint.load_weights(parts.model.discriminator, state["discriminator"], "discriminator", path)
    parts.tricks.load_state_dict(state.get("tricks", []))  # e.g. the EMA generator's weights
    return parts, state


def output_path(ckpt: Path, out: Path | None, n: int, seed: int, fmt: str, kind: str = "sample") -> Path:
    """Where ``gan sample`` writes, checked before any sampling: a grid is a .png file, an npz
    an .npz file, png a folder; never an existing path, never into a file or a folder that
    cannot be written.

    The default is ``<run dir>/samples/<kind>_n<N>_seed<S>.<ext>`` (kind: sample, or mix for a
    style-mixing grid) for a checkpoint inside a run folder (``<run dir>/checkpoints/*.pt``),
    else beside the checkpoint.
    """
    if fmt not in FORMATS:
        raise GanError(f"unknown format '{fmt}'; valid: {', '.join(FORMATS)}")
    if out is None:
        run_dir = ckpt.parent.parent if ckpt.parent.name == "checkpoints" else ckpt.parent
        out = run_dir / "samples" / f"{kind}_n{n}_seed{seed}{SUFFIXES[fmt]}"
    if fmt == "grid":
        outputs.check_suffix(out, ".png", "--out", "--format grid writes one PNG picture")
    elif fmt == "npz":
        outputs.check_suffix(out, ".npz", "--out", "--format npz writes one .npz file")
    elif out.suffix.lower() in (".png", ".npz", ".jpg", ".jpeg"):
        raise GanError(
            f"--out {out}: --format png writes a folder of PNGs; give a folder name (not a file name)"
        )
    outputs.check_new(out, "--out")
    return out


def truncation_value(truncation: float | None) -> float | None:
    """``--truncation``, refused in one line unless a finite positive number."""
    if truncation is not None and not (math.isfinite(truncation) and truncation > 0):
        raise GanError(f"--truncation must be a positive number (e.g. 0.5), got {truncation}")
    return truncation


# ---------------------------------------------------------------- what to generate


def class_labels(model: GAN, n: int, label: int | None, start: int = 0, stop: int | None = None):
    """Labels of samples ``start`` to ``stop`` of ``n`` (None for an unconditional model): all
    ``label`` when given; else one grid row per class when n is a multiple of the classes (n / C
    of each, in class order), otherwise the classes in turn (0, 1, ..., C - 1, 0, 1, ...)."""
    stop = n if stop is None else stop
    if label is not None or not model.num_classes:
        labels = model.sample_labels(stop - start, label)  # checks the label
        return labels
    index = torch.arange(start, stop)
    classes = model.num_classes
    return index // (n // classes) if n % classes == 0 else index % classes


@contextmanager
def no_rng_use(device: torch.device) -> Iterator[None]:
    """The global random state (CPU, and ``device``'s if CUDA) as it was before the block."""
    cuda = []
    if device.type == "cuda":
        cuda = [device.index if device.index is not None else torch.cuda.current_device()]
    with torch.random.fork_rng(devices=cuda):
        yield


@dataclass
class Plan:
    """How ``n`` requested samples are generated and laid out."""

    latents: int  # latent vectors drawn
    per_call: int  # latents per forward pass
    count: int  # samples that come out (CoGAN: two per latent)
    shape: tuple[int, ...]  # of one sample: C×H×W, or D for points
    nrow: int  # samples per grid row

    @property
    def is_image(self) -> bool:
        return len(self.shape) == 3


def plan(
    parts: components.Components,
    n: int,
    device: torch.device,
    truncation: float | None = None,
    ema: bool = True,
    label: int | None = None,
    batch: int = BATCH,
) -> Plan:
    """The plan for ``n`` samples, from one probe sample (its shape, and how many images an input
    gives: two for CoGAN's pairs). Families whose samples come in groups (CoGAN's pairs of rows)
    generate one grid row of inputs per call, so the layout of each call is that of the whole
    grid. A family whose inputs are images (a translator) has nothing to sample without them and
    is refused here in one line."""
    model = parts.model.to(device)
    labels = class_labels(model, 1, label)  # refuses a bad --label before generating
    inputs = parts.inputs(1, torch.Generator().manual_seed(0), device, labels)
    with no_rng_use(device):  # a model's own noise (dropout kept at test time) draws from it
        probe = generate(model, inputs, ema, truncation)
    per, shape, count = len(probe), tuple(probe.shape[1:]), len(probe) * n
    if model.num_classes and label is None:
        classes = model.num_classes
        nrow = n // classes if n % classes == 0 else min(n, classes)
    else:
        nrow = model.row_length(count, label) or math.ceil(math.sqrt(count))
    per_call = batch if per == 1 else max(1, nrow)
    return Plan(n, per_call, count, shape, nrow)


def check_grid(p: Plan) -> None:
    """Refuse, before generating, a grid picture wider or taller than ``MAX_GRID_SIDE``."""
    if not p.is_image:
        return
    width, height = grid_size(p.count, p.nrow, p.shape[1], p.shape[2])
    if max(width, height) > MAX_GRID_SIDE:
        raise GanError(
            f"a grid of {p.count} images of {p.shape[2]}×{p.shape[1]} px would be {width}×{height} px, "
            f"over the {MAX_GRID_SIDE:,} px a side that image tools open; ask for fewer (-n) or "
            "use --format npz or png"
        )


def chunks(
    parts: components.Components,
    p: Plan,
    seed: int,
    device: torch.device,
    truncation: float | None = None,
    ema: bool = True,
    label: int | None = None,
) -> Iterator[torch.Tensor]:
    """The samples of plan ``p``, ``p.per_call`` inputs at a time, on the CPU. The inputs are
    drawn batch after batch from one generator seeded with ``seed`` (the same latents as drawing
    them at once, unless truncation redraws some)."""
    model = parts.model.to(device)
    generator = torch.Generator().manual_seed(seed)
    for start in range(0, p.latents, p.per_call):
        stop = min(start + p.per_call, p.latents)
        labels = class_labels(model, p.latents, label, start, stop)
        inputs = parts.inputs(stop - start, generator, device, labels, truncation)
        yield generate(model, inputs, ema, truncation).cpu()


def draw(
    parts: components.Components,
    n: int,
    seed: int,
    device: torch.device,
    truncation: float | None = None,
    ema: bool = True,
    label: int | None = None,
    batch: int = BATCH,
) -> torch.Tensor:
    """All samples of ``plan`` in one tensor, on the CPU: n of them (for a conditional model
    with the labels of ``sample_labels``), generated in batches."""
    p = plan(parts, n, device, truncation, ema, label, batch)
    return torch.cat(list(chunks(parts, p, seed, device, truncation, ema, label)))


# ---------------------------------------------------------------- the style-mixing figure


def mixing_side(n: int) -> int:
    """Sources per side of a style-mixing grid of about n mixes."""
    return max(1, math.isqrt(n))


def mixing_rows(
    parts: components.Components,
    n: int,
    seed: int,
    device: torch.device,
    truncation: float | None = None,
    ema: bool = True,
) -> Iterator[torch.Tensor]:
    """The style-mixing figure of StyleGAN (Karras et al. 2018, figure 3) for about ``n`` mixes,
    one grid row at a time: k = ⌊√n⌋ sources per side, rows' latents from ``seed`` and columns'
    from ``seed + 1``, laid out (k + 1) × (k + 1): a blank corner, the column sources across the
    top, then each row's source followed by its mixes (row's coarse styles, column's fine ones)."""
    model = parts.model.to(device)
    if not hasattr(model, "mix"):
        raise GanError(f"--mix needs a style-based model (model=stylegan), not {model.registered_name}")
    k = mixing_side(n)
    z_rows = parts.latent(k, device, torch.Generator().manual_seed(seed))
    z_cols = parts.latent(k, device, torch.Generator().manual_seed(seed + 1))
    with evaluating(model):
        cols = torch.cat(
            [model.generate(Inputs({"z": z}), ema, truncation).cpu() for z in z_cols.split(BATCH)]
        )
        yield torch.cat([torch.ones_like(cols[:1]), cols])
        rows = torch.cat(
            [model.generate(Inputs({"z": z}), ema, truncation).cpu() for z in z_rows.split(BATCH)]
        )
        for i in range(k):
            mixes = [model.mix(z_rows[i : i + 1], z, ema, truncation).cpu() for z in z_cols.split(BATCH)]
            yield torch.cat([rows[i : i + 1], *mixes])


def mixing_grid(
    parts: components.Components,
    n: int,
    seed: int,
    device: torch.device,
    truncation: float | None = None,
    ema: bool = True,
) -> tuple[torch.Tensor, int]:
    """All of ``mixing_rows`` in one tensor, and its width in images."""
    rows = list(mixing_rows(parts, n, seed, device, truncation, ema))
    return torch.cat(rows), len(rows)


def mixing_plan(parts: components.Components, n: int, device: torch.device, ema: bool = True) -> Plan:
    """The plan of a style-mixing grid (checked like any grid), from one probe image."""
    model = parts.model.to(device)
    if not hasattr(model, "mix"):
        raise GanError(f"--mix needs a style-based model (model=stylegan), not {model.registered_name}")
    with evaluating(model):
        probe = model.generate(Inputs({"z": parts.latent(1, device, torch.Generator().manual_seed(0))}), ema)
    side = mixing_side(n) + 1
    return Plan(side * side, side, side * side, tuple(probe.shape[1:]), side)


# ---------------------------------------------------------------- the latent-code traversal


def traversal(
    parts: components.Components, code: str, n: int, seed: int, device: torch.device, ema: bool = True
) -> tuple[torch.Tensor, int]:
    """InfoGAN's figure for the continuous code ``code``: a row per category, the code swept from
    −2 to 2 over n / categories columns (at least 2), one noise vector (from ``seed``) and the
    other codes at 0 throughout. Returns the images and the columns."""
    model = parts.model.to(device)
    if not hasattr(model, "traversal"):
        raise GanError(f"--vary needs a model with latent codes (model=infogan), not {model.registered_name}")
    columns = max(2, n // model.categories)
    z = parts.latent(1, device, torch.Generator().manual_seed(seed))
    with evaluating(model):
        images = model.traversal(code, z, torch.linspace(-2, 2, columns), ema)
    return images.cpu(), columns


# ---------------------------------------------------------------- samples beside their nearest training images


def training_images(cfg: dict, p: Plan) -> DataSource:
    """The images the run trained on (``dataset.limit``'s subset where it had one), checked
    against the samples of plan ``p`` before any is generated."""
    from gan_cli.datasets.base import split_off
    from gan_cli.training.loop import load_data

    if not p.is_image:
        raise GanError("--nearest shows images beside images; this model's samples are points")
    train, _ = split_off(load_data(cfg), cfg["dataset"].get("limit"))
    if tuple(train.shape) != p.shape:
        raise GanError(
            f"--nearest compares each sample with the training images, but this run's samples are "
            f"{'×'.join(map(str, p.shape))} and its training images {'×'.join(map(str, train.shape))}"
        )
    return train


def beside_nearest(samples: torch.Tensor, train: DataSource) -> torch.Tensor:
    """Each sample followed by the training image nearest to it in pixels (the distance of
    ``metrics.copying``): pairs for a grid that shows whether G draws its training images back."""
    from gan_cli.metrics.copying import nearest

    _, at = nearest(samples, train)
    return torch.stack([samples, train.take(at.cpu()).to(samples)], 1).flatten(0, 1)


# ---------------------------------------------------------------- writing


def write_npz(f: BinaryIO, arrays: dict[str, tuple[tuple[int, ...], str, Iterable[np.ndarray]]]) -> None:
    """An .npz as ``np.savez`` writes it (a zip of .npy files, uncompressed), each array given as
    its shape, dtype and the chunks along its first axis: nothing is held whole in memory."""
    with zipfile.ZipFile(f, "w", zipfile.ZIP_STORED, allowZip64=True) as archive:
        for key, (shape, dtype, parts) in arrays.items():
            with archive.open(f"{key}.npy", "w", force_zip64=True) as member:
                header = {"descr": np.lib.format.dtype_to_descr(np.dtype(dtype)), "fortran_order": False}
                np.lib.format.write_array_header_1_0(member, {**header, "shape": shape})
                written = 0
                for part in parts:
                    member.write(np.ascontiguousarray(part, dtype=dtype).tobytes())
                    written += len(part)
                if written != shape[0]:
                    raise ValueError(f"{key}: expected {shape[0]} rows, got {written}")


def write_png_folder(folder: Path, samples: Iterable[torch.Tensor], count: int) -> None:
    """One PNG per image, numbered from 0 with as many digits as the last number needs."""
    width, i = len(str(count - 1)), 0
    for batch in samples:
        for img in to_uint8(batch):
            Image.fromarray(img[..., 0] if img.shape[-1] == 1 else img).save(folder / f"{i:0{width}d}.png")
            i += 1


def write_planned(
    samples: Iterable[torch.Tensor],
    p: Plan,
    out: Path,
    fmt: str,
    labels: Iterable[torch.Tensor] | None = None,
) -> None:
    """Write the samples of plan ``p`` to ``out`` (from ``output_path``): a grid PNG (a scatter
    plot for 2-D points), an .npz (``images`` N×C×H×W or ``points`` N×D in data units, and
    ``labels`` for a conditional model) or a folder of one PNG per image. Everything goes to a
    hidden temporary file or folder beside ``out`` that becomes ``out`` only once complete."""
    if fmt == "png" and not p.is_image:
        raise GanError("--format png needs image samples; use grid or npz for 2-D points")
    if fmt == "grid":
        check_grid(p)
    if fmt == "png":
        with outputs.new_folder(out) as tmp:
            write_png_folder(tmp, samples, p.count)
        return
    with outputs.new_file(out) as f:
        if fmt == "npz":
            arrays = {
                "images" if p.is_image else "points": (
                    (p.count, *p.shape),
                    "float32",
                    (s.numpy() for s in samples),
                )
            }
            if labels is not None:
                arrays["labels"] = ((p.count,), "int64", (y.numpy() for y in labels))
            write_npz(f, arrays)
        elif p.is_image:
            stream_grid(f, samples, p.count, p.nrow)
        else:  # points: a scatter plot needs them all (N×D numbers, not images)
            scatter(torch.cat(list(samples))).save(f, format="PNG")


def label_chunks(model: GAN, p: Plan, label: int | None) -> Iterator[torch.Tensor] | None:
    """The labels of plan ``p``'s samples, batch by batch (None when unconditional)."""
    if not model.num_classes:
        return None
    return (
        class_labels(model, p.latents, label, start, min(start + BATCH * 64, p.latents))
        for start in range(0, p.latents, BATCH * 64)
    )


def write(samples: torch.Tensor, out: Path, fmt: str, nrow: int | None = None) -> None:
    """Write samples already in memory to ``out`` as a grid PNG (rows of ``nrow``), an .npz or a
    folder of PNGs (see ``write_planned``)."""
    count = len(samples)
    nrow = nrow or (math.ceil(math.sqrt(count)) if samples.dim() == 4 else 1)
    p = Plan(count, count, count, tuple(samples.shape[1:]), nrow)
    write_planned([samples], p, out, fmt)
