"""``gan eval``: a checkpoint's sample-quality metrics, printed and written as JSON beside it.

The JSON records the protocol with the numbers (sample count, latent seed, EMA or raw weights,
feature space, reference-statistics key, dataset, step), because an FID without its protocol
cannot be compared with anything.
"""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import typer

from gan_cli.errors import GanError
from gan_cli.options import Checkpoint, Device, Ema, Seed


def metric_set(name: str, root: str) -> list:
    """The metrics of ``conf/metrics/<name>.yaml``."""
    from omegaconf import OmegaConf

    from gan_cli.components import named_configs
    from gan_cli.config import config_dir, group_options
    from gan_cli.registry import METRICS, did_you_mean

    options = group_options("metrics")
    if name not in options:
        raise GanError(
            f"unknown metrics set '{name}'{did_you_mean(name, options)}; valid: {', '.join(options)}"
        )
    group_cfg = OmegaConf.to_container(OmegaConf.load(config_dir() / "metrics" / f"{name}.yaml"))
    return [METRICS.build(cfg, root=root) for cfg in named_configs(group_cfg)]


def result_path(ckpt: Path) -> Path:
    """``<stem>.eval.json`` beside the checkpoint, else the first free ``<stem>.eval-N.json``:
    an earlier evaluation is never overwritten."""
    path, number = ckpt.with_name(f"{ckpt.stem}.eval.json"), 2
    while path.exists():
        path, number = ckpt.with_name(f"{ckpt.stem}.eval-{number}.json"), number + 1
    return path


class ForEvaluation(logging.Filter):
    """Datasets word their notes for training ("MNIST training split not found ...: training on
    the bundled 10k test split"); under ``gan eval`` the data is what samples are compared with."""

    WORDS = (("training on", "evaluating against"), ("training split", "train split"))

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        for said, meant in self.WORDS:
            message = message.replace(said, meant)
        record.msg, record.args = message, None
        return True


@contextmanager
def evaluation_notes() -> Iterator[None]:
    """Warnings from gan-cli's modules, as plain lines on stderr (as Python prints them when
    logging is not configured), worded for evaluation (``ForEvaluation``)."""
    logger = logging.getLogger("gan_cli")
    handler = logging.StreamHandler(sys.stderr)
    handler.setLevel(logging.WARNING)
    handler.addFilter(ForEvaluation())
    propagate, logger.propagate = logger.propagate, False
    logger.addHandler(handler)
    try:
        yield
    finally:
        logger.removeHandler(handler)
        logger.propagate = propagate


def evaluate_checkpoint(
    ckpt: Path,
    n: int = 10_000,
    seed: int = 0,
    device: str = "auto",
    ema: bool = True,
    metrics: str | None = None,
) -> dict[str, Any]:
    """Generate ``n`` samples from ``ckpt`` and compute its configured metrics (or the named set
    ``metrics``) against the data it was trained on; returns the record written to JSON.

    (Imports here: this module is imported by the CLI, and ``gan --help`` must not load torch.)
    """
    import torch

    from gan_cli import sampling
    from gan_cli.datasets.base import split_off
    from gan_cli.training import checkpoint
    from gan_cli.training.devices import OPTION, pick_device
    from gan_cli.training.loop import load_data

    if n < 2:
        raise GanError(f"-n must be at least 2, got {n}")
    ckpt = checkpoint.resolve_path(ckpt)
    target = pick_device(device, OPTION)
    parts, state = sampling.load_run(ckpt)
    cfg = state["config"]
    chosen = parts.metrics if metrics is None else metric_set(metrics, cfg["data"]["root"])
    with evaluation_notes():
        data = load_data(cfg).to(target)
    if list(data.shape) != list(state["data_shape"]):
        raise GanError(
            f"{ckpt} was trained on data of shape {tuple(state['data_shape'])}, "
            f"but its dataset now loads as {data.shape}"
        )
    has_ema = getattr(parts.model, "ema_generator", None) is not None
    # Inputs that are images come from held-out data when the run trained on a subset.
    trained_on, held_out = split_off(data, cfg["dataset"].get("limit"))
    unseen = held_out if held_out is not None else data
    labels = sampling.class_labels(parts.model, n, None)  # a conditional model: the classes in turn
    inputs = parts.inputs(n, torch.Generator().manual_seed(seed), target, labels, data=unseen)
    outputs = torch.cat(
        [sampling.generate(parts.model, part, ema) for part in inputs.batches(sampling.BATCH)]
    )
    ev = sampling.evaluation(parts.model, inputs, outputs, data, held_out, trained_on)
    results: dict[str, float] = {}
    protocol: dict[str, Any] = {}
    with evaluation_notes():
        for metric in chosen:
            values = metric(ev)
            results.update(values)
            if values and getattr(metric, "protocol", None):
                protocol[metric.registered_name] = metric.protocol
    record = {
        "checkpoint": str(ckpt),
        "step": state["step"],
        "n": len(outputs),
        "seed": seed,
        "ema": ema and has_ema,
        "metrics_set": metrics or "the checkpoint's",
        "dataset": data.description,
        "protocol": protocol,
        "metrics": results,
    }
    out = result_path(ckpt)
    try:
        out.write_text(json.dumps(record, indent=2) + "\n")
    except OSError as err:
        raise GanError(f"cannot write {out}: {err.strerror or err}") from err
    record["written_to"] = str(out)
    return record


def eval_command(
    ckpt: Checkpoint,
    n: Annotated[
        int, typer.Option("-n", "--count", min=2, help="Samples to evaluate (FID depends on it).")
    ] = 10_000,
    seed: Seed = 0,
    device: Device = "auto",
    ema: Ema = True,
    metrics: Annotated[
        str | None,
        typer.Option(help="A metrics set from conf/metrics (e.g. inception) \\[default: the checkpoint's]."),
    ] = None,
) -> None:
    """Compute a checkpoint's metrics; print them and write <checkpoint>.eval.json beside it.

    Examples:

      gan eval --ckpt outputs/2026-11-22/20-31-05/checkpoints/last.pt

      gan eval --ckpt last.pt -n 50000 --metrics inception   # the papers' protocol (needs the weights)

      gan eval --ckpt last.pt --raw --seed 1                 # non-EMA weights, other latents
    """
    from rich.console import Console
    from rich.table import Table

    record = evaluate_checkpoint(ckpt, n, seed, device, ema, metrics)
    table = Table(
        title=f"{record['checkpoint']} (step {record['step']}, n={n}, seed={seed}, {'EMA' if record['ema'] else 'raw'})"
    )
    table.add_column("metric")
    table.add_column("value", justify="right")
    for key, value in record["metrics"].items():
        table.add_row(key, f"{value:.4g}" if isinstance(value, float) else str(value))
    console = Console()
    console.print(table if record["metrics"] else "no configured metric applies to this checkpoint's data")
    console.print(f"wrote {record['written_to']}")
