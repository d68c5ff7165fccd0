"""Classification Accuracy Score: real samples score as real data does, wrongly labelled ones
fail, and the few-label experiment reports each count with and without the samples."""

import pytest
import torch

from gan_cli.datasets.labelled import balanced
from gan_cli.metrics import classifier
from gan_cli.metrics.base import Evaluation
from gan_cli.registry import METRICS

STEPS = 80  # short classifier trainings: a clear signal on real digits in seconds


@pytest.fixture(scope="module")
def metric(root):
    return METRICS.build({"name": "cas", "real_labels": [100], "steps": STEPS}, root=root)


@pytest.mark.slow  # four classifier trainings
def test_samples_that_are_real_digits_score_near_the_real_classifier(metric, digits, root):
    _, test, _, _ = classifier.split(len(digits))
    unseen = torch.ones(len(digits), dtype=torch.bool)
    unseen[classifier.held_out(len(digits))] = False  # never the images CAS is tested on
    pool = unseen.nonzero().flatten()[:2000]
    good = metric(Evaluation(digits.samples[pool], digits, digits.labels[pool]))
    assert good["cas"] > 0.8 and good["cas_real"] >= 0.975  # 80 steps, not the full 1500
    assert 0.3 < good["acc_100_real"] < good["acc_100_real_synthetic"]  # the samples add what 100 labels lack
    shuffled = digits.labels[pool][torch.randperm(len(pool), generator=torch.Generator().manual_seed(0))]
    cas_only = METRICS.build({"name": "cas", "real_labels": [], "steps": STEPS}, root=root)
    bad = cas_only(Evaluation(digits.samples[pool], digits, shuffled))
    assert bad["cas"] < 0.3  # samples that do not show their class teach nothing


def test_the_few_labels_are_balanced_and_fixed():
    labels = torch.arange(1000) % 10
    at = torch.arange(200, 1000)
    few = balanced(at, labels, 100, 10, seed=0)
    assert len(few) == 100 and torch.bincount(labels[few], minlength=10).tolist() == [10] * 10
    assert set(few.tolist()) <= set(at.tolist()) and torch.equal(few, balanced(at, labels, 100, 10, seed=0))


def test_cas_applies_only_to_labelled_samples(metric, digits):
    assert metric(Evaluation(digits.samples[:50], digits)) == {}
