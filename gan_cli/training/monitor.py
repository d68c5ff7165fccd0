"""Watching D overfit: its outputs on fixed batches of training reals, held-out reals and fakes.

Karras et al. 2020 (StyleGAN2-ADA, arXiv:2006.06676, fig. 1) show the symptom of too little
data: D's outputs on the training images drift away from those on images it never trained on,
which fall towards the fakes'. ``DMonitor`` logs, at every record, D's mean raw output and the
sign statistic E[sign(D(x))] (ADA's r_t on the training reals) for each group, so the gap is a
curve in ``metrics.jsonl``, TensorBoard and ``gan report``. The held-out group exists when the
run trains on a subset (``dataset.limit``).

Watching must not change training: the forward passes run without gradients, on a forked
random stream (augmenting tricks draw from it), and the networks' buffers (batch-norm
statistics, spectral norm's power-iteration vectors) are put back afterwards, so a run with
the monitor is bit for bit the run without it.
"""

from __future__ import annotations

from contextlib import contextmanager

import torch
from torch import nn

from gan_cli.datasets.base import Batch, DataSource
from gan_cli.training.steps import AdversarialStep


def fixed_batch(data: DataSource, n: int) -> Batch:
    """The first ``n`` samples (repeated when the data holds fewer) and their labels."""
    indices = torch.arange(n) % len(data)
    labels = None if data.labels is None else data.labels[indices.to(data.labels.device)]
    return Batch(data.take(indices), labels)


@contextmanager
def untouched(model: nn.Module, device: torch.device):
    """Run a block that must leave no trace: the buffers and the random streams come back."""
    saved = {name: buffer.clone() for name, buffer in model.named_buffers()}
    with torch.random.fork_rng(devices=[device] if device.type == "cuda" else []), torch.no_grad():
        try:
            yield
        finally:
            for name, buffer in model.named_buffers():
                buffer.copy_(saved[name])


class DMonitor:
    """D's outputs on the same reals and the same latents at every record."""

    def __init__(
        self,
        step: AdversarialStep,
        train: DataSource,
        held_out: DataSource | None,
        z: torch.Tensor,
        device: torch.device,
    ):
        self.step, self.device, self.z = step, device, z
        self.groups = {"train": fixed_batch(train, len(z))}
        if held_out is not None:
            self.groups["held_out"] = fixed_batch(held_out, len(z))

    def __call__(self) -> dict[str, float]:
        record: dict[str, float] = {}
        with untouched(self.step.model, self.device):
            for group, batch in self.groups.items():
                real_out, fake_out = self.step.d_scores(batch, self.z)
                record |= summary(group, real_out)
                if group == "train":  # G(z) conditioned as the training reals are
                    record |= summary("fake", fake_out)
        return record


def summary(group: str, outputs: torch.Tensor) -> dict[str, float]:
    outputs = outputs.float()
    return {f"d_out_{group}": outputs.mean().item(), f"d_sign_{group}": outputs.sign().mean().item()}
