"""An exponential moving average of the generator's weights, used for sampling.

Yazıcı et al. 2018, "The Unusual Effectiveness of Averaging in GAN Training", arXiv:1806.04498
(as in ProGAN, StyleGAN and BigGAN): G's weights keep oscillating around a good solution as
the two players chase each other; their running average sits nearer its centre, so samples
from ``model.ema_generator`` are usually better than from G itself. Training never uses it.
"""

from __future__ import annotations

import copy

import torch

from gan_cli.registry import TRICKS
from gan_cli.schema import Fraction, NonNegativeFloat, NonNegativeInt
from gan_cli.training import checkpoint
from gan_cli.tricks.base import Trick


@TRICKS.register("ema")
class EMA(Trick):
    order = 100  # wraps last, so the average copies G as every other trick has changed it

    def __init__(
        self,
        decay: Fraction = 0.999,  # ema = decay * ema + (1 - decay) * G after every G update
        start_step: NonNegativeInt = 0,  # before this step the average just copies G (skips the random init)
        half_life: NonNegativeFloat
        | None = None,  # in G updates; if set, replaces decay: 0.5 ** (1 / half_life)
    ):
        self.decay = decay
        self.start_step = start_step
        # R3GAN and StyleGAN2 state the average's memory as a half-life (in images; here in
        # steps: images / batch size), and R3GAN grows it from 0 on a schedule.
        self.half_life = half_life
        self.step = 0
        self.ema: torch.nn.Module | None = None

    def wrap(self, model) -> None:
        # A registered submodule: .to(device) moves it, and GAN.generate samples from it.
        model.ema_generator = self.ema = copy.deepcopy(model.generator).requires_grad_(False)

    def on_step(self, step: int) -> None:
        self.step = step

    @torch.no_grad()
    def after_g_step(self, model) -> None:
        decay = self.decay if self.half_life is None else 0.5 ** (1 / max(self.half_life, 1e-8))
        weight = 1.0 - decay if self.step >= self.start_step else 1.0
        for average, param in zip(self.ema.parameters(), model.generator.parameters()):
            average.lerp_(param, weight)
        # Batch-norm running statistics are not averaged: the EMA weights sample with G's.
        for average, buffer in zip(self.ema.buffers(), model.generator.buffers()):
            average.copy_(buffer)

    def state_dict(self) -> dict:
        return self.ema.state_dict()

    def load_state_dict(self, state: dict) -> None:
        checkpoint.load_weights(self.ema, state, "EMA generator", "checkpoint")
