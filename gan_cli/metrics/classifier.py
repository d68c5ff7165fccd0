"""A small CNN trained on the dataset's own labels: the feature space for MNIST-like data.

Inception-v3 features describe ImageNet photographs; on 28×28 digits the usual practice
(e.g. Lucic et al. 2018, "Are GANs Created Equal?", arXiv:1711.10337, and the stacked-MNIST
mode counts of Metz et al. 2016, arXiv:1611.02163) is a classifier trained on the data itself.
Its penultimate activations give FID/KID/precision/recall, its predictions give mode counts
and per-class accuracy.

Trained once per dataset, seeded, on 90 % of the labelled data (of a seeded subset of
``MAX_IMAGES`` when there are more), and tested on the held-out rest; cached as
``<data root>/classifiers/<fingerprint>.pt`` with its test accuracy, so a different dataset,
split or resolution gets its own. The package ships the weights for the
bundled MNIST split at resolution 32 (``gan_cli/assets/mnist/classifier-<hash>.pt``, 140 KB),
so the default run trains nothing.
"""

from __future__ import annotations

import logging
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from gan_cli.datasets.base import DataSource, to_resolution
from gan_cli.metrics.features import Extractor, cached, map_taken

log = logging.getLogger(__name__)

SHIPPED = Path(__file__).resolve().parent.parent / "assets" / "mnist"
SIZE = 32  # every input is brought to 32×32, so one classifier serves any resolution
SEED = 0
STEPS = 1500  # Adam steps of BATCH images: 98 % on the bundled 10k MNIST split, ~90 s on one core
BATCH = 128
LR = 2e-3
HELD_OUT = 0.1  # share of the labelled data kept for the test accuracy (at most MAX_TEST)
MAX_TEST = 10_000
# Labelled images a classifier is trained and tested on at most (MNIST's training split, whole):
# a larger, streamed folder is decoded once for a seeded subset, kept at 32×32.
MAX_IMAGES = 60_000


class Classifier(nn.Module):
    """Three conv-BN-ReLU-maxpool stages (16, 32, 64 maps), global average pooling, a 128-unit
    hidden layer (the features) and the class logits: ~33k parameters."""

    def __init__(self, channels: int, num_classes: int):
        super().__init__()
        layers: list[nn.Module] = []
        for c_in, c_out in ((channels, 16), (16, 32), (32, 64)):
            layers += [
                nn.Conv2d(c_in, c_out, 3, padding=1),
                nn.BatchNorm2d(c_out),
                nn.ReLU(),
                nn.MaxPool2d(2),
            ]
        self.body = nn.Sequential(
            *layers, nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(64, 128), nn.ReLU()
        )
        self.head = nn.Linear(128, num_classes)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.body(x))


def seeded_classifier(channels: int, num_classes: int) -> Classifier:
    """A freshly initialised classifier; the global RNG is left as it was, because metrics run
    inside training and a resumed run must reproduce the uninterrupted one."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(SEED)
        return Classifier(channels, num_classes)


class ClassifierExtractor(Extractor):
    name = "classifier"

    def __init__(self, state: dict, key: str, device: torch.device):
        self.key = f"classifier-{key}"
        self.test_accuracy = float(state["test_accuracy"])
        network = seeded_classifier(int(state["channels"]), int(state["num_classes"]))
        network.load_state_dict(state["weights"])
        self.network = network.eval().requires_grad_(False).to(device)

    def prepare(self, images: torch.Tensor) -> torch.Tensor:
        return to_resolution(images.float(), SIZE)

    def predict(self, images: torch.Tensor) -> torch.Tensor:
        return self._apply(images, self.network).argmax(dim=1)


def accuracy(network: nn.Module, images: torch.Tensor, labels: torch.Tensor) -> float:
    network.eval()
    with torch.no_grad():
        hits = sum(
            int((network(to_resolution(x, SIZE)).argmax(1) == y).sum())
            for x, y in zip(images.split(500), labels.split(500))
        )
    return hits / max(len(labels), 1)


def shifted(images: torch.Tensor, shift: int, g: torch.Generator) -> torch.Tensor:
    """Each image moved by its own random offset of up to ``shift`` pixels each way, the border
    filled with the background (-1): a digit's class does not depend on where it sits."""
    n, _, h, w = images.shape
    padded = F.pad(images, (shift, shift, shift, shift), value=-1.0)
    dy, dx = (torch.randint(2 * shift + 1, (n,), generator=g).to(images.device) for _ in range(2))
    rows = (dy[:, None] + torch.arange(h, device=images.device))[:, :, None]  # N×H×1
    cols = (dx[:, None] + torch.arange(w, device=images.device))[:, None, :]  # N×1×W
    picked = padded[torch.arange(n, device=images.device)[:, None, None], :, rows, cols]  # N×H×W×C
    return picked.movedim(-1, 1)


def pool(n: int) -> torch.Tensor:
    """The indices a classifier learns from: all ``n``, or a sorted seeded subset of ``MAX_IMAGES``."""
    if n <= MAX_IMAGES:
        return torch.arange(n)
    return torch.randperm(n, generator=torch.Generator().manual_seed(SEED))[:MAX_IMAGES].sort().values


def split(n: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Generator]:
    """How ``train`` divides data of ``n`` labelled images: the indices it learns from
    (``pool``), the positions within them of the held-out test images and of the fit images,
    and the seeded generator that drew them, which ``train`` goes on drawing its batches from
    (so the split and the batch order are one stream, as the cached weights were trained)."""
    chosen = pool(n)
    g = torch.Generator().manual_seed(SEED)
    order = torch.randperm(len(chosen), generator=g)
    n_test = min(MAX_TEST, max(1, int(HELD_OUT * len(chosen))))
    return chosen, order[:n_test], order[n_test:], g


def held_out(n: int) -> torch.Tensor:
    """Indices into data of ``n`` labelled images of those its classifier was tested on and
    never trained on, ascending."""
    chosen, test, _, _ = split(n)
    return chosen[test].sort().values


def train(data: DataSource, device: torch.device, steps: int | None = None, shift: int = 0) -> dict:
    """Weights and held-out accuracy of a classifier for ``data``'s labels, after ``steps`` Adam
    steps (None: ``STEPS``, read at call time) on training images shifted by up to ``shift``
    pixels of the 32×32 input (0: as they are).

    Its own generator for the split and the batch order: a classifier trained during a run
    leaves the run's RNG untouched.
    """
    chosen, test, fit_at, g = split(len(data))
    images = map_taken(data, chosen, lambda x: to_resolution(x.to(device).float(), SIZE))
    labels = data.labels[chosen].to(device)
    test = test.to(device)
    network = fit(images, labels, fit_at.to(device), data.num_classes, g, steps, shift)
    test_accuracy = accuracy(network, images[test], labels[test])
    return {
        "weights": {k: v.cpu() for k, v in network.state_dict().items()},
        "channels": data.shape[0],
        "num_classes": data.num_classes,
        "test_accuracy": test_accuracy,
        "test_size": len(test),
        "train_size": len(fit_at),
    }


def fit(
    images: torch.Tensor,
    labels: torch.Tensor,
    at: torch.Tensor,
    num_classes: int,
    g: torch.Generator,
    steps: int | None = None,
    shift: int = 0,
) -> Classifier:
    """A fresh classifier (``seeded_classifier``) trained by the recipe — ``steps`` Adam steps of
    ``BATCH`` images at ``LR``, decaying linearly to 0 — on ``images[at]`` (32×32) and their
    ``labels``, its batches drawn with ``g``."""
    steps = STEPS if steps is None else steps
    network = seeded_classifier(images.shape[1], num_classes).to(images.device).train()
    optimizer = torch.optim.Adam(network.parameters(), lr=LR)
    schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: 1 - step / steps)
    for _ in range(steps):
        pick = at[torch.randint(len(at), (BATCH,), generator=g).to(images.device)]
        batch = shifted(images[pick], shift, g) if shift else images[pick]
        loss = F.cross_entropy(network(batch), labels[pick])
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        schedule.step()
    return network


def trained_classifier(
    data: DataSource, root: str, device: torch.device, steps: int | None = None, shift: int = 0
) -> ClassifierExtractor | None:
    """The cached (or shipped) classifier for ``data``, trained first (``train``'s ``steps`` and
    ``shift``) when there is none; None for data without labels."""
    if data.labels is None or data.num_classes < 2 or len(data.shape) != 3:
        log.info("no classifier-based metrics: %s has no class labels to train one on", data.description)
        return None
    key = data.fingerprint()
    if steps is not None or shift:  # another recipe, another network: its own cache file
        key = f"{key}-steps{steps}-shift{shift}"
    shipped = SHIPPED / f"classifier-{key}.pt"
    path = shipped if shipped.is_file() else Path(root).expanduser() / "classifiers" / f"{key}.pt"

    def build() -> dict:
        log.info("training the %s classifier for the metrics (once; cached in %s)", data.description, path)
        return train(data, device, steps, shift)

    state = cached(path, build)
    log.info(
        "classifier for %s: %.2f %% test accuracy on %d held-out images",
        data.description,
        100 * state["test_accuracy"],
        state["test_size"],
    )
    return ClassifierExtractor(state, key, device)
