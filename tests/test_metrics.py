"""The toy-mixture metrics on samples whose answer is known."""

import math

import pytest
import torch

from gan_cli.datasets.toy_mixtures import grid25, ring8
from gan_cli.registry import METRICS


def toy_modes(samples, data):
    return METRICS.build({"name": "toy_modes"})(samples, data)


def test_real_samples_cover_every_mode_with_high_quality():
    for data in (ring8(n=5000), grid25(n=5000, seed=1)):
        result = toy_modes(data.samples[:2500], data)
        assert result["modes_covered"] == result["modes_total"] == len(data.modes)
        # In 2-D, P(|x - centre| <= 3 std) = 1 - exp(-4.5) = 98.9 %.
        assert result["high_quality_pct"] == pytest.approx(100 * (1 - math.exp(-4.5)), abs=0.6)
        assert result["mode_kl"] < 0.02


def test_a_collapsed_generator_covers_one_mode():
    data = ring8(n=100)
    collapsed = data.modes[3] + 0.01 * torch.randn(2500, 2)
    result = toy_modes(collapsed, data)
    assert result["modes_covered"] == 1 and result["high_quality_pct"] == 100.0
    assert result["mode_kl"] == pytest.approx(math.log(8))


def test_samples_between_modes_are_low_quality_and_cover_nothing():
    data = ring8(n=100)
    between = 0.5 * (data.modes[0] + data.modes[1]) + 0.001 * torch.randn(2500, 2)
    result = toy_modes(between, data)
    assert result["modes_covered"] == 0 and result["high_quality_pct"] == 0.0


def test_a_mode_needs_enough_samples_to_count():
    data = ring8(n=100)
    samples = torch.cat([data.modes[0].expand(2490, 2), data.modes[1].expand(10, 2)])
    assert toy_modes(samples, data)["modes_covered"] == 1  # 10 < 20 of 2500


def test_images_get_no_toy_metrics():
    from gan_cli.datasets.base import Data

    assert toy_modes(torch.zeros(4, 1, 8, 8), Data(torch.zeros(4, 1, 8, 8))) == {}
