"""Stacked MNIST: three MNIST digits as the red, green and blue channels; 1000 modes.

The mode-collapse benchmark of Metz et al. 2016 (Unrolled GANs, arXiv:1611.02163), also used by
Srivastava et al. 2017 (VEEGAN, arXiv:1705.07761) and Lin et al. 2018 (PacGAN,
arXiv:1712.04086): each sample stacks three digits drawn independently and uniformly from
MNIST, so its class 100·d_R + 10·d_G + d_B is one of 1000 equally likely modes. The
``stacked_modes`` metric counts how many of them a generator reaches.
"""

from __future__ import annotations

import torch

from gan_cli.datasets.base import Data, promises, square
from gan_cli.datasets.mnist import Split, mnist
from gan_cli.registry import DATASETS
from gan_cli.schema import PositiveInt, Seed

# Class names "000".."999" (the R, G, B digits): the stacked_modes metric recognises the data by them.
CLASSES = tuple(f"{i:03d}" for i in range(1000))


@DATASETS.register("stacked_mnist")
@promises(lambda p: (square(3, p), 1000))  # one digit per channel: 10³ modes
def stacked_mnist(
    root: str,  # injected: the data directory (config key data.root)
    n: PositiveInt = 25_600,  # stacked samples drawn once (Metz et al. evaluate 25,600 samples)
    seed: Seed = 0,  # the draw is fixed, independent of the training seed
    resolution: PositiveInt = 32,  # of each digit: 28 native, 32 pads by 2 pixels
    download: bool = True,  # fetch the 60k MNIST training split when it is missing
    split: Split = "auto",  # the MNIST split drawn from: auto, train or test (as dataset mnist)
) -> Data:
    digits = mnist(root, resolution=resolution, download=download, split=split)
    picks = torch.randint(len(digits), (n, 3), generator=torch.Generator().manual_seed(seed))
    samples = digits.samples[picks].squeeze(2)  # n×3×1×H×W -> n×3×H×W
    d_r, d_g, d_b = digits.labels[picks].unbind(1)
    return Data(
        samples,
        100 * d_r + 10 * d_g + d_b,
        num_classes=1000,
        description=f"Stacked MNIST ({n} samples from {digits.description})",
        classes=CLASSES,
    )
