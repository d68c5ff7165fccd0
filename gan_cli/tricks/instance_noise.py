"""Instance noise, annealed to zero.

Sønderby et al. 2016, "Amortised MAP Inference for Image Super-resolution", arXiv:1610.04490
(appendix), and Arjovsky & Bottou 2017, arXiv:1701.04862: Gaussian noise on everything D sees
makes the real and fake distributions overlap, so D's gradient stays informative; the noise
shrinks linearly to zero so the final model is trained on clean data.
"""

from __future__ import annotations

import torch

from gan_cli.registry import TRICKS
from gan_cli.schema import NonNegativeFloat, PositiveInt
from gan_cli.tricks.base import Trick


@TRICKS.register("instance_noise")
class InstanceNoise(Trick):
    def __init__(
        self,
        std: NonNegativeFloat = 0.1,  # noise std at step 0
        anneal_steps: PositiveInt = 2000,  # std falls linearly to 0 by this step
    ):
        self.std0 = std
        self.anneal_steps = anneal_steps
        self.std = std

    def on_step(self, step: int) -> None:
        self.std = self.std0 * max(0.0, 1.0 - step / self.anneal_steps)

    def d_input(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.std * torch.randn_like(x) if self.std > 0 else x
