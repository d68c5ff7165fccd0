"""Two domains made from MNIST digits, so the two-domain models run and are measured offline.

Domain A is the digits; domain B the same kind of digits under a fixed transform that keeps the
class but is not a pixel-wise map: ``edges`` (the outer outline of each stroke, the stroke
itself dark — mapping back means filling it in), ``rotated`` (a quarter turn, which a
convolutional translator cannot do by local edits), or ``inverted`` (white background; the easy
baseline). Unpaired (CycleGAN, CoGAN): A and B are disjoint halves of the split, so no digit
appears in both. Paired (pix2pix): every digit with its own transform. Labels of both domains
are kept for measuring whether translations keep the class; they do not condition the models.
"""

from __future__ import annotations

from typing import Literal

import torch
import torch.nn.functional as F

from gan_cli.datasets.base import promises, square
from gan_cli.datasets.mnist import Split, mnist
from gan_cli.datasets.unpaired import TwoDomainData
from gan_cli.registry import DATASETS
from gan_cli.schema import PositiveInt


def outline(digits: torch.Tensor) -> torch.Tensor:
    """The pixels one step outside the ink: a 3×3 dilation minus the digit (images in [-1, 1])."""
    return F.max_pool2d(digits, 3, 1, 1) - digits - 1.0


TRANSFORMS = {
    "edges": outline,
    "rotated": lambda digits: digits.rot90(1, dims=(2, 3)),
    "inverted": lambda digits: -digits,
}


@DATASETS.register("mnist_domains")
@promises(lambda p: (square(1, p), 0))  # digit labels are kept for measuring, not conditioning
def mnist_domains(
    root: str,  # injected: the data directory (config key data.root)
    domain: Literal["edges", "rotated", "inverted"] = "edges",  # domain B: edges, rotated or inverted digits
    paired: bool = False,  # false: A and B from disjoint halves (CycleGAN, CoGAN); true: pairs (pix2pix)
    resolution: PositiveInt = 32,  # 28 is native; 32 pads by 2 pixels for power-of-two models
    download: bool = True,  # fetch the 60k training split when it is missing
    split: Split = "auto",  # "auto": train if available else bundled test; "train"; "test"
) -> TwoDomainData:
    digits = mnist(root, resolution, download, split)
    a, b = (slice(None), slice(None)) if paired else (slice(0, None, 2), slice(1, None, 2))
    return TwoDomainData(
        digits.samples[a],
        digits.labels[a],
        description=f"{digits.description}: digits / {domain} digits, {'paired' if paired else 'unpaired'}",
        other=TRANSFORMS[domain](digits.samples[b]),
        other_labels=digits.labels[b],
        paired=paired,
    )
