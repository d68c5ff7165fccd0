"""Modes reached on Stacked MNIST, and the KL divergence to the uniform mode distribution.

As Metz et al. 2016 (Unrolled GANs, arXiv:1611.02163) and Lin et al. 2018 (PacGAN,
arXiv:1712.04086) measure it: a digit classifier labels each channel of each sample, the three
digits name one of 1000 modes, a mode is covered when at least one sample lands in it, and
KL(generated mode histogram ‖ uniform) says how evenly they are reached. The classifier is the
project's MNIST classifier, trained on the stacked data's single digits (each distinct digit
image once, so its held-out accuracy is honest).
"""

from __future__ import annotations

import torch

from gan_cli.datasets.base import Data
from gan_cli.datasets.stacked_mnist import CLASSES
from gan_cli.metrics.base import Metric
from gan_cli.metrics.classifier import ClassifierExtractor
from gan_cli.metrics.features import extractor
from gan_cli.metrics.histogram import kl_to_uniform
from gan_cli.registry import METRICS


def single_digits(data: Data) -> Data:
    """Every distinct digit image in the stacked data's channels, with its digit label."""
    n, _, h, w = data.samples.shape
    images = data.samples.reshape(n * 3, h * w)
    digits = torch.stack([data.labels // 100, data.labels // 10 % 10, data.labels % 10], dim=1).reshape(-1)
    rows = torch.unique(torch.cat([digits[:, None].to(images.dtype), images], dim=1), dim=0)
    return Data(
        rows[:, 1:].reshape(-1, 1, h, w).contiguous(),
        rows[:, 0].long(),
        num_classes=10,
        description=f"the digits of {data.description}",
    )


@METRICS.register("stacked_modes")
class StackedModes(Metric):
    def __init__(
        self,
        root: str,  # injected: the data directory (classifier cache)
    ):
        self.root = root
        self._digits: tuple[torch.Tensor, Data] | None = None  # (the stacked samples, their digits)

    def __call__(
        self, samples: torch.Tensor, data: Data, labels: torch.Tensor | None = None
    ) -> dict[str, float]:
        if data.classes != CLASSES or samples.dim() != 4 or samples.shape[1] != 3:
            return {}
        if self._digits is None or self._digits[0] is not data.samples:
            self._digits = (data.samples, single_digits(data))
        net = extractor("classifier", self._digits[1], self.root, None, samples.device)
        if not isinstance(net, ClassifierExtractor):
            return {}
        r, g, b = (net.predict(samples[:, c : c + 1]) for c in range(3))
        modes = 100 * r + 10 * g + b
        return {
            "stacked_modes": len(modes.unique()),
            "stacked_kl": kl_to_uniform(modes, len(CLASSES)),
        }
