"""Per-class accuracy of a class-conditional generator, judged by the dataset's classifier.

The measure of conditional GANs that Odena et al. 2017 (AC-GAN, arXiv:1610.09585) report:
generate samples for each label and ask a classifier trained on the real data whether they
show that class. ``class_acc_min`` exposes the class a generator fails; unconditional runs
(no labels) get nothing.
"""

from __future__ import annotations

from gan_cli.metrics.base import Evaluation, Metric
from gan_cli.metrics.classifier import ClassifierExtractor
from gan_cli.metrics.extractors import extractor
from gan_cli.registry import METRICS

PER_CLASS_KEYS = 100  # more classes than this: only the min and mean (stacked MNIST has 1000)


@METRICS.register("class_accuracy")
class ClassAccuracy(Metric):
    def __init__(
        self,
        root: str,  # injected: the data directory (classifier cache)
    ):
        self.root = root

    def __call__(self, ev: Evaluation) -> dict[str, float]:
        samples, data, labels = ev.outputs, ev.data, ev.labels
        if labels is None or samples.dim() != 4:
            return {}
        net = extractor("classifier", data, self.root, None, samples.device)
        if not isinstance(net, ClassifierExtractor):
            return {}
        hits = (net.predict(samples) == labels.to(samples.device)).double()
        per_class = {
            c: float(hits[labels == c].mean()) for c in range(data.num_classes) if bool((labels == c).any())
        }
        record = (
            {f"class_acc_{c}": acc for c, acc in per_class.items()}
            if data.num_classes <= PER_CLASS_KEYS
            else {}
        )
        return {
            **record,
            "class_acc_min": min(per_class.values()),
            "class_acc_mean": sum(per_class.values()) / len(per_class),
        }
