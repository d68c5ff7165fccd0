"""Does G copy its training images? Samples' distance to the training set against unseen reals'.

A GAN trained on a few hundred images can score a fine FID by drawing its training images back:
FID compares the samples with the data, not with what the model was shown. The test of Meehan,
Chaudhuri & Dasgupta 2020 ("A Non-Parametric Test to Detect Data-Copying in Generative Models",
arXiv:2004.05675) asks instead whether samples sit *nearer* the training images than new images
from the same distribution do: take each sample's distance to its nearest training image, and
each held-out real's, and compare the two sets with the Mann-Whitney statistic.

``copy_auc`` is that statistic as a probability: the chance that a sample is nearer the training
set than a held-out real is (ties count half). 0.5: the samples are as novel as real data; towards
1: they are copies; below 0.5: they are farther from the data than real images are (new, or
simply poor). ``nn_train_fake`` and ``nn_train_held_out`` are the two sets' medians, as the RMS
difference per value (images in [-1, 1]). Distances are in pixel space, the test's plainest
setting: nothing learnt decides what counts as a copy. The paper's cell-by-cell version, which
stops copying in one region from hiding behind underfitting in another, is not done here.

Images are compared at 32×32 (``SIZE``): a copy is still a copy there, and the metric, which runs
at every evaluation, costs what it costs on MNIST whatever the resolution. Applies to samples
drawn from noise where the run held data out (``dataset.limit``): the held-out images are the
unseen reals; the first as many of them as there are samples are used. Exact and deterministic.
"""

from __future__ import annotations

import torch

from gan_cli.datasets.base import DataSource, to_resolution
from gan_cli.metrics.base import Evaluation, Metric
from gan_cli.registry import METRICS

CHUNK = 1000  # training images compared at a time
SIZE = 32  # images are compared at this resolution


@METRICS.register("copying")
class DataCopying(Metric):
    def __call__(self, ev: Evaluation) -> dict[str, float]:
        if ev.train is None or ev.held_out is None or len(ev.outputs) < 2:
            return {}
        if ev.inputs is not None and "z" not in ev.inputs.named:
            return {}  # outputs that answer an image (a translation, a super-resolution), not noise
        fakes = ev.outputs.detach()
        unseen = ev.held_out.take(torch.arange(min(len(ev.held_out), len(fakes))))
        if unseen.shape[1:] != fakes.shape[1:] or len(unseen) < 2:
            return {}  # the samples are not of the data's kind
        to_fakes, _ = nearest(fakes, ev.train)
        to_unseen, _ = nearest(unseen.to(fakes.device), ev.train)
        return {
            "copy_auc": nearer_fraction(to_fakes, to_unseen),
            "nn_train_fake": float(to_fakes.median()),
            "nn_train_held_out": float(to_unseen.median()),
        }


def nearest(queries: torch.Tensor, train: DataSource) -> tuple[torch.Tensor, torch.Tensor]:
    """Each query's RMS difference per value (images at ``SIZE``) to its nearest training sample,
    and that sample's index."""
    queries = comparable(queries)
    best = torch.full((len(queries),), float("inf"), device=queries.device)
    at = torch.zeros(len(queries), dtype=torch.long, device=queries.device)
    for chunk in torch.arange(len(train)).split(CHUNK):
        samples = comparable(train.take(chunk).to(queries.device))
        closest = torch.cdist(queries, samples).min(1)
        nearer = closest.values < best
        best = torch.where(nearer, closest.values, best)
        at = torch.where(nearer, chunk.to(queries.device)[closest.indices], at)
    return best / queries.shape[1] ** 0.5, at


def comparable(x: torch.Tensor) -> torch.Tensor:
    """Samples as the rows compared: images at ``SIZE``, anything else as it is."""
    x = x.float()
    return (to_resolution(x, SIZE) if x.dim() == 4 else x).flatten(1)


def nearer_fraction(a: torch.Tensor, b: torch.Tensor) -> float:
    """P(an element of ``a`` < an element of ``b``), ties half: the Mann-Whitney U over |a| |b|."""
    ordered = b.sort().values
    below = torch.searchsorted(ordered, a, right=False)  # elements of b under each a
    at_most = torch.searchsorted(ordered, a, right=True)
    above = len(b) - at_most
    return float((above + 0.5 * (at_most - below)).sum() / (len(a) * len(b)))
