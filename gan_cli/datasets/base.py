"""What any dataset offers (``DataSource``), in-memory datasets, and the shuffled batches the
training loop draws from them."""

from __future__ import annotations

import hashlib
import inspect
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any, NamedTuple, Protocol, runtime_checkable

import numpy as np
import torch
import torch.nn.functional as F

from gan_cli.errors import GanError


@dataclass(frozen=True)
class Augment:
    """Random crops and left-right flips, drawn afresh each time a batch is drawn.

    Samples are stored as squares of at least ``size`` pixels; each batch is cut to ``size`` at
    a random offset per image (``random_crop``) or at the centre, and each image is mirrored
    with probability 1/2 (``flip``). One gather does both, so it costs one kernel on a GPU.
    """

    size: int  # side of the images the model sees
    random_crop: bool = False
    flip: bool = False

    def centre(self, images: torch.Tensor) -> torch.Tensor:
        start = (images.shape[-1] - self.size) // 2
        return images[..., start : start + self.size, start : start + self.size]

    def __call__(self, images: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        if not (self.random_crop or self.flip):
            return self.centre(images)
        n, channels, stored = len(images), images.shape[1], images.shape[-1]
        if self.random_crop:
            offsets = torch.randint(stored - self.size + 1, (2, n, 1), generator=generator)
        else:
            offsets = torch.full((2, n, 1), (stored - self.size) // 2)
        rows, cols = offsets + torch.arange(self.size)
        if self.flip:
            mirrored = torch.rand(n, 1, generator=generator) < 0.5
            cols = torch.where(mirrored, cols.flip(1), cols)
        device = images.device
        rows, cols = rows.to(device)[:, None, :, None], cols.to(device)[:, None, None, :]
        index = torch.arange(n, device=device)[:, None, None, None]
        channel = torch.arange(channels, device=device)[None, :, None, None]
        return images[index, channel, rows, cols]


class BatchStream(Protocol):
    """An endless source of training batches whose position a checkpoint can hold."""

    batch_size: int

    def __call__(self) -> Batch: ...

    def state_dict(self) -> dict: ...

    def load_state_dict(self, state: dict) -> None: ...


@runtime_checkable
class DataSource(Protocol):
    """What training, the sample grids and the metrics use of a dataset, whether it is held in
    memory (``Data``, two-domain data, toy mixtures) or decoded from disk (``StreamingData``).

    ``shape`` is that of one sample as the model sees it; ``labels`` (one per sample, or None)
    are known up front, samples are reached only through ``head``, ``take`` and ``batches``.
    """

    labels: torch.Tensor | None
    num_classes: int
    classes: tuple[str, ...]
    description: str

    def __len__(self) -> int: ...

    @property
    def shape(self) -> tuple[int, ...]: ...

    def head(self, n: int) -> torch.Tensor:
        """The first ``n`` samples, for the grid of real data."""
        ...

    def take(self, indices: torch.Tensor) -> torch.Tensor:
        """The samples at ``indices`` as the model sees them: centre-cropped, in [-1, 1]."""
        ...

    def batches(self, batch_size: int, seed: int) -> BatchStream: ...

    def to(self, device: torch.device) -> DataSource: ...

    def shard(self, rank: int, world: int) -> DataSource: ...

    def subset(self, indices: torch.Tensor) -> DataSource:
        """The samples at ``indices`` (and their labels) as a dataset of its own."""
        ...

    def fingerprint(self) -> str:
        """A hash of the content, for caches (reference statistics, classifiers): it tells apart
        datasets, splits and resolutions without trusting their names."""
        ...


def hash_labels(digest: Any, labels: torch.Tensor | None) -> None:
    if labels is not None:
        digest.update(labels.cpu().numpy().astype("int64").tobytes())


@dataclass
class Data:
    """A whole dataset as one tensor, kept on the training device (no loader on the hot path).

    ``samples`` is N×C×H×W in [-1, 1] for images or N×D for points of a toy mixture.
    ``classes`` names the labels where they have names; with ``augment``, samples are stored
    larger than ``shape`` and each batch is cropped (and flipped) as it is drawn.
    """

    samples: torch.Tensor
    labels: torch.Tensor | None = None
    num_classes: int = 0
    description: str = ""
    classes: tuple[str, ...] = ()
    augment: Augment | None = None
    # Hashing reads every byte, so it is done once; ``to`` and ``shard`` make new objects without it.
    _fingerprint: str | None = field(default=None, init=False, repr=False, compare=False)

    def __len__(self) -> int:
        return len(self.samples)

    @property
    def shape(self) -> tuple[int, ...]:
        if self.augment is not None:
            return (*self.samples.shape[1:-2], self.augment.size, self.augment.size)
        return tuple(self.samples.shape[1:])

    def to(self, device: torch.device) -> Data:
        labels = None if self.labels is None else self.labels.to(device)
        return replace(self, samples=self.samples.to(device), labels=labels)

    def shard(self, rank: int, world: int) -> Data:
        """Every ``world``-th sample from ``rank`` on: this process's part of a distributed run."""
        labels = None if self.labels is None else self.labels[rank::world]
        return replace(self, samples=self.samples[rank::world], labels=labels)

    def subset(self, indices: torch.Tensor) -> Data:
        indices = indices.to(self.samples.device)
        labels = None if self.labels is None else self.labels[indices]
        return replace(self, samples=self.samples[indices], labels=labels)

    def head(self, n: int) -> torch.Tensor:
        return self.take(torch.arange(min(n, len(self))))

    def take(self, indices: torch.Tensor) -> torch.Tensor:
        images = self.samples[indices.to(self.samples.device)]
        return images if self.augment is None else self.augment.centre(images)

    def batches(self, batch_size: int, seed: int) -> Batches:
        return Batches(self, batch_size, seed)

    def fingerprint(self) -> str:
        """SHA-256 of the stored samples' shape and bytes, then the labels: the key the caches
        have always used, so caches written before keep serving."""
        if self._fingerprint is None:
            digest = hashlib.sha256(str(tuple(self.samples.shape)).encode())
            digest.update(self.samples.detach().float().cpu().contiguous().numpy().tobytes())
            hash_labels(digest, self.labels)
            self._fingerprint = digest.hexdigest()[:16]
        return self._fingerprint


class Batch(NamedTuple):
    """What a training step draws: images (or points), for labelled data their classes, and for
    two-domain data (CycleGAN, CoGAN, pix2pix) a batch of domain B: paired with ``images`` one to
    one for paired data, drawn independently for unpaired data. For partly labelled data
    (``dataset.labelled``) ``images`` are unlabelled and ``labelled`` is a batch of the few
    labelled images with their classes, drawn independently."""

    images: torch.Tensor
    labels: torch.Tensor | None = None
    other: torch.Tensor | None = None
    labelled: tuple[torch.Tensor, torch.Tensor] | None = None


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

    def __call__(self) -> Batch:
        if self._pos + self.batch_size > len(self._order):
            n = len(self.data.samples)
            self._order = torch.randperm(n, generator=self.generator).to(self.data.samples.device)
            self._pos = 0
        index = self._order[self._pos : self._pos + self.batch_size]
        self._pos += self.batch_size
        images, augment = self.data.samples[index], self.data.augment
        labels = None if self.data.labels is None else self.data.labels[index]
        return Batch(images if augment is None else augment(images, self.generator), labels)

    def state_dict(self) -> dict:
        return {"generator": self.generator.get_state(), "order": self._order.cpu(), "pos": self._pos}

    def load_state_dict(self, state: dict) -> None:
        self.generator.set_state(state["generator"])
        self._order = state["order"].to(self.data.samples.device)
        self._pos = state["pos"]


class Streams:
    """A batch stream made of several ``Batches`` (``streams``), saved and resumed together."""

    streams: list[Batches]

    def state_dict(self) -> dict:
        return {"streams": [s.state_dict() for s in self.streams]}

    def load_state_dict(self, state: dict) -> None:
        for stream, stream_state in zip(self.streams, state["streams"]):
            stream.load_state_dict(stream_state)


def split_off(data: DataSource, limit: int | None) -> tuple[DataSource, DataSource | None]:
    """``dataset.limit``: a fixed subset of ``limit`` samples to train on, and the rest, held out
    (for watching D overfit). The subset depends on the data and ``limit`` only, never on the
    run's seed, so every remedy and every seed of a comparison trains on the same images."""
    if limit is None:
        return data, None
    if limit >= len(data):
        raise GanError(f"dataset.limit={limit} leaves nothing held out: the data holds {len(data)} samples")
    order = torch.randperm(len(data), generator=torch.Generator().manual_seed(0))
    train, held_out = data.subset(order[:limit]), data.subset(order[limit:])
    train.description = f"{data.description}, a fixed subset of {limit} (dataset.limit)"
    return train, held_out


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


def labelled_split(
    arrays: dict[str, np.ndarray], resolution: int, classes: tuple[str, ...], title: str
) -> Data:
    """A parsed labelled split (``images`` N×C×H×W uint8, ``labels``) as ``Data``."""
    return from_uint8(
        arrays["images"],
        arrays["labels"],
        resolution,
        num_classes=len(classes),
        classes=classes,
        description=f"{title} ({len(arrays['labels'])} images)",
    )


def from_uint8(
    images: np.ndarray, labels: np.ndarray | None, resolution: int, num_classes: int = 0, **fields
) -> Data:
    """``Data`` from N×C×H×W uint8 images (square) and their labels, brought to ``resolution``."""
    if labels is not None and len(labels) and (labels.min() < 0 or labels.max() >= num_classes):
        raise GanError(f"labels must lie in 0..{num_classes - 1}, found {labels.min()}..{labels.max()}")
    # torch converts faster than numpy; it wants a writable array (np.frombuffer's is not).
    pixels = torch.from_numpy(images if images.flags.writeable else images.copy())
    samples = to_resolution(pixels.float().div_(127.5).sub_(1.0), resolution)
    targets = None if labels is None else torch.from_numpy(labels.astype(np.int64))
    return Data(samples, targets, num_classes=num_classes, **fields)


Spec = tuple[tuple[int, ...], int]  # (per-sample shape, number of classes; 0: unlabelled)


def promises(spec: Callable[[Mapping[str, Any]], Spec]) -> Callable:
    """Declare, beside a loader, the shape and class count its parameters (defaults filled in)
    give, so compose time can build the model without loading any data (``data_spec``)."""

    def mark(loader: Callable) -> Callable:
        loader.promise = spec
        return loader

    return mark


def square(channels: int, params: Mapping[str, Any]) -> tuple[int, int, int]:
    return channels, params["resolution"], params["resolution"]


def data_spec(dataset_cfg: Mapping[str, Any], root: str) -> Spec:
    """(shape, num_classes) of the data ``dataset_cfg`` loads: what its loader promises, or,
    for a loader that promises nothing, what loading it gives."""
    from gan_cli.registry import DATASETS, META_KEYS

    loader = DATASETS.get(dataset_cfg["name"])
    promise = getattr(loader, "promise", None)
    if promise is None:
        data = DATASETS.build(dataset_cfg, root=root)
        return tuple(data.shape), data.num_classes
    params = {k: v for k, v in dataset_cfg.items() if k not in META_KEYS and k not in DATASETS.common}
    bound = inspect.signature(loader).bind_partial(**params)
    bound.apply_defaults()
    return promise(bound.arguments)
