"""The statistics behind FID, KID, precision/recall and IS, against answers known in advance."""

import math

import numpy as np
import pytest
import scipy.linalg
import torch

from gan_cli.metrics.frechet import frechet_distance, gaussian_stats
from gan_cli.metrics.inception_score import inception_score
from gan_cli.metrics.kid import kernel_distance, mmd2_unbiased, polynomial_kernel
from gan_cli.metrics.precision_recall import precision_recall


def random_gaussian(n, dim, seed, shift=0.0):
    """n draws (seeded by ``seed``) from one correlated Gaussian per ``dim``, shifted by ``shift``."""
    mixing = torch.randn(dim, dim, generator=torch.Generator().manual_seed(dim), dtype=torch.float64)
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, dim, generator=g, dtype=torch.float64) @ mixing / math.sqrt(dim) + shift


def scipy_frechet(x: np.ndarray, y: np.ndarray) -> float:
    """The textbook formula with scipy's general matrix square root, as pytorch-fid computes it."""
    m1, m2 = x.mean(0), y.mean(0)
    c1, c2 = np.cov(x, rowvar=False), np.cov(y, rowvar=False)
    root = scipy.linalg.sqrtm(c1 @ c2).real
    return float(((m1 - m2) ** 2).sum() + np.trace(c1) + np.trace(c2) - 2 * np.trace(root))


@pytest.mark.parametrize("dim,shift", [(8, 0.3), (64, 0.0), (64, 1.0)])
def test_frechet_distance_matches_scipy_sqrtm_in_float64(dim, shift):
    x, y = random_gaussian(2000, dim, 0), random_gaussian(2000, dim, 1, shift)
    ours = frechet_distance(*gaussian_stats(x), *gaussian_stats(y))
    assert ours == pytest.approx(scipy_frechet(x.numpy(), y.numpy()), rel=1e-6)


def test_gaussian_stats_are_numpys_mean_and_unbiased_cov():
    x = random_gaussian(300, 5, 2).float()
    mean, cov = gaussian_stats(x)
    assert mean.dtype == cov.dtype == torch.float64
    np.testing.assert_allclose(cov.numpy(), np.cov(x.double().numpy(), rowvar=False), rtol=1e-10)
    np.testing.assert_allclose(mean.numpy(), x.double().numpy().mean(0), rtol=1e-10)


def test_frechet_distance_closed_forms():
    mean, cov = torch.zeros(4, dtype=torch.float64), torch.eye(4, dtype=torch.float64)
    assert frechet_distance(mean, cov, mean, cov) == pytest.approx(0.0, abs=1e-12)
    assert frechet_distance(mean, cov, mean + 2.0, cov) == pytest.approx(16.0)
    # Scaled covariances: Tr(I + 4I - 2·2I) = 4 for d = 4.
    assert frechet_distance(mean, cov, mean, 4 * cov) == pytest.approx(4.0)
    # Singular covariances (fewer samples than dimensions) stay finite and non-negative.
    few = random_gaussian(5, 32, 3)
    assert 0.0 <= frechet_distance(*gaussian_stats(few), *gaussian_stats(few)) < 1e-5


def test_kid_is_unbiased_on_equal_distributions():
    values = [
        kernel_distance(random_gaussian(200, 16, seed), random_gaussian(200, 16, seed + 1000), 10, 100, seed)[
            0
        ]
        for seed in range(60)
    ]
    mean, stderr = np.mean(values), np.std(values) / math.sqrt(len(values))
    assert abs(mean) < 3 * stderr
    assert min(values) < 0 < max(values)  # an unbiased estimator of zero goes both ways
    # The biased (V-statistic) estimate with the diagonal kept is positive every time.
    x, y = random_gaussian(100, 16, 0), random_gaussian(100, 16, 1)
    biased = (
        polynomial_kernel(x, x).mean() + polynomial_kernel(y, y).mean() - 2 * polynomial_kernel(x, y).mean()
    )
    assert biased > mmd2_unbiased(x, y)


def test_kid_grows_with_the_distance_between_distributions():
    real = random_gaussian(500, 16, 0)
    kids = [
        kernel_distance(real, random_gaussian(500, 16, 1, shift), 20, 200)[0] for shift in (0.0, 0.2, 0.5)
    ]
    assert kids[0] < kids[1] < kids[2]
    assert kids[1] > 10 * abs(kids[0])


def test_kid_leaves_the_global_rng_alone():
    state = torch.get_rng_state()
    kernel_distance(random_gaussian(50, 4, 0), random_gaussian(50, 4, 1), 5, 20)
    assert torch.equal(state, torch.get_rng_state())


def test_precision_recall_of_identical_disjoint_and_collapsed_sets():
    real = random_gaussian(600, 8, 0).float()
    assert precision_recall(real, real.clone()) == (1.0, 1.0)
    assert precision_recall(real, real + 100.0) == (0.0, 0.0)
    # A generator that reproduces a tenth of the data, each image ten times with tiny noise:
    # every sample is good, nine tenths of the data are missed.
    collapsed = real[:60].repeat(10, 1) + 1e-4 * torch.randn(600, 8)
    precision, recall = precision_recall(real, collapsed)
    assert precision == 1.0
    assert recall == pytest.approx(0.1)


def test_inception_score_of_confident_varied_and_of_identical_predictions():
    k = 10
    confident = torch.eye(k).repeat(50, 1)  # every class equally often, each predicted with certainty
    mean, std = inception_score(confident, splits=5)
    assert mean == pytest.approx(k) and std == pytest.approx(0.0, abs=1e-9)
    same = torch.full((500, k), 1 / k)
    assert inception_score(same, splits=5)[0] == pytest.approx(1.0)
