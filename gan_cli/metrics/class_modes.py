"""Which classes an unconditional generator reaches, judged by the dataset's classifier.

MNIST's mode-collapse measure (as in Srivastava et al. 2017, VEEGAN, arXiv:1705.07761, on
their MNIST variants): the classifier labels every sample; a class counts as covered when it
gets at least a tenth of its fair share of samples, and KL(label histogram ‖ uniform) says how
evenly the classes are reached (0 for a perfectly balanced generator, log K for a collapsed
one). Datasets whose classes are not balanced make the KL a comparison between runs, not an
absolute. Conditional runs (labels given) and Stacked MNIST (``stacked_modes``) get nothing.
"""

from __future__ import annotations

import torch

from gan_cli.datasets.stacked_mnist import CLASSES as STACKED
from gan_cli.metrics.base import Evaluation, Metric
from gan_cli.metrics.classifier import ClassifierExtractor
from gan_cli.metrics.extractors import extractor
from gan_cli.metrics.histogram import kl_to_uniform
from gan_cli.registry import METRICS
from gan_cli.schema import NonNegativeFloat


@METRICS.register("class_modes")
class ClassModes(Metric):
    def __init__(
        self,
        root: str,  # injected: the data directory (classifier cache)
        min_share: NonNegativeFloat = 0.1,  # covered: at least this fraction of the uniform share of samples
    ):
        self.root = root
        self.min_share = min_share

    def __call__(self, ev: Evaluation) -> dict[str, float]:
        samples, data, labels = ev.outputs, ev.data, ev.labels
        if labels is not None or samples.dim() != 4 or data.classes == STACKED:
            return {}
        net = extractor("classifier", data, self.root, None, samples.device)
        if not isinstance(net, ClassifierExtractor):
            return {}
        predicted = net.predict(samples)
        counts = torch.bincount(predicted, minlength=data.num_classes)
        covered = counts >= self.min_share * len(samples) / data.num_classes
        return {
            "class_modes": int(covered.sum()),
            "class_kl": kl_to_uniform(predicted, data.num_classes),
        }
