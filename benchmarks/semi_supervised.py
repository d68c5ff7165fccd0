"""Semi-supervised GAN runs scored on their held-out digits: the measurements of
docs/semi_supervised.md.

For each run (a ``model=ssgan`` checkpoint or run folder): its seed, step, labels kept, and the
error on the held-out images (``dataset.limit``) of D as trained and of the running average of
D's weights (what ``test_error`` and ``gan classify`` use); then the mean and standard error over
the runs of each ``unsupervised_weight`` (0: the plain-classifier baseline).

    python benchmarks/semi_supervised.py RUN [RUN ...]
"""

from __future__ import annotations

import argparse
import math
from collections import defaultdict

import torch

from gan_cli.datasets.base import split_off
from gan_cli.errors import GanError
from gan_cli.sampling import load_run
from gan_cli.training.checkpoint import resolve_path
from gan_cli.training.loop import load_data


def errors(run: str) -> tuple[dict, float, float]:
    """The run's config, and the raw and averaged D's error on its held-out images."""
    parts, state = load_run(resolve_path(run))
    cfg = state["config"]
    _, held_out = split_off(load_data(cfg), cfg["dataset"].get("limit"))
    if held_out is None or held_out.labels is None:
        raise GanError(f"{run} has no labelled held-out images (train it with dataset.limit)")
    images, labels = held_out.take(torch.arange(len(held_out))), held_out.labels
    model = parts.model.eval()
    with torch.no_grad():
        raw = (model.discriminator.logits(images).argmax(1) != labels).float().mean().item()
    averaged = (model.classify(images).argmax(1) != labels).float().mean().item()
    return {**cfg, "step": state["step"]}, raw, averaged


def mean_and_error(values: list[float]) -> str:
    mean = sum(values) / len(values)
    if len(values) < 2:
        return f"{100 * mean:.2f} %"
    spread = math.sqrt(sum((v - mean) ** 2 for v in values) / (len(values) - 1) / len(values))
    return f"{100 * mean:.2f} ± {100 * spread:.2f} %"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", nargs="+")
    args = parser.parse_args()
    groups: dict[float, list[float]] = defaultdict(list)
    print(f"{'run':<40} {'seed':>4} {'step':>6} {'labels':>6} {'raw D':>8} {'averaged D':>11}")
    for run in args.runs:
        cfg, raw, averaged = errors(run)
        weight = cfg["model"]["unsupervised_weight"]
        groups[weight].append(averaged)
        labels = cfg["dataset"].get("labelled") or "all"
        print(
            f"{run:<40} {cfg['seed']:>4} {cfg['step']:>6} {labels:>6} {100 * raw:>7.2f}% {100 * averaged:>10.2f}%"
        )
    for weight, values in sorted(groups.items(), reverse=True):
        name = "semi-supervised GAN" if weight else "plain classifier (unsupervised_weight=0)"
        print(f"{name}: averaged D's error {mean_and_error(values)} over {len(values)} run(s)")
    print(
        "published (Salimans et al. 2016, Table 1; 100 labels, 60k MNIST, 10 seeds): 93 ± 6.5 errors of 10 000"
    )


if __name__ == "__main__":
    main()
