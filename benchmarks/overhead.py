"""Trainer overhead: `gan train` against a bare PyTorch loop of the identical model and data.

Both loops train the same DCGAN (built from the same config, same initial weights) on the same
device-resident data with the same batch size, Adam settings and non-saturating loss. The
trainer runs with its defaults (progress display, metrics every 50 steps); timings are the
loop alone (after setup), repeated alternately, median reported.

    python benchmarks/overhead.py                       # defaults: dcgan on MNIST, 300 steps
    python benchmarks/overhead.py --steps 200 --repeats 5 model.g_channels=64 model.d_channels=64
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

import torch
import torch.nn.functional as F

from gan_cli import components
from gan_cli.config import compose, resolve
from gan_cli.training.devices import pick_device
from gan_cli.training.loop import load_data, train


def bare_loop(cfg: dict, data: torch.Tensor, steps: int) -> float:
    """The same training written by hand: seconds for ``steps`` steps."""
    torch.manual_seed(cfg["seed"])
    model = components.build(cfg, tuple(data.shape[1:]), 0).model.to(data.device)
    G, D, t = model.generator, model.discriminator, cfg["train"]
    g_opt = torch.optim.Adam(G.parameters(), lr=t["lr_g"], betas=tuple(t["betas"]))
    d_opt = torch.optim.Adam(D.parameters(), lr=t["lr_d"], betas=tuple(t["betas"]))
    bs, n = t["batch_size"], len(data)
    order, pos = torch.randperm(n, device=data.device), 0
    start = time.perf_counter()
    for _ in range(steps):
        if pos + bs > n:
            order, pos = torch.randperm(n, device=data.device), 0
        real = data[order[pos : pos + bs]]
        pos += bs
        with torch.no_grad():
            fake = G(torch.randn(bs, model.z_dim, device=data.device))
        real_out, fake_out = D(real), D(fake)
        d_loss = F.binary_cross_entropy_with_logits(
            real_out, torch.ones_like(real_out)
        ) + F.binary_cross_entropy_with_logits(fake_out, torch.zeros_like(fake_out))
        d_opt.zero_grad(set_to_none=True)
        d_loss.backward()
        d_opt.step()
        g_loss = F.softplus(-D(G(torch.randn(bs, model.z_dim, device=data.device)))).mean()
        g_opt.zero_grad(set_to_none=True)
        g_loss.backward()
        g_opt.step()
    d_loss.item()  # wait for queued work (GPU) before stopping the clock
    return time.perf_counter() - start


def trainer_loop(cfg: dict, steps: int) -> float:
    """The gan-cli trainer: seconds its loop took (the last training record's elapsed time; the
    final evaluation's record, after it, has none)."""
    with tempfile.TemporaryDirectory() as run_dir:
        train({**cfg, "train": {**cfg["train"], "steps": steps}}, Path(run_dir))
        records = [json.loads(line) for line in (Path(run_dir) / "metrics.jsonl").read_text().splitlines()]
    return [r for r in records if "elapsed_sec" in r][-1]["elapsed_sec"]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("overrides", nargs="*", help="config overrides, as for gan train")
    args = parser.parse_args()
    cfg = resolve(compose(["model=dcgan", "dataset.download=false", *args.overrides]))
    data = load_data(cfg).samples.to(pick_device(cfg["device"]))
    bare_loop(cfg, data, 20)  # warm-up (allocator, kernels)
    bare, ours = [], []
    for _ in range(args.repeats):
        bare.append(bare_loop(cfg, data, args.steps))
        ours.append(trainer_loop(cfg, args.steps))
    images = args.steps * cfg["train"]["batch_size"]
    b, o = statistics.median(bare), statistics.median(ours)
    print(
        f"device {data.device}, torch threads {torch.get_num_threads()}, batch {cfg['train']['batch_size']}, "
        f"{args.steps} steps x {args.repeats} repeats"
    )
    print(
        f"bare PyTorch loop : {b:7.2f} s  {images / b:8.1f} img/s  (runs: {', '.join(f'{x:.2f}' for x in bare)})"
    )
    print(
        f"gan-cli trainer   : {o:7.2f} s  {images / o:8.1f} img/s  (runs: {', '.join(f'{x:.2f}' for x in ours)})"
    )
    print(f"trainer overhead  : {100 * (o / b - 1):+6.1f} %")


if __name__ == "__main__":
    main()
