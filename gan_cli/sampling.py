"""Rebuilding a generator from a checkpoint alone, and writing its samples."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from PIL import Image

from gan_cli import checkpoint, components
from gan_cli.errors import GanError
from gan_cli.images import save_samples, to_uint8
from gan_cli.training_loop import generate

FORMATS = ("grid", "npz", "png")


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


def output_path(ckpt: Path, out: Path | None, n: int, seed: int, fmt: str) -> Path:
    """Where ``gan sample`` writes, checked before any sampling: never an existing path.

    The default is ``<run dir>/samples/sample_n<N>_seed<S>.<ext>`` for a checkpoint inside a
    run folder (``<run dir>/checkpoints/*.pt``), else beside the checkpoint.
    """
    if fmt not in FORMATS:
        raise GanError(f"unknown format '{fmt}'; valid: {', '.join(FORMATS)}")
    if out is None:
        run_dir = ckpt.parent.parent if ckpt.parent.name == "checkpoints" else ckpt.parent
        suffix = {"grid": ".png", "npz": ".npz", "png": ""}[fmt]
        out = run_dir / "samples" / f"sample_n{n}_seed{seed}{suffix}"
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
    batch: int = 256,
) -> torch.Tensor:
    """n samples from latents seeded by ``seed``, generated in batches, returned on the CPU."""
    model = parts.model.to(device)
    z = parts.latent(n, "cpu", torch.Generator().manual_seed(seed), truncation)
    return torch.cat([generate(model, chunk.to(device), ema).cpu() for chunk in z.split(batch)])


def write(samples: torch.Tensor, out: Path, fmt: str) -> None:
    """Write samples to ``out`` (from ``output_path``) as a grid PNG, an .npz (``images``
    N×C×H×W, or ``points`` N×D, in data units) or a folder of one PNG per image."""
    is_image = samples.dim() == 4
    if fmt == "png" and not is_image:
        raise GanError("--format png needs image samples; use grid or npz for 2-D points")
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        if fmt == "grid":
            save_samples(out, samples)
        elif fmt == "npz":
            np.savez(out, **{"images" if is_image else "points": samples.numpy().astype(np.float32)})
        else:
            out.mkdir()
            width = len(str(len(samples) - 1))
            for i, img in enumerate(to_uint8(samples)):
                Image.fromarray(img[..., 0] if img.shape[-1] == 1 else img).save(out / f"{i:0{width}d}.png")
    except OSError as err:
        raise GanError(f"cannot write {out}: {err.strerror or err}") from err
