"""``gan bench``: training throughput of any config on this device.

It runs the real trainer (``training_loop.train``, so what is measured is what ``gan train``
does) in a temporary folder with samples, metrics and checkpoints pushed out of the way, and
reads the throughput of each logging interval from its records: the first ``warmup`` steps
(compilation, cuDNN autotuning, allocator growth) are dropped and the median of the following
``repeats`` intervals is reported. ``--compare`` repeats the run in plain eager float32
(``performance.PLAIN``), so the speed-up is a ratio of two runs in one process.
"""

from __future__ import annotations

import json
import logging
import resource
import statistics
import sys
import tempfile
from pathlib import Path
from typing import Annotated, Any

import typer

log = logging.getLogger(__name__)

QUIET = [
    "log.progress=false",
    "metrics=none",
    "sample.every=1000000000",
    "eval.every=1000000000",
    "checkpoint.every=1000000000",
]


def flops_per_image(cfg: dict[str, Any]) -> float | None:
    """Model FLOPs of one training step (every forward and backward of G and D, as PyTorch's
    FLOP counter sees them) per image drawn, counted on a CPU copy with a small batch; None
    where the counter cannot follow the step (its module hooks refuse the double backward of
    a gradient penalty)."""
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    from gan_cli import components
    from gan_cli.training.loop import load_data

    cfg = {**cfg, "device": "cpu", "train": {**cfg["train"], "batch_size": 8}}
    data = load_data(cfg)
    parts = components.build(cfg, data.shape, data.num_classes)
    model = parts.model
    g_opt, d_opt = (torch.optim.Adam(net.parameters()) for net in (model.generator, model.discriminator))
    parts.tricks.configure(g_opt, d_opt)  # as training does: the unrolled look-ahead reads D's optimizer
    step = model.step_class(model, parts.loss, parts.tricks, g_opt, d_opt, parts.latent)
    batches = data.batches(8, seed=0)
    try:
        with FlopCounterMode(display=False) as counter:
            step(1, batches)
    except RuntimeError as err:
        log.warning("FLOPs not counted: PyTorch's FLOP counter stopped (%s)", str(err).splitlines()[0])
        return None
    return counter.get_total_flops() / (batches.batch_size * parts.tricks.d_steps)


def measure(overrides: list[str], warmup: int, interval: int, repeats: int) -> dict[str, Any]:
    """Median images/s and steps/s over ``repeats`` intervals of ``interval`` steps after
    ``warmup`` steps, and the peak memory of the run."""
    import torch

    from gan_cli.config import compose, resolve
    from gan_cli.training.loop import train

    warm_steps = -(-warmup // interval) * interval  # whole intervals
    steps = warm_steps + interval * repeats
    cfg = resolve(compose([*overrides, *QUIET, f"train.steps={steps}", f"log.every={interval}"]))
    # metrics=none empties the group, but a preset may name metrics of its own
    # (r3gan_stacked_mnist): the final evaluation would train a classifier inside the timing.
    cfg["metrics"] = {}
    cuda = torch.cuda.is_available() and cfg["device"] != "cpu"
    if cuda:
        torch.cuda.reset_peak_memory_stats()
    with tempfile.TemporaryDirectory(prefix="gan-bench-") as tmp:
        train(cfg, Path(tmp) / "run")
        records = [
            json.loads(line) for line in (Path(tmp) / "run" / "metrics.jsonl").read_text().splitlines()
        ]
    timed = [r["images_per_sec"] for r in records if r["step"] > warm_steps]
    flops = flops_per_image(cfg)
    seconds = [
        b["elapsed_sec"] - a["elapsed_sec"] for a, b in zip(records, records[1:]) if b["step"] > warm_steps
    ]
    return {
        "images_per_sec": statistics.median(timed),
        "gflops_per_image": None if flops is None else flops / 1e9,
        "tflops_per_sec": None if flops is None else flops * statistics.median(timed) / 1e12,
        "steps_per_sec": interval / statistics.median(seconds),
        "peak_memory_mb": (
            torch.cuda.max_memory_allocated() / 2**20
            if cuda
            else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB
        ),
        "memory_kind": "GPU allocated" if cuda else "process RSS",
        "device": torch.cuda.get_device_name() if cuda else f"CPU, {torch.get_num_threads()} threads",
        "spread": (min(timed), max(timed)),
    }


def bench_command(
    ctx: typer.Context,
    steps: Annotated[int, typer.Option(min=1, help="Steps per timed interval.")] = 20,
    warmup: Annotated[int, typer.Option(min=0, help="Steps run before timing starts.")] = 20,
    repeats: Annotated[int, typer.Option(min=1, help="Timed intervals; the median is reported.")] = 5,
    compare: Annotated[
        bool, typer.Option(help="Also run in plain eager float32 and report the speed-up.")
    ] = False,
    json_out: Annotated[
        Path | None,
        typer.Option("--json", help="Also write the results to this new file (never overwritten)."),
    ] = None,
    peak_tflops: Annotated[
        float | None,
        typer.Option(help="The device's peak TFLOP/s (e.g. 989 for an H100's dense bf16), for % of peak."),
    ] = None,
) -> None:
    """Measure training throughput (images/s, steps/s, peak memory) of a config on this device.

    Arguments are config overrides, as for gan train.

    Examples:

      gan bench                                         # the default DCGAN on MNIST

      gan bench --compare train.batch_size=128          # optimized vs plain eager fp32

      gan bench model=dcgan dataset.resolution=64 trainer.compile=true --steps 50

      gan bench --peak-tflops 989 model=biggan             # how far from an H100's bf16 peak

    FLOPs are the model's (PyTorch's FLOP counter over one training step, per image), so
    TFLOP/s ÷ the peak is the model FLOPs utilization.
    """
    from rich.console import Console
    from rich.table import Table

    from gan_cli.outputs import check_new, new_file
    from gan_cli.training.performance import PLAIN

    overrides = list(ctx.args)
    if json_out is not None:  # checked before minutes of benchmarking, written only at the end
        check_new(json_out, "--json path")
    variants = {"as configured": overrides}
    if compare:
        variants["plain eager fp32"] = [*overrides, *PLAIN]
    results = {name: measure(args, warmup, steps, repeats) for name, args in variants.items()}
    table = Table(title=f"gan bench — {next(iter(results.values()))['device']}")
    columns = [
        "variant",
        "images/s",
        "steps/s",
        "spread (images/s)",
        "peak memory (MiB)",
        "TFLOP/s",
        "speed-up",
    ]
    if peak_tflops:
        columns.insert(-1, "% of peak")
    for column in columns:
        table.add_column(column, justify="left" if column == "variant" else "right")
    baseline = results.get("plain eager fp32")
    for name, r in results.items():
        ratio = f"{r['images_per_sec'] / baseline['images_per_sec']:.2f}×" if baseline else "—"
        low, high = r["spread"]
        row = [
            name,
            f"{r['images_per_sec']:.1f}",
            f"{r['steps_per_sec']:.2f}",
            f"{low:.0f}–{high:.0f}",
            f"{r['peak_memory_mb']:.0f} ({r['memory_kind']})",
            "—" if r["tflops_per_sec"] is None else f"{r['tflops_per_sec']:.3g}",
        ]
        if peak_tflops:
            row.append(
                "—" if r["tflops_per_sec"] is None else f"{100 * r['tflops_per_sec'] / peak_tflops:.1f} %"
            )
        table.add_row(*row, ratio)
    Console(file=sys.stdout).print(table)
    if json_out is not None:
        with new_file(json_out) as f:
            f.write((json.dumps({"overrides": overrides, "results": results}, indent=2) + "\n").encode())
