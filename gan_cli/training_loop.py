"""The training procedure, top to bottom: setup, data, model, optimizers, loop, samples,
checkpoints. Everything model-, loss- or trick-specific happens behind ``components.build``
and the model family's step; this file stays the same when one is added.
"""

from __future__ import annotations

import logging
import random
import time
from pathlib import Path
from typing import Any

import torch

from gan_cli import checkpoint, components, distributed
from gan_cli.datasets.base import DataSource
from gan_cli.devices import pick_device
from gan_cli.errors import GanError, Interrupted
from gan_cli.interrupts import StopSignals
from gan_cli.nonfinite import NonFiniteGuard, NonFiniteLoss
from gan_cli.performance import Performance
from gan_cli.progress import TrainingProgress
from gan_cli.registry import DATASETS
from gan_cli.run_folder import RunFolder
from gan_cli.sampling import generate, seeded_inputs
from gan_cli.threads import CoreShare
from gan_cli.training_state import RandomState, Several, Tensors, TrainingState

log = logging.getLogger(__name__)


def load_data(cfg: dict[str, Any]) -> DataSource:
    return DATASETS.build(cfg["dataset"], root=cfg["data"]["root"])


class Tally:
    """Sums of the step scalars between two metrics records, kept on the device."""

    def __init__(self, device: torch.device) -> None:
        self.device = device
        self.sums: dict[str, torch.Tensor] = {}
        self.steps = 0

    def add(self, scalars: dict[str, torch.Tensor]) -> None:
        for key, value in scalars.items():
            self.sums[key] = self.sums[key] + value if key in self.sums else value
        self.steps += 1

    def means(self) -> dict[str, float]:
        """Read the averages (the host sync) and start over."""
        means = {k: v.item() / self.steps for k, v in self.sums.items()}
        self.sums, self.steps = {}, 0
        return means

    def state_dict(self) -> dict:
        return {"sums": {k: v.cpu() for k, v in self.sums.items()}, "steps": self.steps}

    def load_state_dict(self, state: dict) -> None:
        self.sums = {k: v.to(self.device) for k, v in state["sums"].items()}
        self.steps = state["steps"]


def lr_schedule(optimizer: torch.optim.Optimizer, tcfg: dict[str, Any]) -> torch.optim.lr_scheduler.LambdaLR:
    """Constant learning rate, or (``lr_decay: linear``) constant until ``lr_decay_start`` of the
    steps and then linearly to zero, as CycleGAN trains (Zhu et al. 2017)."""
    steps, start = tcfg["steps"], int(tcfg["lr_decay_start"] * tcfg["steps"])
    if tcfg["lr_decay"] == "none":
        return torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: 1.0)
    return torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda step: 1.0 - max(0, step - start) / max(1, steps - start)
    )


def train(cfg: dict[str, Any], run_dir: Path, resume: dict[str, Any] | None = None) -> dict[str, float]:
    """Train as ``cfg`` (the resolved config, plain containers) says; write into ``run_dir``.

    With ``resume`` (a loaded checkpoint) every piece of state is restored first, so on the
    CPU the continued run reproduces the uninterrupted one bit for bit. Returns the last record
    merged with the final evaluation's metrics (what a study's trial is judged by).
    """
    tcfg, rank, world = cfg["train"], distributed.rank(), distributed.world_size()
    torch.manual_seed(cfg["seed"])
    random.seed(cfg["seed"])
    device = distributed.device(pick_device(cfg["device"]))
    speed = Performance.from_config(cfg["trainer"], device)
    folder = RunFolder(run_dir, main=rank == 0, config=cfg)  # and its trackers (log.*)

    data = load_data(cfg).to(device)
    log.info("data: %s, shape %s; device: %s (%s)", data.description, data.shape, device, speed.describe())
    parts = components.build(cfg, data.shape, data.num_classes)  # identical on every rank: same seed
    model = parts.model.to(device)
    speed.prepare(model)
    g_opt = speed.adam(model.generator.parameters(), tcfg["lr_g"], tuple(tcfg["betas"]))
    d_opt = speed.adam(model.discriminator.parameters(), tcfg["lr_d"], tuple(tcfg["betas"]))
    parts.tricks.configure(g_opt, d_opt)
    schedules = [lr_schedule(opt, tcfg) for opt in (g_opt, d_opt)]
    scaler = speed.grad_scaler()
    step_fn = model.step_class(
        model,
        parts.loss,
        parts.tricks,
        g_opt,
        d_opt,
        latent=lambda n: parts.latent(n, device),
        scaler=scaler,
    )
    shard = data
    if world > 1:  # each rank its own latents and its own part of the data (metrics use all of it)
        torch.manual_seed(cfg["seed"] + rank)
        shard = data.shard(rank, world)
    batches = shard.batches(tcfg["batch_size"], seed=cfg["seed"] + rank)
    # One fixed latent batch for every grid, so progress is comparable across steps and runs;
    # conditional models get one row per class, and evaluate every class alike.
    fixed_z, fixed_labels = seeded_inputs(parts, cfg["sample"]["n"], cfg["seed"], device)
    eval_z, eval_labels = seeded_inputs(parts, cfg["eval"]["n"], cfg["seed"] + 1, device)
    tally, guard = Tally(device), NonFiniteGuard(device)
    state = TrainingState(
        {"config": cfg, "data_shape": list(data.shape), "num_classes": data.num_classes},
        {
            "generator": model.generator,
            "discriminator": model.discriminator,
            "g_optimizer": g_opt,
            "d_optimizer": d_opt,
            "lr_schedules": Several(*schedules),
            "tricks": parts.tricks,
            "batches": batches,
            "fixed_z": Tensors(fixed_z),
            "tally": tally,
            "scaler": scaler,
            "rng": RandomState(device),
        },
    )

    reference = data.head(max(cfg["sample"]["n"], 2000)) if len(data.shape) == 1 else None

    def save_grid(step: int | None, name: str | None = None) -> None:
        """``samples/step_XXXXXXX.png`` (and TensorBoard's grid of ``step``), or ``name``."""
        images = generate(model, fixed_z, labels=fixed_labels)
        nrow = model.row_length(len(images))
        folder.picture(name or f"step_{step:07d}.png", images, reference, nrow, step)

    def evaluate(step: int) -> dict[str, float]:
        """Every metric on a fixed latent batch, as one record of its own in metrics.jsonl."""
        if not parts.metrics or not folder.main:
            return {}
        samples = generate(model, eval_z, labels=eval_labels)
        results = {k: v for metric in parts.metrics for k, v in metric(samples, data, eval_labels).items()}
        if results:
            folder.record({"step": step, **results})
        return results

    def save_checkpoint(step: int, periodic: bool, finished: bool = False) -> None:
        guard.check()  # never save weights trained past a NaN
        folder.checkpoint(state.capture(step, finished), periodic, cfg["checkpoint"]["keep"])

    if not folder.has_picture("reals.png"):
        folder.picture("reals.png", data.head(cfg["sample"]["n"]))
    if resume is not None:
        start = state.restore(resume)
        folder.keep_records_until(start)
        log.info("resumed from step %d, training to step %d", start, tcfg["steps"])
    else:
        start = 0
        save_grid(0)

    steps, log_every = tcfg["steps"], cfg["log"]["every"]
    images_per_step = batches.batch_size * parts.tricks.d_steps
    record: dict[str, float] = {}
    rolled_back = False
    t0 = last_log_time = time.perf_counter()

    def write_record(step: int) -> None:
        """Average the scalars since the last record into metrics.jsonl (the one host sync)."""
        nonlocal record, last_log_time
        guard.check()
        now, n = time.perf_counter(), tally.steps
        record = {"step": step, **tally.means()}
        record["images_per_sec"] = n * images_per_step / (now - last_log_time)
        record["elapsed_sec"] = now - t0
        record["threads"] = cores.threads
        folder.record(record)
        progress.update(step, record)
        last_log_time = now

    def roll_back(err: NonFiniteLoss) -> int:
        """Stop on a non-finite loss or, once with ``on_nan: rollback``, return to the last
        checkpoint with lower learning rates; returns the step to continue from."""
        nonlocal rolled_back
        last = folder.checkpoints / "last.pt"
        if tcfg["on_nan"] != "rollback" or rolled_back or not last.exists():
            raise GanError(
                f"{err}; stopped (last good checkpoint: {last if last.exists() else 'none yet'})"
            ) from err
        rolled_back = True
        step = state.restore(checkpoint.load(last))
        folder.keep_records_until(step)
        guard.reset()
        factor = tcfg["nan_lr_factor"]
        for schedule in schedules:
            schedule.base_lrs = [lr * factor for lr in schedule.base_lrs]
            for group, lr in zip(schedule.optimizer.param_groups, schedule.get_last_lr()):
                group["lr"] = lr * factor
        log.warning("%s: rolled back to step %d and scaled learning rates by %g", err, step, factor)
        return step

    show_progress = cfg["log"]["progress"] and folder.main
    with (
        folder,  # closes the trackers, however the run ends
        TrainingProgress(steps, start, enabled=show_progress) as progress,
        StopSignals() as signals,
        CoreShare(cfg["trainer"]["threads"]) as cores,
    ):
        log.info("CPU: %s", cores.describe())
        step = start
        while step < steps:
            try:
                step += 1
                cores.poll()  # this job's share of the CPU, as other jobs come and go
                with speed.autocast():
                    scalars = step_fn(step, batches)
                for schedule in schedules:
                    schedule.step()
                guard.observe(step, scalars)
                tally.add(scalars)
                if step % log_every == 0 or step == steps:
                    write_record(step)
                if step % cfg["sample"]["every"] == 0:
                    save_grid(step)
                if step % cfg["eval"]["every"] == 0 and step != steps:
                    evaluate(step)
                if step % cfg["checkpoint"]["every"] == 0:
                    save_checkpoint(step, periodic=True)
                if signals.received is not None:
                    save_checkpoint(step, periodic=False)
                    raise Interrupted(signals.received, step, run_dir)
            except NonFiniteLoss as err:
                step = roll_back(err)
        # The last step's checkpoint comes first, so a stop during the final evaluation loses
        # no training; the run counts as finished only once its final artefacts exist.
        save_checkpoint(steps, periodic=False)
        final = evaluate(steps)
        save_grid(None, "final.png")
        folder.finish()
        if signals.received is not None:
            raise Interrupted(signals.received, steps, run_dir)
        save_checkpoint(steps, periodic=False, finished=True)
    log.info(
        "done: steps %d to %d (%d this time) in %.1fs; run folder %s",
        start,
        steps,
        steps - start,
        time.perf_counter() - t0,
        run_dir,
    )
    return {**record, **final}
