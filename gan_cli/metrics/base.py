"""The interface every metric implements."""

from __future__ import annotations

import torch

from gan_cli.datasets.base import Data


class Metric:
    """Generated samples and the real data -> named numbers for ``metrics.jsonl``.

    Returns ``{}`` when the metric does not apply to this data (a mode count on images). Must
    not draw from the global RNGs: evaluation runs inside training, and a resumed run has to
    reproduce the uninterrupted one exactly.
    """

    def __call__(self, samples: torch.Tensor, data: Data) -> dict[str, float]:
        raise NotImplementedError
