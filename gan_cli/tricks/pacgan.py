"""Packing: D judges m samples at once.

Lin, Khetan, Fanti & Oh 2018, "PacGAN: The power of two samples in generative adversarial
networks", arXiv:1712.04086: D sees m samples of one class (all real or all fake) concatenated
into one input, so a generator that covers few modes is caught by the lack of variety inside a
pack. Images are packed along channels (C·m × H × W), vectors along features (D·m).
"""

from __future__ import annotations

import torch

from gan_cli.errors import GanError
from gan_cli.registry import TRICKS
from gan_cli.schema import AtLeastTwo
from gan_cli.tricks.base import Trick


@TRICKS.register("pacgan")
class PacGAN(Trick):
    order = 100  # pack last, after every trick that changes samples one by one (augmentation)

    def __init__(self, m: AtLeastTwo = 2):  # samples per pack (the paper's PacGAN2 to PacGAN4)
        self.m = m

    def data_shape(self, shape: tuple[int, ...]) -> tuple[int, ...]:
        return (shape[0] * self.m, *shape[1:])

    def d_input(self, x: torch.Tensor) -> torch.Tensor:
        if len(x) % self.m:
            raise GanError(
                f"pacgan packs {self.m} samples into one: train.batch_size must be a multiple "
                f"of {self.m}, got a batch of {len(x)}"
            )
        # Consecutive samples share a pack; batches are already in random order.
        return x.reshape(len(x) // self.m, self.m * x.shape[1], *x.shape[2:])
