"""Real and fake samples in one discriminator batch.

The opposite of Chintala et al.'s ganhacks trick 4 (github.com/soumith/ganhacks), which builds
separate all-real and all-fake batches: D runs once on the concatenation, so batch norm
normalises real and fake samples with shared statistics and cannot tell the two apart by their
batch's mean and variance alone. Without batch norm in D it changes nothing.
"""

from __future__ import annotations

import torch

from gan_cli.registry import TRICKS
from gan_cli.tricks.base import Trick


@TRICKS.register("mixed_batches")
class MixedBatches(Trick):
    owns_d_forward = True

    def d_forward(self, D, real: torch.Tensor, fake: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        out = D(torch.cat([real, fake]))
        return out[: len(real)], out[len(real) :]
