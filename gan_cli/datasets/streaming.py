"""Data too large for memory: samples decoded from files batch by batch in DataLoader workers.

``StreamingData`` is a ``DataSource`` as ``Data`` is, so a dataset chooses between the two
without the loop or the metrics knowing. Its batches resume exactly: the order of an epoch is a
function of (seed, epoch), so a checkpoint holds only the epoch, the batches drawn in it and the
augmentation generator, and a resumed run skips to that position without decoding what it skips
(provided the items are the same: a folder that gained or lost files since gives another order).
"""

from __future__ import annotations

import hashlib
import logging
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset, Sampler

from gan_cli.datasets.base import Augment, Batch, hash_labels
from gan_cli.errors import GanError

log = logging.getLogger(__name__)

# A decoder turns one item (a file path) into a C×H×W uint8 array, or None when unreadable.
Decoder = Callable[[Any], "np.ndarray | None"]


class Mapped(Dataset):
    """``fn`` applied to ``items`` on demand; module-level (picklable) for worker processes."""

    def __init__(self, fn: Callable[[Any], Any], items: Sequence[Any]):
        self.fn = fn
        self.items = items

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, i: int) -> Any:
        return self.fn(self.items[i])


def parallel_map(fn: Callable[[Any], Any], items: Sequence[Any], workers: int) -> list[Any]:
    """``[fn(x) for x in items]``, spread over ``workers`` processes (0: in this one)."""
    loader = DataLoader(Mapped(fn, items), batch_size=64, num_workers=workers, collate_fn=list)
    return [result for chunk in loader for result in chunk]


class Indexed:
    """``decode`` that also returns the item's index, so a batch knows its labels; module-level
    (picklable) for worker processes."""

    def __init__(self, decode: Decoder, items: Sequence[Any]):
        self.decode, self.items = decode, items

    def __call__(self, i: int) -> tuple[np.ndarray | None, int]:
        return self.decode(self.items[i]), i


def fill_unreadable(
    items: list[tuple[np.ndarray | None, int]],
) -> tuple[torch.Tensor | None, torch.Tensor, int]:
    """Stack a batch of (image, index), standing in repeats of its readable images for any that
    failed to decode (so every batch has the size asked for); also returns the indices of the
    images stacked and how many failed."""
    good = [(x, i) for x, i in items if x is not None]
    if not good:
        return None, torch.empty(0, dtype=torch.long), len(items)
    failed = len(items) - len(good)
    chosen = good + [good[i % len(good)] for i in range(failed)]
    images = torch.from_numpy(np.stack([x for x, _ in chosen]))
    return images, torch.tensor([i for _, i in chosen]), failed


class EpochOrder(Sampler):
    """Batches of indices of one epoch, in an order fixed by (seed, epoch), from ``start`` on."""

    def __init__(self, n: int, batch_size: int, seed: int):
        self.n, self.batch_size, self.seed = n, batch_size, seed
        self.epoch, self.start = 0, 0

    def __len__(self) -> int:
        return self.n // self.batch_size - self.start

    def __iter__(self):
        mixed = np.random.SeedSequence([self.seed, self.epoch]).generate_state(1)[0]
        order = torch.randperm(self.n, generator=torch.Generator().manual_seed(int(mixed)))
        full = order[: self.n // self.batch_size * self.batch_size].view(-1, self.batch_size)
        for batch in full[self.start :]:
            yield batch.tolist()


@dataclass
class StreamingData:
    """Samples decoded from ``items`` as they are drawn; labels and sizes known up front.

    ``decode`` gives C×S×S uint8 arrays; ``augment`` (or a centre crop when S is larger than
    the image the model sees) cuts them to ``shape``.
    """

    items: Sequence[Any]
    decode: Decoder
    channels: int
    augment: Augment
    labels: torch.Tensor | None = None
    num_classes: int = 0
    classes: tuple[str, ...] = ()
    description: str = ""
    workers: int = 0
    device: torch.device = field(default_factory=lambda: torch.device("cpu"))
    # Stating every file costs a pass over the folder, so it is done once per object.
    _fingerprint: str | None = field(default=None, init=False, repr=False, compare=False)

    def __len__(self) -> int:
        return len(self.items)

    @property
    def shape(self) -> tuple[int, ...]:
        return (self.channels, self.augment.size, self.augment.size)

    def to(self, device: torch.device) -> StreamingData:
        return replace(self, device=torch.device(device))

    def shard(self, rank: int, world: int) -> StreamingData:
        """Every ``world``-th item from ``rank`` on: this process's part of a distributed run."""
        labels = None if self.labels is None else self.labels[rank::world]
        return replace(self, items=self.items[rank::world], labels=labels)

    def subset(self, indices: torch.Tensor) -> StreamingData:
        labels = None if self.labels is None else self.labels[indices]
        return replace(self, items=[self.items[i] for i in indices.tolist()], labels=labels)

    def as_samples(self, images: torch.Tensor) -> torch.Tensor:
        """uint8 images (moved as bytes, a quarter of the floats) -> floats in [-1, 1] on the device."""
        return images.to(self.device, non_blocking=True).float().div_(127.5).sub_(1.0)

    def head(self, n: int) -> torch.Tensor:
        """The first ``n`` readable samples, centre-cropped (for the grid of real data)."""
        images = []
        for item in self.items:
            if len(images) == n:
                break
            image = self.decode(item)
            if image is not None:
                images.append(image)
        if not images:
            raise GanError(f"no readable sample in {self.description}")
        return self.augment.centre(self.as_samples(torch.from_numpy(np.stack(images))))

    def take(self, indices: torch.Tensor) -> torch.Tensor:
        """The samples at ``indices``, decoded now (by ``workers`` processes); one that fails to
        decode is stood in by another of the same call, as in a training batch."""
        decoded = parallel_map(Indexed(self.decode, self.items), indices.tolist(), self.workers)
        images, _, failed = fill_unreadable(decoded)
        if images is None:
            raise GanError(f"none of {len(indices)} samples of {self.description} could be decoded")
        if failed:
            log.warning("%d image(s) failed to decode, replaced by others of the same draw", failed)
        return self.augment.centre(self.as_samples(images))

    def fingerprint(self) -> str:
        """A hash of the shape, each item's path, size and modification time, the labels, and the
        first sample as decoded (so decoding at another size or in another colour mode is another
        key): a changed, added or removed file changes it, and only one image is decoded."""
        if self._fingerprint is None:
            digest = hashlib.sha256(str(self.shape).encode())
            for item in self.items:
                try:
                    stat = os.stat(item)
                    digest.update(f"{item}\0{stat.st_size}\0{stat.st_mtime_ns}\n".encode())
                except OSError:  # gone since listing: training stands others in for it
                    digest.update(f"{item}\0missing\n".encode())
            digest.update(self.head(1).cpu().numpy().tobytes())
            hash_labels(digest, self.labels)
            self._fingerprint = digest.hexdigest()[:16]
        return self._fingerprint

    def batches(self, batch_size: int, seed: int) -> StreamingBatches:
        return StreamingBatches(self, batch_size, seed)


class StreamingBatches:
    """``Batches`` for ``StreamingData``: each epoch in a fresh order, decoded by workers that
    stay alive across epochs, cropped (augmented) on the device with a generator of its own."""

    def __init__(self, data: StreamingData, batch_size: int, seed: int):
        self.data = data
        self.batch_size = min(batch_size, len(data))
        self.order = EpochOrder(len(data), self.batch_size, seed)
        self.generator = torch.Generator().manual_seed(seed)
        self.pos = 0  # batches drawn in this epoch
        self.failed = 0
        self.loader = DataLoader(
            Mapped(Indexed(data.decode, data.items), range(len(data.items))),
            batch_sampler=self.order,
            num_workers=data.workers,
            collate_fn=fill_unreadable,
            pin_memory=data.device.type == "cuda",
            persistent_workers=data.workers > 0,
        )
        self._iterator = None

    def _next(self) -> tuple[torch.Tensor | None, torch.Tensor, int]:
        if self._iterator is None:
            self.order.start = self.pos
            self._iterator = iter(self.loader)
        try:
            return next(self._iterator)
        except StopIteration:
            self.order.epoch, self.pos = self.order.epoch + 1, 0
            self._iterator = None
            return self._next()

    def __call__(self) -> Batch:
        images, index, failed = self._next()
        self.pos += 1
        if images is None:
            raise GanError(f"a whole batch of {self.data.description} failed to decode")
        if failed:
            self.failed += failed
            log.warning("%d image(s) failed to decode, replaced by others (%d so far)", failed, self.failed)
        labels = None if self.data.labels is None else self.data.labels[index].to(self.data.device)
        return Batch(self.data.augment(self.data.as_samples(images), self.generator), labels)

    def state_dict(self) -> dict:
        return {"epoch": self.order.epoch, "pos": self.pos, "generator": self.generator.get_state()}

    def load_state_dict(self, state: dict) -> None:
        self.order.epoch, self.pos = state["epoch"], state["pos"]
        self.generator.set_state(state["generator"])
        self._iterator = None
