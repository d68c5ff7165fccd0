"""Unrolled discriminator for the generator's update.

Metz et al. 2016, "Unrolled Generative Adversarial Networks", arXiv:1611.02163: G is scored by
D after k look-ahead updates of D, and G's gradient is taken through those updates
(``create_graph=True``), so G is pushed towards fakes that stay good once D has reacted —
which discourages hopping between modes. The look-ahead runs on copies of D's parameters
(``torch.func.functional_call``); D itself, and its batch-norm statistics, are left unchanged.

The look-ahead minimizes the run's own D loss (plain 1/0 targets) on the real batch D was last
updated on and on G's current fakes as D sees them (after noise, augmentation or packing),
which carry G's graph, as the paper's second-order term needs.

Simplification: the look-ahead updates are plain SGD at ``lr``, where the paper unrolls D's
Adam. Adam at D's lr of 2e-4 moves each weight by about 2e-4 per step; D's gradients measured at
initialization are about 1e-3 per weight (mlp) to 1e-2 (dcgan), so SGD at the default 0.1
moves D by the same order per look-ahead step.
Cost: k extra D forward/backward passes per G update, and a second-order backward through them.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.func import functional_call

from gan_cli.registry import TRICKS
from gan_cli.schema import NonNegativeInt, PositiveFloat
from gan_cli.tricks.base import Trick


class LookAheadDiscriminator(nn.Module):
    """D evaluated at the unrolled parameters (and copies of its buffers)."""

    def __init__(self, discriminator: nn.Module, tensors: dict[str, torch.Tensor]):
        super().__init__()
        self.discriminator = discriminator
        self.tensors = tensors

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return functional_call(self.discriminator, self.tensors, (x,))


@TRICKS.register("unrolled")
class Unrolled(Trick):
    def __init__(
        self,
        k: NonNegativeInt = 5,  # look-ahead D updates (the paper uses 1 to 10; 0 scores with D as it is)
        lr: PositiveFloat = 0.1,  # SGD learning rate of the look-ahead updates
    ):
        self.k = k
        self.lr = lr

    def g_discriminator(self, model, real: torch.Tensor, fake: torch.Tensor, loss) -> nn.Module:
        D = model.discriminator
        params = dict(D.named_parameters())
        # Copies, so batch-norm running statistics updated by the look-ahead stay out of D.
        buffers = {name: b.clone() for name, b in D.named_buffers()}
        for _ in range(self.k):
            real_out = functional_call(D, {**params, **buffers}, (real,))
            fake_out = functional_call(D, {**params, **buffers}, (fake,))
            ones, zeros = torch.ones_like(real_out), torch.zeros_like(fake_out)
            d_loss = loss.d_loss(real_out, fake_out, ones, zeros)
            grads = torch.autograd.grad(d_loss, list(params.values()), create_graph=True)
            params = {name: p - self.lr * g for (name, p), g in zip(params.items(), grads)}
        return LookAheadDiscriminator(D, {**params, **buffers})
