"""Features and statistics of the real data, computed once per dataset and extractor.

Cached as ``<data root>/stats/<key>.pt``; the key hashes the data's content (so dataset,
split and resolution), the extractor and its weights, and how many real images were used.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import torch

from gan_cli.datasets.base import DataSource
from gan_cli.metrics.features import Extractor, cached, map_taken
from gan_cli.metrics.frechet import gaussian_stats

KEEP = 10_000  # real features kept for KID and precision/recall (a seeded random subset)


def reference_key(data: DataSource, extractor: Extractor, n: int) -> str:
    return hashlib.sha256(f"{data.fingerprint()}/{extractor.key}/{n}".encode()).hexdigest()[:16]


def reference(data: DataSource, extractor: Extractor, root: str, n: int) -> dict:
    """``mean``/``cov`` (float64) of the features of up to ``n`` real images, ``features`` of up
    to ``KEEP`` of them (float32, random order) and the cache ``key``."""
    key = reference_key(data, extractor, n)

    def build() -> dict:
        # A seeded order: a random subset when the data is larger than n, never the global RNG.
        order = torch.randperm(len(data), generator=torch.Generator().manual_seed(0))[:n]
        features = map_taken(data, order, extractor.features).cpu()
        mean, cov = gaussian_stats(features)
        return {"mean": mean, "cov": cov, "features": features[:KEEP].clone(), "n": len(features)}

    return {**cached(Path(root).expanduser() / "stats" / f"{key}.pt", build), "key": key}
