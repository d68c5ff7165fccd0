"""Mode coverage and sample quality on the 2-D Gaussian mixtures.

As PacGAN's code measures them (Lin et al. 2018, arXiv:1712.04086; the metric logger of
fjxmlzn/PacGAN, following Srivastava et al. 2017, VEEGAN, arXiv:1705.07761):

- a sample is *high quality* when it lies within 3 standard deviations of its nearest mode;
- a mode is *covered* when at least one high-quality sample is nearest to it (``min_samples``
  raises that count for a stricter reading);
- the *reverse KL* is KL(histogram of the high-quality samples over modes ‖ the uniform one
  the data has): 0 for a perfect sampler, ln 8 for a generator collapsed onto one ring mode.
  With no high-quality sample at all it is undefined and reported as infinity.
"""

from __future__ import annotations

import torch

from gan_cli.datasets.toy_mixtures import ToyMixture
from gan_cli.metrics.base import Evaluation, Metric
from gan_cli.metrics.histogram import kl_to_uniform
from gan_cli.registry import METRICS
from gan_cli.schema import PositiveFloat, PositiveInt


@METRICS.register("toy_modes")
class ToyModes(Metric):
    def __init__(
        self,
        radius_std: PositiveFloat = 3.0,  # high quality: within this many stds of a centre
        min_samples: PositiveInt = 1,  # a mode is covered by this many high-quality samples
    ):
        self.radius_std = radius_std
        self.min_samples = min_samples

    def __call__(self, ev: Evaluation) -> dict[str, float]:
        samples, data = ev.outputs, ev.data
        if not isinstance(data, ToyMixture) or samples.dim() != 2:
            return {}
        centres = data.modes.to(samples.device, samples.dtype)
        distance, nearest = torch.cdist(samples, centres).min(dim=1)
        high_quality = distance <= self.radius_std * data.mode_std
        hq_modes = nearest[high_quality]
        hq_counts = torch.bincount(hq_modes, minlength=len(centres))
        return {
            "modes_covered": int((hq_counts >= self.min_samples).sum()),
            "modes_total": len(centres),
            "high_quality_pct": 100.0 * float(high_quality.double().mean()),
            "reverse_kl": kl_to_uniform(hq_modes, len(centres)) if len(hq_modes) else float("inf"),
        }
