"""Gaussian statistics of features and the Fréchet distance between two Gaussians.

Heusel et al. 2017, "GANs Trained by a Two Time-Scale Update Rule Converge to a Local Nash
Equilibrium", arXiv:1706.08500 (FID): fit a Gaussian to the features of real and of generated
images and report d² = |μ₁ - μ₂|² + Tr(Σ₁ + Σ₂ - 2 (Σ₁ Σ₂)^½).

Everything is float64: the trace of the matrix square root is a small difference of large
numbers, and float32 loses FID's second decimal on 2048-D features.
"""

from __future__ import annotations

import torch


def gaussian_stats(features: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean and unbiased covariance (as ``numpy.cov``) of N×D features, in float64."""
    x = features.double()
    mean = x.mean(dim=0)
    centred = x - mean
    return mean, centred.T @ centred / max(len(x) - 1, 1)


def sqrt_psd(matrix: torch.Tensor) -> torch.Tensor:
    """The symmetric square root of a symmetric positive semi-definite matrix.

    Rounding makes tiny eigenvalues of a singular covariance slightly negative; they are zero.
    """
    eigenvalues, vectors = torch.linalg.eigh(matrix)
    return (vectors * eigenvalues.clamp(min=0).sqrt()) @ vectors.T


def trace_sqrt_product(cov1: torch.Tensor, cov2: torch.Tensor) -> torch.Tensor:
    """Tr((Σ₁ Σ₂)^½) without ever forming the non-symmetric product.

    Σ₁ Σ₂ is similar to the symmetric PSD matrix Σ₁^½ Σ₂ Σ₁^½ (same eigenvalues), so the trace
    is the sum of square roots of that matrix's eigenvalues: two symmetric eigendecompositions,
    stable where ``scipy.linalg.sqrtm`` of the product can return complex noise.
    """
    root = sqrt_psd(cov1)
    middle = root @ cov2 @ root
    return torch.linalg.eigvalsh((middle + middle.T) / 2).clamp(min=0).sqrt().sum()


def frechet_distance(
    mean1: torch.Tensor, cov1: torch.Tensor, mean2: torch.Tensor, cov2: torch.Tensor
) -> float:
    """d² between N(mean1, cov1) and N(mean2, cov2) (the FID when they are feature statistics);
    rounding can take equal Gaussians' d² a hair below zero, where it is reported as zero."""
    mean1, cov1, mean2, cov2 = (t.double() for t in (mean1, cov1, mean2, cov2))
    distance = (mean1 - mean2).square().sum() + cov1.trace() + cov2.trace()
    return max(float(distance - 2 * trace_sqrt_product(cov1, cov2)), 0.0)
