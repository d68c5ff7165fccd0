"""The FID a run could reach at best: real images scored as the run's own FID scores its samples.

A run's FID compares ``eval.n`` samples with statistics of the whole dataset. Real images drawn
from the whole dataset score above zero (FID is biased by the sample count), and images drawn,
with repeats, from the subset a run trains on (``dataset.limit``) score what a generator that
reproduced its training images exactly would: a floor no run on that subset can be expected to
beat. docs/limited_data.md uses it to ask whether "within 1.5x of the full data's FID" is
reachable from 100 or 1000 digits at all.

    python benchmarks/data_floor.py RUN [--limit 100 --limit 1000] [--draws 5]
"""

from __future__ import annotations

import argparse

import torch

from gan_cli.commands.report import mean_se
from gan_cli.datasets.base import DataSource, split_off
from gan_cli.errors import GanError
from gan_cli.metrics.extractors import image_extractor
from gan_cli.metrics.features import Extractor
from gan_cli.metrics.frechet import frechet_distance, gaussian_stats
from gan_cli.metrics.reference import reference
from gan_cli.sampling import load_run
from gan_cli.training.checkpoint import resolve_path
from gan_cli.training.loop import load_data


def fids(pool: DataSource, net: Extractor, real: dict, n: int, draws: int) -> list[float]:
    """FID of ``n`` images drawn with repeats from ``pool``, once per seed 0 .. draws - 1."""
    values = []
    for seed in range(draws):
        at = torch.randint(len(pool), (n,), generator=torch.Generator().manual_seed(seed))
        features = net.features(pool.take(at)).cpu()
        values.append(frechet_distance(*gaussian_stats(features), real["mean"], real["cov"]))
    return values


def positive(text: str) -> int:
    if not text.isdigit() or int(text) == 0:
        raise argparse.ArgumentTypeError(f"must be a positive whole number, got {text!r}")
    return int(text)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run", help="a run folder or checkpoint: its dataset, FID metric and eval.n")
    parser.add_argument("--limit", type=positive, action="append", help="subset sizes (default: the run's)")
    parser.add_argument("--draws", type=positive, default=5, help="draws of eval.n images per row")
    args = parser.parse_args()
    parts, state = load_run(resolve_path(args.run))
    cfg = state["config"]
    metric = next((m for m in parts.metrics if m.registered_name == "fid"), None)
    if metric is None:
        raise GanError(f"{args.run} computes no FID (metrics has no fid)")
    data, n = load_data(cfg), cfg["eval"]["n"]
    net = image_extractor(metric.kind, data.head(2), data, metric.root, metric.weights)
    if net is None:
        raise GanError(f"{args.run} trains on points, not images: FID does not apply")
    real = reference(data, net, metric.root, metric.reference_n)
    limits = [x for x in args.limit or [cfg["dataset"].get("limit")] if x is not None]
    pools = {f"all {len(data)}": data, **{f"dataset.limit={x}": split_off(data, x)[0] for x in limits}}
    print(
        f"fid_{net.name} of {n} real images against the run's reference ({real['n']} images), {args.draws} draws"
    )
    for source, pool in pools.items():
        values = fids(pool, net, real, n, args.draws)
        mean, spread = mean_se(values)
        print(
            f"  drawn from {source:<22} {mean:8.3f} ± {spread or 0:.3f}   ({', '.join(f'{v:.3f}' for v in values)})"
        )


if __name__ == "__main__":
    try:
        main()
    except GanError as err:
        raise SystemExit(f"error: {err}") from None
