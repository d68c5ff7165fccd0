"""The interface every metric implements."""

from __future__ import annotations

import torch

from gan_cli.datasets.base import DataSource


class Metric:
    """Generated samples and the real data -> named numbers for ``metrics.jsonl``.

    ``labels`` are the classes the samples were generated for (conditional models), else None.
    Returns ``{}`` when the metric does not apply (a mode count on images). Must not draw from
    the global RNGs: evaluation runs inside training, and a resumed run has to reproduce the
    uninterrupted one exactly. A constructor may take ``root`` (injected: the data root, for
    caches of reference statistics and classifiers).
    """

    def __call__(
        self, samples: torch.Tensor, data: DataSource, labels: torch.Tensor | None = None
    ) -> dict[str, float]:
        raise NotImplementedError
