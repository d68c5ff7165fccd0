"""Data-parallel training across the processes ``torchrun`` starts (one per GPU; gloo on CPUs).

    torchrun --nproc_per_node=4 -m gan_cli train model=dcgan train.batch_size=64   # 4 x 64 images/step

Each rank draws its own shard of the data and its own latents; after every backward pass the
gradients are averaged across ranks with one all-reduce, so the weights stay identical (they
start identical: every rank builds the model from the same seed). Rank 0 alone writes the run
folder: logs, metrics, samples and checkpoints.

The gradients are averaged by ``average_gradients`` (called from ``steps.update``) rather than
by wrapping G and D in ``DistributedDataParallel``: a GAN step calls D several times per
backward pass, the gradient penalties differentiate D twice (``torch.autograd.grad``, which DDP
documents as unsupported), and tricks reach into ``D.body``/``D.head``, which a DDP wrapper
hides. Averaging after ``backward`` is the same reduction DDP performs, over the same
``torch.distributed`` collective, minus its overlap of communication with the backward pass.
"""

from __future__ import annotations

import os

import torch
import torch.distributed as dist

from gan_cli.errors import GanError


def launched() -> bool:
    """Started by torchrun (or any launcher that sets WORLD_SIZE) with more than one process."""
    return int(os.environ.get("WORLD_SIZE", "1")) > 1


def init() -> None:
    """Join the process group (once): NCCL when every rank has a GPU, else gloo."""
    if not launched() or dist.is_initialized():
        return
    backend = "nccl" if torch.cuda.is_available() else "gloo"
    if backend == "nccl":
        torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", "0")))
    try:
        dist.init_process_group(backend)
    except (RuntimeError, ValueError) as err:
        raise GanError(f"cannot join the torchrun process group: {str(err).splitlines()[0]}") from err


def active() -> bool:
    return dist.is_available() and dist.is_initialized()


def rank() -> int:
    return dist.get_rank() if active() else 0


def world_size() -> int:
    return dist.get_world_size() if active() else 1


def device(requested: torch.device) -> torch.device:
    """Each rank's own GPU (``LOCAL_RANK``) when training on CUDA."""
    if active() and requested.type == "cuda":
        return torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))
    return requested


def average_gradients(grads: list[torch.Tensor]) -> None:
    """Replace each rank's gradients by their mean over ranks (one flat all-reduce)."""
    if not active() or not grads:
        return
    flat = torch.cat([g.reshape(-1) for g in grads])
    dist.all_reduce(flat)
    flat /= dist.get_world_size()
    for g, averaged in zip(grads, flat.split([g.numel() for g in grads])):
        g.copy_(averaged.view_as(g))


def share(value: object) -> object:
    """Rank 0's ``value`` on every rank (e.g. the run folder it picked)."""
    if not active():
        return value
    box = [value]
    dist.broadcast_object_list(box, src=0)
    return box[0]
