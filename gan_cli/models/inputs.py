"""What a generator is given: a batch of named inputs, with the labels and targets that go with it.

A model family says what one input is and how to draw a fixed batch of them (``GAN.draw_inputs``):
noise families a latent ``z`` (and the classes to make when conditional), translators a source
image from the data, a super-resolver a low-resolution image. Grids, ``gan sample``, ``gan eval``
and the metrics all go through ``Inputs``, so a family whose inputs are images needs no special
case there.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import torch

Prior = Callable[[int], torch.Tensor]  # n -> n latent vectors from the run's (seeded) prior


@dataclass
class Inputs:
    """One batch: ``named`` tensors G reads (``z``, ``source``, ``low_res``...), one row per sample.

    ``labels``: the class of each sample — what a conditional G makes, or the class of a
    translator's source image (kept to measure whether a translation keeps it). ``targets``: what
    each output should be, where the task says (paired translation, super-resolution); metrics
    that compare against targets apply only where there are some.
    """

    named: dict[str, torch.Tensor] = field(default_factory=dict)
    labels: torch.Tensor | None = None
    targets: torch.Tensor | None = None

    def __len__(self) -> int:
        return len(next(iter(self.named.values())))

    def __getitem__(self, name: str) -> torch.Tensor:
        return self.named[name]

    def _map(self, fn: Callable[[torch.Tensor], torch.Tensor]) -> Inputs:
        def maybe(t: torch.Tensor | None) -> torch.Tensor | None:
            return None if t is None else fn(t)

        return Inputs({k: fn(v) for k, v in self.named.items()}, maybe(self.labels), maybe(self.targets))

    def to(self, device: torch.device | str) -> Inputs:
        return self._map(lambda t: t.to(device))

    def slice(self, start: int, stop: int) -> Inputs:
        return self._map(lambda t: t[start:stop])

    def batches(self, size: int) -> list[Inputs]:
        return [self.slice(start, start + size) for start in range(0, len(self), size)]

    @staticmethod
    def cat(parts: Sequence[Inputs]) -> Inputs:
        first = parts[0]

        def joined(get: Callable[[Inputs], torch.Tensor | None]) -> torch.Tensor | None:
            return None if get(first) is None else torch.cat([get(p) for p in parts])

        return Inputs(
            {k: torch.cat([p.named[k] for p in parts]) for k in first.named},
            joined(lambda p: p.labels),
            joined(lambda p: p.targets),
        )


def seeded_positions(n: int, available: int, generator: torch.Generator) -> torch.Tensor:
    """n positions in a dataset of ``available`` samples, drawn with ``generator``: distinct while
    the data has enough, then the same random order again."""
    order = torch.randperm(available, generator=generator)
    return order[torch.arange(n) % available]
