"""Experience replay: D also sees fakes from earlier generators.

Shrivastava et al. 2017, "Learning from Simulated and Unsupervised Images through Adversarial
Training", arXiv:1612.07828, in the form of the image pool of Zhu et al. 2017 (CycleGAN,
arXiv:1703.10593): keep up to ``size`` past fakes; once the pool is full, each new fake is,
with probability 1/2, exchanged for a random pooled one, which D sees instead. D then keeps
penalising what G produced before, so G cannot escape by returning to an old mode.
"""

from __future__ import annotations

import torch

from gan_cli.errors import GanError
from gan_cli.registry import TRICKS
from gan_cli.schema import PositiveInt
from gan_cli.tricks.base import Trick


@TRICKS.register("experience_replay")
class ExperienceReplay(Trick):
    def __init__(self, size: PositiveInt = 50):  # fakes kept (CycleGAN's pool of 50)
        self.size = size
        self.pool: torch.Tensor | None = None  # up to ``size`` past fakes, filled first

    def check(self, model, loss) -> None:
        if model.num_classes:
            raise GanError(
                "experience_replay keeps past fakes without the labels they were made for; "
                "it cannot be used with a class-conditional model"
            )

    def fake_for_d(self, fake: torch.Tensor) -> torch.Tensor:
        fake = fake.detach()
        if self.pool is None:
            self.pool = fake[:0].clone()
        self.pool = self.pool.to(fake.device)  # a resumed pool arrives on the CPU
        fill = min(self.size - len(self.pool), len(fake))
        self.pool = torch.cat([self.pool, fake[:fill]])
        # Fakes are exchanged in chunks no larger than the pool, so each fake of a chunk gets a
        # distinct slot: writes to a repeated slot would not be deterministic on a GPU.
        return torch.cat([fake[:fill], *(self._exchange(c) for c in fake[fill:].split(self.size))])

    def _exchange(self, fake: torch.Tensor) -> torch.Tensor:
        swap = (torch.rand(len(fake), device=fake.device) < 0.5).view(-1, *(1,) * (fake.dim() - 1))
        slots = torch.randperm(self.size, device=fake.device)[: len(fake)]
        pooled = self.pool[slots]
        self.pool[slots] = torch.where(swap, fake, pooled)
        return torch.where(swap, pooled, fake)

    def state_dict(self) -> dict:
        return {} if self.pool is None else {"pool": self.pool.cpu().clone()}

    def load_state_dict(self, state: dict) -> None:
        self.pool = state.get("pool")
