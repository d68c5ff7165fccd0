"""How evenly samples spread over a data set's modes: the KL divergence of their histogram to
the uniform one (PacGAN, Lin et al. 2018, arXiv:1712.04086, reports it for the mixtures and
Stacked MNIST)."""

from __future__ import annotations

import math

import torch


def kl_to_uniform(modes: torch.Tensor, n_modes: int) -> float:
    """KL(histogram of ``modes`` (one index per sample) ‖ uniform over ``n_modes``)."""
    histogram = torch.bincount(modes, minlength=n_modes).double() / len(modes)
    present = histogram[histogram > 0]
    kl = float((present * (present * n_modes).log()).sum())
    return kl if math.isfinite(kl) else float("inf")
