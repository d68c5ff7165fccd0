"""Feature extractors: the networks in whose feature space sample quality is measured, and the
machinery they share (batched application, cached statistics). ``extractors.py`` picks one.

Two exist. ``inception`` is the Inception-v3 network of FID and IS with the original
TensorFlow weights (``inception.py``), the number papers report; ``classifier`` is a small CNN
trained on the dataset's own labels (``classifier.py``), the standard practice on MNIST-like
data, which works offline and measures what matters on digits. A record names the space its
numbers come from (``fid_classifier``, ``fid_inception``): the two are not comparable.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal

import torch

from gan_cli.datasets.base import DataSource
from gan_cli.training import checkpoint

log = logging.getLogger(__name__)

FeatureSpace = Literal["classifier", "inception"]
BATCH = 250  # images per forward pass: bounded memory on a CPU, full enough on a GPU
CHUNK = 1000  # real samples taken at once (a multiple of BATCH): bounded memory at any resolution


class Extractor:
    """A frozen network: images in [-1, 1] (N×C×H×W, any size) to features and class
    probabilities. ``name`` is the feature space as records name it; ``key`` identifies the
    network and its weights, for the reference-statistics cache."""

    name: str
    key: str
    network: torch.nn.Module

    def prepare(self, images: torch.Tensor) -> torch.Tensor:
        """What the network expects (size, channels) from the samples."""
        raise NotImplementedError

    def _apply(self, images: torch.Tensor, head: Callable[[torch.Tensor], torch.Tensor]) -> torch.Tensor:
        device = next(self.network.parameters()).device
        with torch.no_grad():
            return torch.cat([head(self.prepare(batch.to(device))).float() for batch in images.split(BATCH)])

    def features(self, images: torch.Tensor) -> torch.Tensor:
        return self._apply(images, self.network.features)

    def probabilities(self, images: torch.Tensor) -> torch.Tensor:
        return self._apply(images, lambda x: self.network(x).softmax(dim=1))


def map_taken(
    data: DataSource, indices: torch.Tensor, fn: Callable[[torch.Tensor], torch.Tensor]
) -> torch.Tensor:
    """``fn`` of the real samples at ``indices``, taken ``CHUNK`` at a time: streamed data is
    decoded a chunk at a time, and full-size samples are never all held at once."""
    return torch.cat([fn(data.take(chunk)) for chunk in indices.split(CHUNK)])


def cached(path: Path, build: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    """Tensors an earlier call saved at ``path``, else ``build()``'s, saved there atomically.

    Read with ``weights_only=True``; an unreadable file is rebuilt, an unwritable folder only
    costs the time to build again next run.
    """
    if path.is_file():
        try:
            return torch.load(path, map_location="cpu", weights_only=True)
        except Exception as err:  # truncated or foreign files raise many types
            log.warning("rebuilding the unreadable cache %s (%s)", path, err)
    state = build()
    try:
        checkpoint.save(state, path)
    except OSError as err:
        log.warning("could not cache %s (%s); it will be computed again next time", path, err)
    return state
