"""In-memory datasets and the shuffled batches the training loop draws from them."""

from __future__ import annotations

from dataclasses import dataclass, replace

import torch
import torch.nn.functional as F


@dataclass
class Data:
    """A whole dataset as one tensor, kept on the training device (no loader on the hot path).

    ``samples`` is N×C×H×W in [-1, 1] for images or N×D for points of a toy mixture. Toy
    mixtures also carry their mode centres and per-mode std, for the mode-coverage metrics.
    """

    samples: torch.Tensor
    labels: torch.Tensor | None = None
    num_classes: int = 0
    description: str = ""
    modes: torch.Tensor | None = None
    mode_std: float = 0.0

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(self.samples.shape[1:])

    def to(self, device: torch.device) -> Data:
        labels = None if self.labels is None else self.labels.to(device)
        return replace(self, samples=self.samples.to(device), labels=labels)

    def head(self, n: int) -> torch.Tensor:
        """The first ``n`` samples (for the grid of real data)."""
        return self.samples[:n]

    def batches(self, batch_size: int, seed: int) -> Batches:
        return Batches(self, batch_size, seed)


class Batches:
    """Batches in a fresh random order each epoch, from a generator of their own.

    Owning the generator keeps the data order independent of model randomness, and its
    state (saved in checkpoints) lets a resumed run see the same batches.
    """

    def __init__(self, data: Data, batch_size: int, seed: int):
        if batch_size > len(data.samples):
            batch_size = len(data.samples)
        self.data = data
        self.batch_size = batch_size
        self.generator = torch.Generator().manual_seed(seed)
        self._order = torch.empty(0, dtype=torch.long)
        self._pos = 0

    def __call__(self) -> torch.Tensor:
        if self._pos + self.batch_size > len(self._order):
            n = len(self.data.samples)
            self._order = torch.randperm(n, generator=self.generator).to(self.data.samples.device)
            self._pos = 0
        index = self._order[self._pos : self._pos + self.batch_size]
        self._pos += self.batch_size
        return self.data.samples[index]

    def state_dict(self) -> dict:
        return {"generator": self.generator.get_state(), "order": self._order.cpu(), "pos": self._pos}

    def load_state_dict(self, state: dict) -> None:
        self.generator.set_state(state["generator"])
        self._order = state["order"].to(self.data.samples.device)
        self._pos = state["pos"]


def to_resolution(images: torch.Tensor, resolution: int) -> torch.Tensor:
    """Square N×C×S×S images in [-1, 1] to ``resolution``: pad when 4 or fewer pixels short
    (MNIST's 28 -> 32 keeps every pixel), otherwise resize with antialiasing."""
    size = images.shape[-1]
    if size == resolution:
        return images
    if 0 < resolution - size <= 4:
        before = (resolution - size) // 2
        after = resolution - size - before
        return F.pad(images, (before, after, before, after), value=-1.0)
    return F.interpolate(images, size=(resolution, resolution), mode="bilinear", antialias=True).clamp(-1, 1)
