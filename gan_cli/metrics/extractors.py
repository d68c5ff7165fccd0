"""The feature space a metric asks for, built once per process: the dataset's classifier
(``classifier.py``) or Inception-v3 (``inception.py``); see ``features.py``."""

from __future__ import annotations

from pathlib import Path

import torch

from gan_cli.datasets.base import DataSource
from gan_cli.metrics.classifier import trained_classifier
from gan_cli.metrics.features import Extractor, FeatureSpace
from gan_cli.metrics.inception import InceptionExtractor, inception_weights

_extractors: dict[tuple, Extractor | None] = {}


def image_extractor(
    kind: FeatureSpace, samples: torch.Tensor, data: DataSource, root: str, weights: str | None = None
) -> Extractor | None:
    """``extractor`` for image samples; None for 2-D points, which no feature space applies to."""
    return extractor(kind, data, root, weights, samples.device) if samples.dim() == 4 else None


def extractor(
    kind: FeatureSpace, data: DataSource, root: str, weights: str | None, device: torch.device
) -> Extractor | None:
    """The ``kind`` extractor for ``data`` on ``device`` (None: the data has no labels to train a
    classifier on), built once per process and shared by every metric that asks."""
    if kind == "inception":
        memo = (kind, str(inception_weights(weights)), str(device))
    else:
        memo = (kind, data.fingerprint(), str(Path(root).expanduser()), str(device))
    if memo not in _extractors:
        if kind == "inception":
            _extractors[memo] = InceptionExtractor(inception_weights(weights), device)
        else:
            _extractors[memo] = trained_classifier(data, root, device)
    return _extractors[memo]
