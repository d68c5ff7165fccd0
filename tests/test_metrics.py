"""The toy-mixture metrics on samples whose answer is known."""

import math

import pytest
import torch

from gan_cli.datasets.toy_mixtures import grid25, ring8
from gan_cli.metrics.base import Evaluation
from gan_cli.registry import METRICS


def toy_modes(samples, data):
    return METRICS.build({"name": "toy_modes"})(Evaluation(samples, data))


def test_real_samples_cover_every_mode_with_high_quality():
    for data in (ring8(n=5000), grid25(n=5000, seed=1)):
        result = toy_modes(data.samples[:2500], data)
        assert result["modes_covered"] == result["modes_total"] == len(data.modes)
        # In 2-D, P(|x - centre| <= 3 std) = 1 - exp(-4.5) = 98.9 %.
        assert result["high_quality_pct"] == pytest.approx(100 * (1 - math.exp(-4.5)), abs=0.6)
        assert result["reverse_kl"] < 0.02


def test_a_collapsed_generator_covers_one_mode():
    data = ring8(n=100)
    collapsed = data.modes[3] + 0.01 * torch.randn(2500, 2)
    result = toy_modes(collapsed, data)
    assert result["modes_covered"] == 1 and result["high_quality_pct"] == 100.0
    assert result["reverse_kl"] == pytest.approx(math.log(8))


def test_samples_between_modes_are_low_quality_and_cover_nothing():
    data = ring8(n=100)
    between = 0.5 * (data.modes[0] + data.modes[1]) + 0.001 * torch.randn(2500, 2)
    result = toy_modes(between, data)
    assert result["modes_covered"] == 0 and result["high_quality_pct"] == 0.0
    assert result["reverse_kl"] == math.inf  # no high-quality sample: undefined


def test_one_high_quality_sample_covers_a_mode_and_min_samples_asks_more():
    data = ring8(n=100)
    samples = torch.cat([data.modes[0].expand(2499, 2), data.modes[1].expand(1, 2)])
    assert toy_modes(samples, data)["modes_covered"] == 2  # PacGAN's code: one is enough
    strict = METRICS.build({"name": "toy_modes", "min_samples": 20})
    assert strict(Evaluation(samples, data))["modes_covered"] == 1


def test_reverse_kl_counts_only_high_quality_samples():
    data = ring8(n=100)
    far = torch.tensor([[50.0, 50.0]]).expand(2000, 2)
    even = torch.cat([data.modes.repeat(50, 1), far])  # 400 on the modes, evenly; 2000 nowhere
    result = toy_modes(even, data)
    assert result["reverse_kl"] == pytest.approx(0.0, abs=1e-12)
    assert result["high_quality_pct"] == pytest.approx(100 * 400 / 2400)


def test_images_get_no_toy_metrics():
    from gan_cli.datasets.base import Data

    assert toy_modes(torch.zeros(4, 1, 8, 8), Data(torch.zeros(4, 1, 8, 8))) == {}
