"""Test error of the model's own classifier (the semi-supervised GAN's D) on held-out images.

Salimans et al. 2016 report the fraction of test digits misclassified. Here the test images are
the part of the data the run did not train on (``dataset.limit``); a run without held-out data,
or a model that does not classify, gets no number.
"""

from __future__ import annotations

import torch

from gan_cli.metrics.base import Evaluation, Metric
from gan_cli.registry import METRICS

BATCH = 500  # images per forward pass


@METRICS.register("test_error")
class HeldOutError(Metric):
    def __call__(self, ev: Evaluation) -> dict[str, float]:
        data = ev.held_out
        if data is None or data.labels is None or ev.classify is None:
            return {}
        labels, wrong = data.labels.cpu(), 0
        for at in torch.arange(len(data)).split(BATCH):
            wrong += int((ev.classify(data.take(at)).argmax(1).cpu() != labels[at]).sum())
        return {"test_error": wrong / len(data)}
