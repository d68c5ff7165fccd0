"""The training procedure, top to bottom: setup, data, model, optimizers, loop, samples,
checkpoints. Everything model-, loss- or trick-specific happens behind ``components.build``
and the model family's step; this file stays the same when one is added.

``Run`` is everything set up once (and what it writes); ``train`` is the loop that drives it.
"""

from __future__ import annotations

import logging
import random
import time
from pathlib import Path
from typing import Any

import torch

from gan_cli import components
from gan_cli.datasets.base import BatchStream, DataSource
from gan_cli.datasets.labelled import training_split
from gan_cli.errors import GanError, Interrupted
from gan_cli.registry import DATASETS
from gan_cli.sampling import evaluating, evaluation, generate, seeded_inputs
from gan_cli.training import checkpoint, distributed
from gan_cli.training.devices import pick_device
from gan_cli.training.interrupts import StopSignals
from gan_cli.training.monitor import DMonitor
from gan_cli.training.nonfinite import NonFiniteGuard, NonFiniteLoss
from gan_cli.training.performance import Performance
from gan_cli.training.progress import TrainingProgress
from gan_cli.training.run_folder import RunFolder
from gan_cli.training.schedules import start_value
from gan_cli.training.state import RandomState, TrainingState
from gan_cli.training.steps import AdversarialStep
from gan_cli.training.threads import CoreShare

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


class Run:
    """One training run, set up once from ``cfg`` (the resolved config, plain containers): device,
    data, networks, optimizers and schedules, the model family's step, the fixed inputs, and the
    one ``TrainingState`` that every checkpoint, resume and NaN rollback goes through."""

    def __init__(self, cfg: dict[str, Any], run_dir: Path) -> None:
        self.cfg, self.tcfg = cfg, cfg["train"]
        torch.manual_seed(cfg["seed"])
        random.seed(cfg["seed"])
        self.device = distributed.device(pick_device(cfg["device"]))
        self.speed = Performance.from_config(cfg["trainer"], self.device)
        self.folder = RunFolder(run_dir, main=distributed.rank() == 0, config=cfg)  # and its trackers (log.*)
        self.data = load_data(cfg).to(self.device)  # all of it: what the metrics compare with
        self.train_data, self.held_out = training_split(self.data, cfg["dataset"], cfg["seed"])
        log.info(
            "data: %s, shape %s; device: %s (%s)",
            self.train_data.description,
            self.data.shape,
            self.device,
            self.speed.describe(),
        )
        # The same networks on every rank: the same seed.
        self.parts = parts = components.build(cfg, self.data.shape, self.data.num_classes)
        self.model = parts.model.to(self.device)
        self.model.prepare(self.data, cfg["data"]["root"])
        self.speed.prepare(self.model)
        self._build_optimizers()
        self.batches = self._rank_batches()
        # One fixed batch of inputs for every grid, so progress is comparable across steps and runs;
        # conditional models get one row per class, and evaluate every class alike. A family whose
        # inputs are images draws them from the training data, and is evaluated on held-out data
        # when the run has some (dataset.limit).
        self.fixed_inputs = seeded_inputs(
            parts, cfg["sample"]["n"], cfg["seed"], self.device, data=self.train_data
        )
        unseen = self.held_out if self.held_out is not None else self.data
        self.eval_inputs = seeded_inputs(parts, cfg["eval"]["n"], cfg["seed"] + 1, self.device, data=unseen)
        self.tally, self.guard = Tally(self.device), NonFiniteGuard(self.device)
        self.state = self._training_state()
        # 2-D points (toy data) are plotted over a sample of the real ones.
        self.reference = (
            self.train_data.head(max(cfg["sample"]["n"], 2000)) if len(self.data.shape) == 1 else None
        )
        self.images_per_step = self.batches.batch_size * self.parts.tricks.d_steps
        self.monitor = self._d_monitor()
        self.last_record: dict[str, float] = {}
        self.rolled_back = False

    def _build_optimizers(self) -> None:
        """Adam for each network, the schedules of their settings, the loss scaler and the step."""
        tcfg, parts, model = self.tcfg, self.parts, self.model
        betas = tuple(float(start_value(b)) for b in tcfg["betas"])  # Adam refuses an int beside a float
        self.g_opt = self.speed.adam(model.generator.parameters(), start_value(tcfg["lr_g"]), betas)
        self.d_opt = self.speed.adam(model.discriminator.parameters(), start_value(tcfg["lr_d"]), betas)
        parts.tricks.configure(self.g_opt, self.d_opt)
        self.schedules = parts.schedules
        self.schedules.attach_optimizers(self.g_opt, self.d_opt)
        self.scaler = self.speed.grad_scaler()
        self.step_fn = model.step_class(
            model,
            parts.loss,
            parts.tricks,
            self.g_opt,
            self.d_opt,
            latent=lambda n: parts.latent(n, self.device),
            scaler=self.scaler,
        )

    def _rank_batches(self) -> BatchStream:
        """The batches this process trains on: with several ranks, each its own latents and its
        own part of the data (metrics use all of it)."""
        rank, world, seed = distributed.rank(), distributed.world_size(), self.cfg["seed"]
        shard = self.train_data
        if world > 1:
            torch.manual_seed(seed + rank)
            shard = self.train_data.shard(rank, world)
        return shard.batches(self.tcfg["batch_size"], seed=seed + rank)

    def _d_monitor(self) -> DMonitor | None:
        """D's outputs on fixed training reals, held-out reals and fakes at every record
        (``log.d_monitor``), for the families with one D; batches of the training size."""
        if not (
            self.cfg["log"]["d_monitor"] and self.folder.main and isinstance(self.step_fn, AdversarialStep)
        ):
            return None
        inputs = seeded_inputs(self.parts, self.batches.batch_size, self.cfg["seed"] + 2, self.device)
        return DMonitor(self.step_fn, self.train_data, self.held_out, inputs["z"], self.device)

    def _training_state(self) -> TrainingState:
        data = self.data
        return TrainingState(
            {"config": self.cfg, "data_shape": list(data.shape), "num_classes": data.num_classes},
            {
                "generator": self.model.generator,
                "discriminator": self.model.discriminator,
                "g_optimizer": self.g_opt,
                "d_optimizer": self.d_opt,
                "schedules": self.schedules,
                "loss": self.parts.loss,
                "tricks": self.parts.tricks,
                "batches": self.batches,
                "tally": self.tally,
                "scaler": self.scaler,
                "rng": RandomState(self.device),
            },
        )

    def begin(self, resume: dict[str, Any] | None) -> int:
        """``reals.png``, then every piece of state from ``resume`` (a loaded checkpoint) or the
        step-0 grid; starts the clock and returns the step to continue from."""
        if not self.folder.has_picture("reals.png"):
            self.folder.picture("reals.png", self.train_data.head(self.cfg["sample"]["n"]))
        if resume is None:
            start = 0
            self.save_grid(0)
        else:
            start = self._restore(resume)
            log.info("resumed from step %d, training to step %d", start, self.tcfg["steps"])
        self.started = self.last_record_time = time.perf_counter()
        return start

    def _restore(self, state: dict[str, Any]) -> int:
        """Load every piece of ``state`` and drop the records written after it; returns its step."""
        step = self.state.load_state_dict(state)
        self.folder.keep_records_until(step)
        return step

    def advance(self, step: int) -> None:
        """One training step (the model family's) with its scheduled values, and its scalars
        watched and summed."""
        self.schedules.apply(step)
        with self.speed.autocast():
            scalars = self.step_fn(step, self.batches)
        self.guard.observe(step, scalars)
        self.tally.add(scalars)

    def record(self, step: int, threads: int) -> dict[str, float]:
        """Average the scalars since the last record into metrics.jsonl (the one host sync)."""
        self.guard.check()
        now, n = time.perf_counter(), self.tally.steps
        record = {"step": step, **self.tally.means(), **self.schedules.values()}
        record["images_per_sec"] = n * self.images_per_step / (now - self.last_record_time)
        record["elapsed_sec"] = now - self.started
        record["threads"] = threads
        if self.monitor is not None:
            record |= self.monitor()
        self.folder.record(record)
        # The monitor's forward passes are not training: the next interval's speed leaves them out.
        self.last_record, self.last_record_time = record, time.perf_counter()
        return record

    def write_due(self, step: int) -> None:
        """The sample grid, evaluation and periodic checkpoint that fall on ``step`` (the last
        step's evaluation is the final one, after the loop)."""
        if step % self.cfg["sample"]["every"] == 0:
            self.save_grid(step)
        if step % self.cfg["eval"]["every"] == 0 and step != self.tcfg["steps"]:
            self.evaluate(step)
        if step % self.cfg["checkpoint"]["every"] == 0:
            self.checkpoint(step, periodic=True)

    def save_grid(self, step: int | None, name: str | None = None) -> None:
        """``samples/step_XXXXXXX.png`` (and TensorBoard's grid of ``step``), or ``name``."""
        with evaluating(self.model):
            images, nrow = self.model.picture(self.fixed_inputs)
        self.folder.picture(name or f"step_{step:07d}.png", images, self.reference, nrow, step)

    def evaluate(self, step: int) -> dict[str, float]:
        """Every metric on the fixed evaluation inputs, as one record of its own in metrics.jsonl."""
        if not self.parts.metrics or not self.folder.main:
            return {}
        outputs = generate(self.model, self.eval_inputs)
        ev = evaluation(self.model, self.eval_inputs, outputs, self.data, self.held_out, self.train_data)
        results = {k: v for metric in self.parts.metrics for k, v in metric(ev).items()}
        if results:
            self.folder.record({"step": step, **results})
        return results

    def checkpoint(self, step: int, periodic: bool, finished: bool = False) -> None:
        self.guard.check()  # never save weights trained past a NaN
        state = self.state.state_dict(step, finished)
        self.folder.checkpoint(state, periodic, self.cfg["checkpoint"]["keep"])

    def roll_back(self, err: NonFiniteLoss) -> int:
        """Stop on a non-finite loss or, once with ``on_nan: rollback``, return to the last
        checkpoint with lower learning rates; returns the step to continue from."""
        last = self.folder.checkpoints / "last.pt"
        if self.tcfg["on_nan"] != "rollback" or self.rolled_back or not last.exists():
            raise GanError(
                f"{err}; stopped (last good checkpoint: {last if last.exists() else 'none yet'})"
            ) from err
        self.rolled_back = True
        step = self._restore(checkpoint.load(last))
        self.guard.reset()
        factor = self.tcfg["nan_lr_factor"]
        self.schedules.lr_factor *= factor  # from the next step on
        log.warning("%s: rolled back to step %d and scaled learning rates by %g", err, step, factor)
        return step

    def finish(self) -> dict[str, float]:
        """The last step's checkpoint first, so a stop during the final evaluation loses no
        training; then the final evaluation (returned), grid and progress animation."""
        steps = self.tcfg["steps"]
        self.checkpoint(steps, periodic=False)
        final = self.evaluate(steps)
        self.save_grid(None, "final.png")
        self.folder.finish()
        return final


def train(cfg: dict[str, Any], run_dir: Path, resume: dict[str, Any] | None = None) -> dict[str, float]:
    """Train as ``cfg`` (the resolved config, plain containers) says; write into ``run_dir``.

    With ``resume`` (a loaded checkpoint) every piece of state is restored first, so on the
    CPU the continued run reproduces the uninterrupted one bit for bit. Returns the last record
    merged with the final evaluation's metrics (what a study's trial is judged by).
    """
    run = Run(cfg, run_dir)
    start = run.begin(resume)
    steps, log_every = cfg["train"]["steps"], cfg["log"]["every"]
    with (
        run.folder,  # closes the trackers, however the run ends
        TrainingProgress(steps, start, enabled=cfg["log"]["progress"] and run.folder.main) as progress,
        StopSignals() as signals,
        CoreShare(cfg["trainer"]["threads"]) as cores,
    ):
        log.info("CPU: %s", cores.describe())
        step = start
        while step < steps:
            try:
                step += 1
                cores.poll()  # this job's share of the CPU, as other jobs come and go
                run.advance(step)
                if step % log_every == 0 or step == steps:
                    progress.update(step, run.record(step, cores.threads))
                run.write_due(step)
                if signals.received is not None:
                    run.checkpoint(step, periodic=False)
                    raise Interrupted(signals.received, step, run_dir)
            except NonFiniteLoss as err:
                step = run.roll_back(err)
        final = run.finish()
        # The run counts as finished only once its final artefacts exist.
        if signals.received is not None:
            raise Interrupted(signals.received, steps, run_dir)
        run.checkpoint(steps, periodic=False, finished=True)
    log.info(
        "done: steps %d to %d (%d this time) in %.1fs; run folder %s",
        start,
        steps,
        steps - start,
        time.perf_counter() - run.started,
        run_dir,
    )
    return {**run.last_record, **final}
