"""Two-domain data, and the ``unpaired`` dataset: any two folders of images (CycleGAN's A/B).

``TwoDomainData`` is what the two-domain families (CycleGAN, CoGAN, pix2pix) train on: domain A
as ``samples`` (what the run's grid of reals shows) and domain B as ``other``, both kept on the
device at one shape. Its batches carry B in ``Batch.other``: for paired data the B images of the
same indices, cropped and flipped exactly as their A images; for unpaired data an independent
draw, from an order of its own.

The ``unpaired`` dataset reads ``<path>/A`` and ``<path>/B`` (sub-folder names configurable, e.g.
CycleGAN's ``trainA``/``trainB``) as ``image_folder`` reads one folder.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import Literal

import torch

from gan_cli.datasets.base import Batch, Batches, Data, Streams, promises, square
from gan_cli.datasets.image_folder import Crop, image_folder
from gan_cli.errors import GanError
from gan_cli.registry import DATASETS
from gan_cli.schema import PositiveInt


@dataclass
class TwoDomainData(Data):
    """Domain A in ``samples`` (``labels``: its classes, kept for measuring translations, not
    for conditioning), domain B in ``other`` (``other_labels``); ``paired``: ``other[i]`` is
    the counterpart of ``samples[i]``. ``take`` and ``fingerprint`` are domain A's: the real
    data the metrics compare samples with, and what their caches hold."""

    other: torch.Tensor | None = None
    other_labels: torch.Tensor | None = None
    paired: bool = False

    def __post_init__(self) -> None:
        if self.other is None or self.other.shape[1:] != self.samples.shape[1:]:
            got = None if self.other is None else tuple(self.other.shape[1:])
            raise GanError(
                f"the two domains must hold images of one shape, got {tuple(self.samples.shape[1:])} and {got}"
            )
        if self.paired and len(self.other) != len(self.samples):
            raise GanError(f"paired domains differ in size: {len(self.samples)} and {len(self.other)}")

    def to(self, device: torch.device) -> TwoDomainData:
        moved = super().to(device)
        other_labels = None if self.other_labels is None else self.other_labels.to(device)
        return replace(moved, other=self.other.to(device), other_labels=other_labels)

    def shard(self, rank: int, world: int) -> TwoDomainData:
        # One ``replace`` for both domains: a paired part checked with the whole of B would fail.
        def part(t: torch.Tensor | None) -> torch.Tensor | None:
            return None if t is None else t[rank::world]

        return replace(
            self,
            samples=part(self.samples),
            labels=part(self.labels),
            other=part(self.other),
            other_labels=part(self.other_labels),
        )

    def subset(self, indices: torch.Tensor) -> TwoDomainData:
        """Domain A's samples at ``indices``, and B's: the same ones when paired, else those of
        the same positions that B has (a random choice of B as well, for random ``indices``)."""
        indices = indices.to(self.samples.device)
        in_b = indices if self.paired else indices[indices < len(self.other)]
        if len(in_b) == 0:
            raise GanError(f"a subset of {len(indices)} leaves domain B ({len(self.other)} images) empty")

        def part(t: torch.Tensor | None, at: torch.Tensor) -> torch.Tensor | None:
            return None if t is None else t[at]

        return replace(
            self,
            samples=self.samples[indices],
            labels=part(self.labels, indices),
            other=self.other[in_b],
            other_labels=part(self.other_labels, in_b),
        )

    def other_domain(self) -> Data:
        """Domain B as a dataset of its own: what a translation from A should resemble."""
        return Data(
            self.other,
            self.other_labels,
            num_classes=self.num_classes,
            description=f"{self.description}, domain B",
            classes=self.classes,
            augment=self.augment,
        )

    def batches(self, batch_size: int, seed: int) -> TwoDomainBatches:
        return TwoDomainBatches(self, batch_size, seed)


class TwoDomainBatches(Streams):
    """Batches of both domains, with ``Batches``' order, augmentation and exact resume.

    Paired: one stream over A and B stacked along the channels, so a pair is drawn, cropped and
    flipped as one. Unpaired: a stream per domain, B's seeded apart from A's.
    """

    def __init__(self, data: TwoDomainData, batch_size: int, seed: int):
        self.channels = data.samples.shape[1]
        if data.paired:
            stacked = Data(torch.cat([data.samples, data.other], 1), data.labels, augment=data.augment)
            self.streams = [Batches(stacked, batch_size, seed)]
        else:
            a = Data(data.samples, data.labels, augment=data.augment)
            b = Data(data.other, data.other_labels, augment=data.augment)
            self.streams = [Batches(a, batch_size, seed), Batches(b, batch_size, seed + 1)]
        self.batch_size = self.streams[0].batch_size

    def __call__(self) -> Batch:
        first = self.streams[0]()
        if len(self.streams) == 1:
            a, b = first.images.split(self.channels, dim=1)
            return Batch(a, first.labels, b)
        return Batch(first.images, first.labels, self.streams[1]().images)


def domain_folder(path: str, name: str) -> str:
    folder = Path(path).expanduser() / name
    if not folder.is_dir():
        raise GanError(f"domain folder not found: {folder} (set dataset.path, dataset.a and dataset.b)")
    return str(folder)


@DATASETS.register("unpaired")
@promises(lambda p: (square(p["channels"], p), 0))
def unpaired(
    path: str,  # folder holding one sub-folder of images per domain
    a: str = "A",  # domain A's sub-folder (CycleGAN's datasets: trainA)
    b: str = "B",  # domain B's sub-folder (trainB)
    resolution: PositiveInt = 256,  # side of the square images the model sees
    channels: Literal[1, 3] = 3,  # 3 for RGB, 1 for grayscale
    crop: Crop = "center",  # center, or random: a random square, drawn anew each time (286 -> 256 jitter)
    flip: bool = False,  # mirror left-right at random, drawn anew each time
) -> TwoDomainData:
    domains = [
        image_folder(domain_folder(path, name), resolution, channels, "none", crop, flip, in_memory=True)
        for name in (a, b)
    ]
    return TwoDomainData(
        domains[0].samples,
        augment=domains[0].augment,
        description=f"unpaired {a} ({len(domains[0])}) / {b} ({len(domains[1])}) from {path}",
        other=domains[1].samples,
    )
