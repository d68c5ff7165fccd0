"""Super-resolution runs side by side with bicubic: the measurements of docs/super_resolution.md.

For each run (SRGAN checkpoints trained on one dataset), on the inputs its evaluation uses (the
held-out images of ``dataset.limit``, seed + 1, as ``gan eval`` draws them): PSNR and SSIM against
the originals (luminance for colour), and for labelled data the dataset classifier's accuracy on
the upscaled images, with bicubic upscaling of the same inputs as the first row. ``--grid`` writes
the picture: a row per method (low-res input enlarged, bicubic, each run), then the originals.

    python benchmarks/super_resolution.py RUN [RUN ...] [--names A,B] [--grid out.png] [-n 2000]
"""

from __future__ import annotations

import argparse

import torch
import torch.nn.functional as F

from gan_cli import sampling
from gan_cli.datasets.base import split_off
from gan_cli.images import image_grid
from gan_cli.metrics.classifier import ClassifierExtractor
from gan_cli.metrics.extractors import extractor
from gan_cli.metrics.psnr_ssim import scores
from gan_cli.training.checkpoint import resolve_path
from gan_cli.training.loop import load_data

COLUMNS = 10  # images per row of the grid


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", nargs="+")
    parser.add_argument("--names", help="comma-separated row names (default: the run folders)")
    parser.add_argument("--grid", help="write the side-by-side picture here (.png)")
    parser.add_argument("-n", type=int, default=2000, help="held-out images scored")
    args = parser.parse_args()
    names = args.names.split(",") if args.names else args.runs
    loaded = [sampling.load_run(resolve_path(run)) for run in args.runs]
    cfg = loaded[0][1]["config"]
    data = load_data(cfg)
    _, held_out = split_off(data, cfg["dataset"].get("limit"))
    unseen = held_out if held_out is not None else data
    inputs = sampling.seeded_inputs(loaded[0][0], args.n, cfg["seed"] + 1, data=unseen)
    net = extractor("classifier", data, cfg["data"]["root"], None, torch.device("cpu"))
    low, targets = inputs["low_res"], inputs.targets
    rows = {
        "bicubic": F.interpolate(low, size=targets.shape[-2:], mode="bicubic", align_corners=False).clamp(
            -1, 1
        )
    }
    for name, (parts, _) in zip(names, loaded, strict=True):
        rows[name] = torch.cat([sampling.generate(parts.model, part) for part in inputs.batches(256)])
    print(
        f"{'method':<24} {'PSNR (dB)':>10} {'SSIM':>7} {'classifier acc':>15}   ({len(targets)} held-out images)"
    )
    for name, images in rows.items():
        record = scores(images, targets)
        accuracy = "—"
        if isinstance(net, ClassifierExtractor) and inputs.labels is not None:
            accuracy = f"{(net.predict(images) == inputs.labels).float().mean().item():.4f}"
        print(f"{name:<24} {record['psnr']:>10.2f} {record.get('ssim', float('nan')):>7.4f} {accuracy:>15}")
    if args.grid:
        enlarged = F.interpolate(low, size=targets.shape[-2:], mode="nearest")
        shown = [enlarged, *rows.values(), targets]
        image_grid(torch.cat([r[:COLUMNS] for r in shown]), nrow=COLUMNS).save(args.grid)
        print(f"rows of {args.grid}: input (enlarged), {', '.join(rows)}, original")


if __name__ == "__main__":
    main()
