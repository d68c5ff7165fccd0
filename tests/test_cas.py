"""Classification Accuracy Score: real samples score as real data does, wrongly labelled ones
fail, and the few-label experiment reports each count with and without the samples."""

import pytest
import torch

from gan_cli.datasets.base import split_off
from gan_cli.datasets.labelled import balanced
from gan_cli.metrics import classifier
from gan_cli.metrics.base import Evaluation
from gan_cli.metrics.cas import real_split
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
    assert good["cas"] > 0.8 and abs(good["cas"] - good["cas_real"]) < 0.03  # one recipe, 80 steps
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


def test_a_run_that_held_data_out_is_tested_on_it_and_learns_from_its_training_data(digits):
    trained_on, held_out = split_off(digits, 9000)
    samples = digits.samples[:50]
    (fit, fit_labels), (test, test_labels) = real_split(
        Evaluation(samples, digits, None, None, None, held_out, trained_on), torch.device("cpu")
    )
    assert torch.equal(fit, trained_on.samples) and torch.equal(fit_labels, trained_on.labels)
    assert torch.equal(test, held_out.samples) and torch.equal(test_labels, held_out.labels)
    (fit, _), (test, _) = real_split(Evaluation(samples, digits, train=digits), torch.device("cpu"))
    chosen, tested, _, _ = classifier.split(len(digits))
    assert torch.equal(test, digits.samples[chosen[tested]])  # the dataset classifier's test images
    assert len(fit) + len(test) == len(digits)


@pytest.mark.slow  # two classifier trainings
def test_cas_scores_against_the_held_out_labels(digits):
    trained_on, held_out = split_off(digits, 9000)
    wrong = held_out.subset(torch.arange(len(held_out)))
    wrong.labels = (held_out.labels + 1) % 10  # every held-out digit misnamed
    cas_only = METRICS.build({"name": "cas", "real_labels": [], "steps": STEPS})
    pool = torch.arange(2000)
    ev = Evaluation(
        trained_on.samples[pool], digits, trained_on.labels[pool], held_out=wrong, train=trained_on
    )
    scored = cas_only(ev)
    assert scored["cas"] < 0.1 and scored["cas_real"] < 0.1
