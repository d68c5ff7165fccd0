"""Partly labelled data (``dataset.labelled=N``): every training image, with N labels kept.

For learning from few labels (the semi-supervised GAN): N labelled images, N / K of each of the
K classes, chosen with the run's seed (as the authors' code draws its labelled set with a seed
of its own), and the labels of every other image hidden. The labelled images stay among the
unlabelled ones too, as in Salimans et al.'s code. Batches carry an unlabelled batch in
``images`` and a batch of the labelled images with their classes in ``labelled``, each from an
order of its own, both resumed exactly.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import torch

from gan_cli.datasets.base import Batch, Batches, Data, DataSource, Streams, split_off
from gan_cli.errors import GanError


def balanced(at: torch.Tensor, labels: torch.Tensor, count: int, classes: int, seed: int) -> torch.Tensor:
    """``count`` positions of ``at``, ``count // classes`` of each class, drawn with ``seed``."""
    order = at[torch.randperm(len(at), generator=torch.Generator().manual_seed(seed))]
    return torch.cat([order[labels[order] == c][: count // classes] for c in range(classes)])


@dataclass
class PartlyLabelledData(Data):
    """The training images in ``samples`` with no labels, and the few labelled ones in
    ``labelled_samples`` with their classes (``labelled_labels``)."""

    labelled_samples: torch.Tensor | None = None
    labelled_labels: torch.Tensor | None = None

    def to(self, device: torch.device) -> PartlyLabelledData:
        return replace(
            super().to(device),
            labelled_samples=self.labelled_samples.to(device),
            labelled_labels=self.labelled_labels.to(device),
        )

    def batches(self, batch_size: int, seed: int) -> PartlyLabelledBatches:
        return PartlyLabelledBatches(self, batch_size, seed)


class PartlyLabelledBatches(Streams):
    """An unlabelled batch and a labelled batch per draw; the labelled order is seeded apart."""

    def __init__(self, data: PartlyLabelledData, batch_size: int, seed: int):
        labelled = Data(data.labelled_samples, data.labelled_labels, augment=data.augment)
        self.streams = [
            Batches(Data(data.samples, augment=data.augment), batch_size, seed),
            Batches(labelled, batch_size, seed + 1),
        ]
        self.batch_size = self.streams[0].batch_size

    def __call__(self) -> Batch:
        labelled = self.streams[1]()
        return Batch(self.streams[0]().images, labelled=(labelled.images, labelled.labels))


def keep_labels(data: DataSource, count: int | None, seed: int) -> DataSource:
    """``data`` with ``count`` of its labels kept, balanced over the classes (None: all kept)."""
    if count is None:
        return data
    if type(data) is not Data or data.labels is None:
        raise GanError(f"dataset.labelled needs labelled data held in memory; {data.description} is not")
    classes = data.num_classes
    chosen = balanced(torch.arange(len(data)), data.labels.cpu(), count, classes, seed)
    if len(chosen) < count:
        fewest = int(torch.bincount(data.labels.cpu(), minlength=classes).min())
        raise GanError(
            f"dataset.labelled={count} needs {count // classes} images of each class; "
            f"the training data has {fewest} of its rarest"
        )
    chosen = chosen.to(data.samples.device)
    return PartlyLabelledData(
        data.samples,
        None,
        num_classes=classes,
        description=f"{data.description}, {count} of them labelled (dataset.labelled)",
        classes=data.classes,
        augment=data.augment,
        labelled_samples=data.samples[chosen],
        labelled_labels=data.labels[chosen],
    )


def training_split(data: DataSource, dataset_cfg: dict, seed: int) -> tuple[DataSource, DataSource | None]:
    """What a run trains on and what it holds out: ``dataset.limit``'s subset (all of ``data``
    without one) with ``dataset.labelled``'s labels kept, and the rest of the data."""
    train, held_out = split_off(data, dataset_cfg.get("limit"))
    return keep_labels(train, dataset_cfg.get("labelled"), seed), held_out
