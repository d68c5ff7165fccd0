"""Mode coverage and sample quality on the 2-D Gaussian mixtures.

As defined by Srivastava et al. 2017 (VEEGAN, arXiv:1705.07761) and Lin et al. 2018 (PacGAN,
arXiv:1712.04086): a sample is *high quality* when it lies within 3 standard deviations of the
nearest mode's centre; a mode is *covered* when at least 20 of 2500 samples (0.8 %) are high
quality samples of it. PacGAN also reports the KL divergence from the generated mode
histogram (each sample counted at its nearest mode) to the uniform one the data has.
"""

from __future__ import annotations

import torch

from gan_cli.datasets.base import Data
from gan_cli.metrics.base import Metric
from gan_cli.metrics.histogram import kl_to_uniform
from gan_cli.registry import METRICS
from gan_cli.schema import PositiveFloat, Probability


@METRICS.register("toy_modes")
class ToyModes(Metric):
    def __init__(
        self,
        radius_std: PositiveFloat = 3.0,  # high quality: within this many stds of a centre
        min_fraction: Probability = 20 / 2500,  # a mode is covered by this share of HQ samples
    ):
        self.radius_std = radius_std
        self.min_fraction = min_fraction

    def __call__(
        self, samples: torch.Tensor, data: Data, labels: torch.Tensor | None = None
    ) -> dict[str, float]:
        if data.modes is None or samples.dim() != 2:
            return {}
        centres = data.modes.to(samples.device, samples.dtype)
        distance, nearest = torch.cdist(samples, centres).min(dim=1)
        high_quality = distance <= self.radius_std * data.mode_std
        hq_counts = torch.bincount(nearest[high_quality], minlength=len(centres))
        covered = int((hq_counts >= self.min_fraction * len(samples)).sum())
        return {
            "modes_covered": covered,
            "modes_total": len(centres),
            "high_quality_pct": 100.0 * float(high_quality.double().mean()),
            "mode_kl": kl_to_uniform(nearest, len(centres)),
        }
