"""Rebuilding a generator from a checkpoint alone, and writing its samples."""

from __future__ import annotations

import math
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from gan_cli import checkpoint, components
from gan_cli.errors import GanError
from gan_cli.images import save_samples, to_uint8
from gan_cli.models.base import GAN

FORMATS = ("grid", "npz", "png")


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


def generate(
    model: GAN,
    z: torch.Tensor,
    ema: bool = True,
    labels: torch.Tensor | None = None,
    truncation: float | None = None,
) -> torch.Tensor:
    """Samples in eval mode, so they do not depend on the batch; from the EMA generator when the
    run keeps one and ``ema``; for ``labels`` if conditional; ``truncation`` for a model that
    truncates in its own latent space (``truncates_in_w``; others have truncated z already)."""
    with evaluating(model):
        if truncation is not None and model.truncates_in_w:
            return model.generate(z, ema, labels, truncation)
        return model.generate(z, ema, labels)


def seeded_inputs(
    parts: components.Components,
    n: int,
    seed: int,
    device: torch.device | str = "cpu",
    label: int | None = None,
    truncation: float | None = None,
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """n latents drawn with ``seed`` and their labels: for a conditional model the classes in
    order (n rounded down to a multiple of the classes) unless ``label`` picks one class; for
    an unconditional one no labels."""
    labels = parts.model.sample_labels(n, label)
    n = n if labels is None else len(labels)
    z = parts.latent(n, device, torch.Generator().manual_seed(seed), truncation)
    return z, None if labels is None else labels.to(device)


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
    """Where ``gan sample`` writes, checked before any sampling: never an existing path.

    The default is ``<run dir>/samples/<kind>_n<N>_seed<S>.<ext>`` (kind: sample, or mix for a
    style-mixing grid) for a checkpoint inside a run folder (``<run dir>/checkpoints/*.pt``),
    else beside the checkpoint.
    """
    if fmt not in FORMATS:
        raise GanError(f"unknown format '{fmt}'; valid: {', '.join(FORMATS)}")
    if out is None:
        run_dir = ckpt.parent.parent if ckpt.parent.name == "checkpoints" else ckpt.parent
        suffix = {"grid": ".png", "npz": ".npz", "png": ""}[fmt]
        out = run_dir / "samples" / f"{kind}_n{n}_seed{seed}{suffix}"
    if fmt == "npz" and out.suffix != ".npz":
        out = out.with_name(out.name + ".npz")  # what numpy would write
    if out.exists():
        raise GanError(f"{out} already exists; choose another --out (nothing was overwritten)")
    return out


def draw(
    parts: components.Components,
    n: int,
    seed: int,
    device: torch.device,
    truncation: float | None = None,
    ema: bool = True,
    label: int | None = None,
    batch: int = 256,
) -> torch.Tensor:
    """Samples from ``seeded_inputs``, generated in batches, on the CPU."""
    model = parts.model.to(device)
    z, labels = seeded_inputs(parts, n, seed, device, label, truncation)
    label_chunks = labels.split(batch) if labels is not None else [None] * len(z)
    samples = torch.cat(
        [generate(model, zs, ema, ys, truncation).cpu() for zs, ys in zip(z.split(batch), label_chunks)]
    )
    return samples


def mixing_grid(
    parts: components.Components,
    n: int,
    seed: int,
    device: torch.device,
    truncation: float | None = None,
    ema: bool = True,
) -> tuple[torch.Tensor, int]:
    """The style-mixing figure of StyleGAN (Karras et al. 2018, figure 3) for about ``n`` mixes:
    k = ⌊√n⌋ sources per side, rows' latents from ``seed`` and columns' from ``seed + 1``. Laid
    out (k + 1) × (k + 1): a blank corner, the column sources across the top, each row's source
    first, then its mixes (row's coarse styles, column's fine ones). Returns it and its width."""
    model = parts.model.to(device)
    if not hasattr(model, "mix"):
        raise GanError(f"--mix needs a style-based model (model=stylegan), not {model.registered_name}")
    k = max(1, math.isqrt(n))
    z_rows, _ = seeded_inputs(parts, k, seed, device)
    z_cols, _ = seeded_inputs(parts, k, seed + 1, device)
    with evaluating(model):
        rows, cols = (
            model.generate(z_rows, ema, None, truncation),
            model.generate(z_cols, ema, None, truncation),
        )
        mixes = model.mix(z_rows, z_cols, ema, truncation).view(k, k, *rows.shape[1:])
    blank = torch.ones_like(rows[:1])
    header = torch.cat([blank, cols])
    body = torch.cat([rows[:, None], mixes], dim=1).flatten(0, 1)
    return torch.cat([header, body]).cpu(), k + 1


def write(samples: torch.Tensor, out: Path, fmt: str, nrow: int | None = None) -> None:
    """Write samples to ``out`` (from ``output_path``) as a grid PNG (rows of ``nrow``), an
    .npz (``images`` N×C×H×W, or ``points`` N×D, in data units) or a folder of one PNG per image."""
    is_image = samples.dim() == 4
    if fmt == "png" and not is_image:
        raise GanError("--format png needs image samples; use grid or npz for 2-D points")
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        if fmt == "grid":
            save_samples(out, samples, nrow=nrow)
        elif fmt == "npz":
            np.savez(out, **{"images" if is_image else "points": samples.numpy().astype(np.float32)})
        else:
            out.mkdir()
            width = len(str(len(samples) - 1))
            for i, img in enumerate(to_uint8(samples)):
                Image.fromarray(img[..., 0] if img.shape[-1] == 1 else img).save(out / f"{i:0{width}d}.png")
    except OSError as err:
        raise GanError(f"cannot write {out}: {err.strerror or err}") from err
