"""The interface every metric implements, and what it is given."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch

from gan_cli.datasets.base import DataSource
from gan_cli.models.inputs import Inputs


@dataclass
class Evaluation:
    """What a metric scores: the generator's ``outputs``; ``data``, the real data they should
    resemble (a translator's: its target domain); ``labels``, the class of each output where
    known (what a conditional model was asked for, a translation's source class); the ``inputs``
    they came from; ``targets``, what each output should have been, where the task says
    (paired translation, super-resolution); ``held_out``, the real data the run did not train
    on (``dataset.limit``), and ``train``, the data it trained on; and ``classify``, the model's
    classifier of real images where it has one (the semi-supervised GAN's D)."""

    outputs: torch.Tensor
    data: DataSource
    labels: torch.Tensor | None = None
    inputs: Inputs | None = None
    targets: torch.Tensor | None = None
    held_out: DataSource | None = None
    train: DataSource | None = None
    classify: Callable[[torch.Tensor], torch.Tensor] | None = None


class Metric:
    """An ``Evaluation`` -> named numbers for ``metrics.jsonl``.

    A metric says where it applies by what it returns: ``{}`` when it does not (a mode count on
    images, a target distance without targets). Must not draw from the global RNGs: evaluation
    runs inside training, and a resumed run has to reproduce the uninterrupted one exactly. A
    constructor may take ``root`` (injected: the data root, for caches of reference statistics
    and classifiers).
    """

    def __call__(self, ev: Evaluation) -> dict[str, float]:
        raise NotImplementedError
