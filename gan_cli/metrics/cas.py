"""Classification Accuracy Score, and what synthetic samples add to a few real labels.

Ravuri & Vinyals 2019, "Classification Accuracy Score for Conditional Generative Models",
arXiv:1905.10887: train a classifier on samples of a class-conditional generator (labelled with
the classes they were made for) and report its accuracy on real held-out data; a model whose
samples carry everything a class is gets the accuracy of real training data. Here the classifier
is the dataset classifier's architecture and recipe (``classifier.fit``), and ``cas_real`` the
same classifier trained on real labelled images, both tested on the same real images.

Which real images: a run that held data out (``dataset.limit``) is tested on that held-out data,
which its generator never saw, and its real classifier learns from the images it trained on.
Otherwise the dataset classifier's split is used: its 10 % test images were then among the
generator's training data, so the score may credit samples that recall them.

For each count R in ``real_labels``, the few-label experiment: the same classifier trained on R
real images (R / classes of each class, from the real training images, seeded), then on those R
plus every synthetic sample: ``acc_R_real`` and ``acc_R_real_synthetic``.

Each classifier is a full training (``classifier.STEPS`` steps, ~90 s on one core): this is a
``gan eval`` metric (``--metrics cas``), too slow to run at every evaluation of a training run.
"""

from __future__ import annotations

import torch

from gan_cli.datasets.base import DataSource, to_resolution
from gan_cli.datasets.labelled import balanced
from gan_cli.metrics import classifier
from gan_cli.metrics.base import Evaluation, Metric
from gan_cli.metrics.features import map_taken
from gan_cli.registry import METRICS
from gan_cli.schema import PositiveInt

Labelled = tuple[torch.Tensor, torch.Tensor]  # images at the classifier's size, their classes


@METRICS.register("cas")
class ClassificationAccuracyScore(Metric):
    def __init__(
        self,
        real_labels: list[PositiveInt] = (100, 1000),  # real-label counts of the few-label experiment
        steps: PositiveInt | None = None,  # each classifier's Adam steps (None: the dataset classifier's)
    ):
        self.real_labels, self.steps = list(real_labels), steps

    def __call__(self, ev: Evaluation) -> dict[str, float]:
        data, device = ev.data, ev.outputs.device
        if ev.labels is None or ev.outputs.dim() != 4 or data.labels is None or data.num_classes < 2:
            return {}
        (real, real_labels), (test_images, test_labels) = real_split(ev, device)
        synthetic = to_resolution(ev.outputs.float(), classifier.SIZE)
        synthetic_labels = ev.labels.to(device)

        def score(images: torch.Tensor, labels: torch.Tensor) -> float:
            g = torch.Generator().manual_seed(classifier.SEED)
            at = torch.arange(len(images), device=device)
            network = classifier.fit(images, labels, at, data.num_classes, g, self.steps)
            return classifier.accuracy(network, test_images, test_labels)

        record = {"cas": score(synthetic, synthetic_labels), "cas_real": score(real, real_labels)}
        everyone = torch.arange(len(real_labels))
        for count in self.real_labels:
            few = balanced(everyone, real_labels.cpu(), count, data.num_classes, classifier.SEED).to(device)
            record[f"acc_{count}_real"] = score(real[few], real_labels[few])
            record[f"acc_{count}_real_synthetic"] = score(
                torch.cat([real[few], synthetic]), torch.cat([real_labels[few], synthetic_labels])
            )
        return record


def real_split(ev: Evaluation, device: torch.device) -> tuple[Labelled, Labelled]:
    """The real images a classifier learns from and those it is tested on: the run's own
    training and held-out data where both are labelled, else the dataset classifier's split."""
    if all(part is not None and part.labels is not None for part in (ev.train, ev.held_out)):
        return labelled(ev.train, None, device), labelled(ev.held_out, None, device)
    chosen, test, fit_at, _ = classifier.split(len(ev.data))
    return labelled(ev.data, chosen[fit_at], device), labelled(ev.data, chosen[test], device)


def labelled(data: DataSource, at: torch.Tensor | None, device: torch.device) -> Labelled:
    """The images of ``data`` at ``at`` (None: all), at the classifier's size, with their classes."""
    at = torch.arange(len(data)) if at is None else at
    images = map_taken(data, at, lambda x: to_resolution(x.to(device).float(), classifier.SIZE))
    return images, data.labels[at.to(data.labels.device)].to(device)
