"""The data-copying test: copies of training digits score near 1, unseen digits near 0.5, noise
near 0, and a run without held-out data, or a translator, gets no number."""

import pytest
import torch

from gan_cli.datasets.base import split_off
from gan_cli.metrics.base import Evaluation
from gan_cli.metrics.copying import comparable, nearer_fraction, nearest
from gan_cli.models.inputs import Inputs
from gan_cli.registry import METRICS


@pytest.fixture(scope="module")
def halves(digits):
    return split_off(digits, 1000)  # 1000 digits to train on, 9000 held out


def copying(outputs, data, train, held_out):
    return METRICS.build({"name": "copying"})(Evaluation(outputs, data, held_out=held_out, train=train))


def test_copies_of_the_training_digits_score_near_one(digits, halves):
    train, held_out = halves
    scored = copying(train.samples[:500], digits, train, held_out)
    assert scored["copy_auc"] > 0.99 and scored["nn_train_fake"] < 0.01
    assert scored["nn_train_held_out"] > 0.2  # unseen digits are no copies of the training ones


def test_unseen_digits_score_near_a_half_and_noise_near_zero(digits, halves):
    train, held_out = halves
    fresh = held_out.samples[-500:]  # not among the first 500 that the metric compares them with
    assert abs(copying(fresh, digits, train, held_out)["copy_auc"] - 0.5) < 0.06
    noise = torch.rand(500, *digits.shape, generator=torch.Generator().manual_seed(0)) * 2 - 1
    assert copying(noise, digits, train, held_out)["copy_auc"] < 0.01


def test_a_run_without_held_out_data_gets_no_number(digits, halves):
    train, held_out = halves
    assert copying(train.samples[:50], digits, train, None) == {}
    assert copying(torch.zeros(50, 3, 8, 8), digits, train, held_out) == {}  # not the data's kind
    translated = Evaluation(train.samples[:50], digits, inputs=Inputs({"source": train.samples[:50]}))
    translated.train, translated.held_out = train, held_out
    assert METRICS.build({"name": "copying"})(translated) == {}  # answers an image, not noise


def test_distances_are_to_the_nearest_training_sample_in_rms_per_value(digits, monkeypatch):
    monkeypatch.setattr("gan_cli.metrics.copying.CHUNK", 2)  # the nearest found across chunks
    train = digits.subset(torch.arange(3))
    queries = train.samples[[2, 0]] + 0.1
    distance, at = nearest(queries, train)
    assert distance.tolist() == pytest.approx([0.1, 0.1], abs=1e-3) and at.tolist() == [2, 0]


def test_the_fraction_counts_ties_half():
    assert nearer_fraction(torch.tensor([1.0, 3.0]), torch.tensor([2.0])) == 0.5
    assert nearer_fraction(torch.tensor([2.0]), torch.tensor([2.0, 5.0])) == 0.75


def test_images_of_any_size_are_compared_at_32_pixels_and_points_as_they_are():
    grey = comparable(torch.full((2, 3, 128, 128), 0.5))
    assert grey.shape == (2, 3 * 32 * 32) and torch.allclose(grey, torch.tensor(0.5))
    digit = torch.rand(1, 1, 28, 28) * 2 - 1  # 28 -> 32 pads with black and keeps every pixel
    padded = comparable(digit).view(1, 1, 32, 32)
    assert torch.equal(padded[..., 2:30, 2:30], digit) and (padded[..., :2, :] == -1).all()
    points = torch.randn(5, 2)
    assert torch.equal(comparable(points), points)
