"""Inception Score.

Salimans et al. 2016, "Improved Techniques for Training GANs", arXiv:1606.03498:
IS = exp(E_x KL(p(y|x) ‖ p(y))), high when each sample is confidently one class and the
classes are varied; computed on 10 splits of the samples, reporting mean and standard
deviation as the paper. With ``features: classifier`` it is the same score under the dataset's
own classifier (at most the number of classes), the usual variant on MNIST.
"""

from __future__ import annotations

import torch

from gan_cli.metrics.base import Evaluation, Metric
from gan_cli.metrics.extractors import image_extractor
from gan_cli.metrics.features import FeatureSpace
from gan_cli.registry import METRICS
from gan_cli.schema import PositiveInt


def inception_score(probabilities: torch.Tensor, splits: int = 10) -> tuple[float, float]:
    """Mean and standard deviation of the score over ``splits`` consecutive parts."""
    scores = []
    for part in probabilities.double().chunk(splits):
        marginal = part.mean(dim=0, keepdim=True)
        kl = (part * (part.clamp(min=1e-30).log() - marginal.clamp(min=1e-30).log())).sum(dim=1)
        scores.append(kl.mean().exp())
    values = torch.stack(scores)
    return float(values.mean()), float(values.std()) if len(values) > 1 else 0.0


@METRICS.register("inception_score")
class InceptionScore(Metric):
    def __init__(
        self,
        root: str,  # injected: the data directory (classifier cache)
        features: FeatureSpace = "inception",  # inception (the paper) or classifier
        weights: str | None = None,  # inception weights file; default: torch.hub's cache
        splits: PositiveInt = 10,  # parts the samples are scored in (the paper: 10)
    ):
        self.root = root
        self.kind = features
        self.weights = weights
        self.splits = splits

    def __call__(self, ev: Evaluation) -> dict[str, float]:
        samples, data = ev.outputs, ev.data
        net = image_extractor(self.kind, samples, data, self.root, self.weights)
        if net is None:
            return {}
        mean, std = inception_score(net.probabilities(samples), self.splits)
        return {f"is_{net.name}": mean, f"is_std_{net.name}": std}
