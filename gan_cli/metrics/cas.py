"""Classification Accuracy Score, and what synthetic samples add to a few real labels.

Ravuri & Vinyals 2019, "Classification Accuracy Score for Conditional Generative Models",
arXiv:1905.10887: train a classifier on samples of a class-conditional generator (labelled with
the classes they were made for) and report its accuracy on real held-out data; a model whose
samples carry everything a class is gets the accuracy of real training data. Here the classifier
is the dataset classifier's architecture and recipe (``classifier.fit``), the held-out data its
own test split, and ``cas_real`` the dataset classifier's accuracy there (trained on real data).

For each count R in ``real_labels``, the few-label experiment: the same classifier trained on R
real images (R / classes of each class, from the dataset classifier's training split, seeded),
then on those R plus every synthetic sample: ``acc_R_real`` and ``acc_R_real_synthetic``.

Each classifier is a full training (``classifier.STEPS`` steps, ~90 s on one core): this is a
``gan eval`` metric (``--metrics cas``), too slow to run at every evaluation of a training run.
"""

from __future__ import annotations

import torch

from gan_cli.datasets.base import to_resolution
from gan_cli.datasets.labelled import balanced
from gan_cli.metrics import classifier
from gan_cli.metrics.base import Evaluation, Metric
from gan_cli.metrics.classifier import ClassifierExtractor
from gan_cli.metrics.extractors import extractor
from gan_cli.metrics.features import map_taken
from gan_cli.registry import METRICS
from gan_cli.schema import PositiveInt


@METRICS.register("cas")
class ClassificationAccuracyScore(Metric):
    def __init__(
        self,
        root: str,  # injected: the data directory (classifier cache)
        real_labels: list[PositiveInt] = (100, 1000),  # real-label counts of the few-label experiment
        steps: PositiveInt | None = None,  # each classifier's Adam steps (None: the dataset classifier's)
    ):
        self.root, self.real_labels, self.steps = root, list(real_labels), steps

    def __call__(self, ev: Evaluation) -> dict[str, float]:
        data, device = ev.data, ev.outputs.device
        if ev.labels is None or ev.outputs.dim() != 4 or data.labels is None or data.num_classes < 2:
            return {}
        real_net = extractor("classifier", data, self.root, None, device)
        if not isinstance(real_net, ClassifierExtractor):
            return {}
        chosen, test, fit_at, _ = classifier.split(len(data))
        real = map_taken(data, chosen, lambda x: to_resolution(x.to(device).float(), classifier.SIZE))
        real_labels = data.labels[chosen].to(device)
        test_images, test_labels = real[test.to(device)], real_labels[test.to(device)]
        synthetic = to_resolution(ev.outputs.float(), classifier.SIZE)
        synthetic_labels = ev.labels.to(device)

        def score(images: torch.Tensor, labels: torch.Tensor) -> float:
            g = torch.Generator().manual_seed(classifier.SEED)
            at = torch.arange(len(images), device=device)
            network = classifier.fit(images, labels, at, data.num_classes, g, self.steps)
            return classifier.accuracy(network, test_images, test_labels)

        record = {"cas": score(synthetic, synthetic_labels), "cas_real": real_net.test_accuracy}
        for count in self.real_labels:
            few = balanced(fit_at, real_labels.cpu(), count, data.num_classes, classifier.SEED).to(device)
            record[f"acc_{count}_real"] = score(real[few], real_labels[few])
            record[f"acc_{count}_real_synthetic"] = score(
                torch.cat([real[few], synthetic]), torch.cat([real_labels[few], synthetic_labels])
            )
        return record
