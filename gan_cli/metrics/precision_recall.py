"""Improved precision and recall of generative models.

Kynkäänniemi, Karras, Laine, Lehtinen & Aila 2019, "Improved Precision and Recall Metric for
Assessing Generative Models", arXiv:1904.06991: each sample's k-th nearest-neighbour distance
within its own set (k = 3) is the radius of a ball around it, and the union of the balls
estimates that set's manifold. Precision is the share of generated samples inside the real
manifold (quality); recall is the share of real samples inside the generated one (coverage).
"""

from __future__ import annotations

import torch

CHUNK = 1024  # rows of the distance matrix held at once


def knn_radii(features: torch.Tensor, k: int) -> torch.Tensor:
    """Distance from each feature to its k-th nearest other feature of the same set."""
    # k + 1: every point is its own nearest neighbour, at distance 0.
    return torch.cat(
        [torch.cdist(rows, features).kthvalue(k + 1, dim=1).values for rows in features.split(CHUNK)]
    )


def inside_manifold(queries: torch.Tensor, points: torch.Tensor, radii: torch.Tensor) -> torch.Tensor:
    """Whether each query lies within the k-NN ball of at least one point."""
    return torch.cat([(torch.cdist(rows, points) <= radii).any(dim=1) for rows in queries.split(CHUNK)])


def precision_recall(real: torch.Tensor, fake: torch.Tensor, k: int = 3) -> tuple[float, float]:
    real, fake = real.float(), fake.float()
    precision = inside_manifold(fake, real, knn_radii(real, k)).double().mean()
    recall = inside_manifold(real, fake, knn_radii(fake, k)).double().mean()
    return float(precision), float(recall)
