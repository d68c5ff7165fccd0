"""Stacked MNIST: the dataset's construction and the 1000-mode metric."""

import math

import pytest
import torch

from gan_cli.datasets.mnist import mnist
from gan_cli.datasets.stacked_mnist import CLASSES, stacked_mnist
from gan_cli.metrics import classifier
from gan_cli.metrics.stacked_modes import single_digits
from gan_cli.registry import METRICS
from gan_cli.training_loop import load_data
from tests.conftest import tiny_config


@pytest.fixture(scope="module")
def root(tmp_path_factory):
    return str(tmp_path_factory.mktemp("data"))


@pytest.fixture(scope="module")
def stacked(root):
    return stacked_mnist(root, n=2560, download=False)


@pytest.fixture(scope="module")
def modes(root):
    """The metric, with a digit classifier trained briefly (the full schedule takes a minute)."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(classifier, "STEPS", 300)
        metric = METRICS.build({"name": "stacked_modes"}, root=root)
        yield metric


def test_each_channel_is_an_mnist_digit_of_the_label_s_digit(stacked, root):
    digits = mnist(root, resolution=32, download=False)
    assert stacked.samples.shape == (2560, 3, 32, 32) and stacked.num_classes == 1000
    assert stacked.classes == CLASSES and 0 <= int(stacked.labels.min()) and int(stacked.labels.max()) < 1000
    flat = digits.samples.flatten(1)
    for i in range(5):
        for channel, digit in enumerate(
            (stacked.labels[i] // 100, stacked.labels[i] // 10 % 10, stacked.labels[i] % 10)
        ):
            match = (flat == stacked.samples[i, channel].flatten()).all(dim=1)
            assert bool(match.any()) and set(digits.labels[match].tolist()) == {int(digit)}


def test_the_draw_is_seeded_and_covers_the_modes_uniformly(root, stacked):
    assert torch.equal(stacked_mnist(root, n=2560, download=False).samples, stacked.samples)
    assert not torch.equal(stacked_mnist(root, n=2560, seed=1, download=False).labels, stacked.labels)
    # 2560 uniform draws over 1000 modes reach 1000 (1 - e^-2.56) = 923 of them on average.
    assert abs(len(stacked.labels.unique()) - 923) < 30


def test_the_config_builds_with_the_bundled_split(tmp_path):
    data = load_data(tiny_config(tmp_path, "dataset=stacked_mnist"))  # conftest: n=512 at 16x16
    assert data.samples.shape == (512, 3, 16, 16) and data.num_classes == 1000


def test_single_digits_are_each_distinct_digit_once(stacked):
    digits = single_digits(stacked)
    assert digits.num_classes == 10 and digits.samples.shape[1] == 1
    assert len(digits.samples) == len(digits.samples.flatten(1).unique(dim=0)) <= 3 * 2560


def test_real_stacked_samples_reach_the_modes_they_hold(stacked, modes):
    result = modes(stacked.samples, stacked)
    assert abs(result["stacked_modes"] - len(stacked.labels.unique())) < 40
    assert result["stacked_kl"] < 0.6


def test_a_collapsed_generator_reaches_one_mode(stacked, modes):
    collapsed = stacked.samples[:1].repeat(500, 1, 1, 1)
    result = modes(collapsed, stacked)
    assert result["stacked_modes"] == 1
    assert result["stacked_kl"] == pytest.approx(math.log(1000))


def test_the_metric_applies_only_to_stacked_mnist(root, modes):
    digits = mnist(root, resolution=32, download=False)
    assert modes(digits.samples[:10], digits) == {}
