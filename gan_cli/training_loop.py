"""The training procedure, top to bottom: setup, data, model, optimizers, loop, samples,
checkpoints. Everything model-, loss- or trick-specific happens behind ``components.build``
and the model family's step; this file stays the same when one is added.
"""

from __future__ import annotations

import json
import logging
import random
import time
from pathlib import Path
from typing import Any

import torch

from gan_cli import checkpoint, components
from gan_cli.datasets.base import Batches, Data
from gan_cli.errors import GanError
from gan_cli.images import save_samples
from gan_cli.progress import TrainingProgress
from gan_cli.registry import DATASETS

log = logging.getLogger(__name__)


def pick_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(name)
    except RuntimeError as err:
        raise GanError(f"unknown device '{name}' (use auto, cpu, cuda or cuda:N)") from err
    if device.type == "cuda" and not torch.cuda.is_available():
        raise GanError(f"device '{name}' requested but CUDA is not available (use device=cpu)")
    return device


def load_data(cfg: dict[str, Any]) -> Data:
    return DATASETS.build(cfg["dataset"], root=cfg["data"]["root"])


@torch.no_grad()
def generate(model: torch.nn.Module, z: torch.Tensor) -> torch.Tensor:
    """Samples in eval mode (batch-norm running statistics), so they do not depend on the batch."""
    was_training = model.training
    model.eval()
    try:
        return model.generate(z)
    finally:
        model.train(was_training)


def train(cfg: dict[str, Any], run_dir: Path) -> dict[str, float]:
    """Train as ``cfg`` (the resolved config, plain containers) says; write into ``run_dir``.

    Returns the last logged record.
    """
    tcfg = cfg["train"]
    torch.manual_seed(cfg["seed"])
    random.seed(cfg["seed"])
    device = pick_device(cfg["device"])

    data = load_data(cfg).to(device)
    log.info("data: %s, shape %s; device: %s", data.description, data.shape, device)
    parts = components.build(cfg, data.shape, data.num_classes)
    model = parts.model.to(device)
    g_opt = torch.optim.Adam(model.generator.parameters(), lr=tcfg["lr_g"], betas=tuple(tcfg["betas"]))
    d_opt = torch.optim.Adam(model.discriminator.parameters(), lr=tcfg["lr_d"], betas=tuple(tcfg["betas"]))
    step_fn = model.step_class(
        model, parts.loss, parts.tricks, g_opt, d_opt, latent=lambda n: parts.latent(n, device)
    )
    batches = Batches(data, tcfg["batch_size"], seed=cfg["seed"])
    # One fixed latent batch for every grid, so progress is comparable across steps and runs.
    fixed_z = parts.latent(cfg["sample"]["n"], device, torch.Generator().manual_seed(cfg["seed"]))

    samples_dir, ckpt_dir = run_dir / "samples", run_dir / "checkpoints"
    reference = data.samples[: max(cfg["sample"]["n"], 2000)] if data.samples.dim() == 2 else None
    save_samples(samples_dir / "reals.png", data.samples[: cfg["sample"]["n"]])
    save_samples(samples_dir / "step_0000000.png", generate(model, fixed_z), reference)

    def save_checkpoint(step: int, name: str) -> None:
        state = {
            "config": cfg,
            "data_shape": list(data.shape),
            "num_classes": data.num_classes,
            "step": step,
            "generator": model.generator.state_dict(),
            "discriminator": model.discriminator.state_dict(),
            "g_optimizer": g_opt.state_dict(),
            "d_optimizer": d_opt.state_dict(),
            "tricks": parts.tricks.state_dict(),
            "batches": batches.state_dict(),
            "fixed_z": fixed_z.cpu(),
            "rng": {"torch": torch.get_rng_state(), "python": random.getstate()},
        }
        checkpoint.save(state, ckpt_dir / name)

    steps, log_every = tcfg["steps"], cfg["log"]["every"]
    images_per_step = batches.batch_size * parts.tricks.d_steps
    sums: dict[str, torch.Tensor] = {}
    record: dict[str, float] = {}
    start = last_log_time = time.perf_counter()
    last_log_step = 0
    with (
        open(run_dir / "metrics.jsonl", "a") as metrics_file,
        TrainingProgress(steps, enabled=cfg["log"]["progress"]) as progress,
    ):
        for step in range(1, steps + 1):
            scalars = step_fn(step, batches)
            for key, value in scalars.items():
                sums[key] = sums[key] + value if key in sums else value
            if step % log_every == 0 or step == steps:
                # The only host sync: scalars stay on the device between records.
                now = time.perf_counter()
                n = step - last_log_step
                record = {"step": step, **{k: v.item() / n for k, v in sums.items()}}
                record["images_per_sec"] = n * images_per_step / (now - last_log_time)
                record["elapsed_sec"] = now - start
                metrics_file.write(json.dumps(record) + "\n")
                metrics_file.flush()
                progress.update(step, record)
                sums, last_log_step, last_log_time = {}, step, now
            if step % cfg["sample"]["every"] == 0:
                save_samples(samples_dir / f"step_{step:07d}.png", generate(model, fixed_z), reference)
            if step % cfg["checkpoint"]["every"] == 0:
                save_checkpoint(step, f"step_{step:07d}.pt")

    save_checkpoint(steps, "last.pt")
    save_samples(samples_dir / "final.png", generate(model, fixed_z), reference)
    log.info("done: %d steps in %.1fs; run folder %s", steps, time.perf_counter() - start, run_dir)
    return record
