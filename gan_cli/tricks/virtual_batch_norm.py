"""Virtual batch normalization.

Salimans et al. 2016, "Improved Techniques for Training GANs", arXiv:1606.03498, section 3.4:
batch norm makes G's output for one latent depend on the other latents of its batch. Virtual
batch norm normalizes each example with the statistics of a reference batch, chosen once and
fixed, combined with the example itself (weight 1/(N_ref+1), as in the authors' code), so an
output depends only on its own input.

The reference statistics must be those of the current weights, so every forward of a wrapped
network first runs the reference batch through it in a recording pass (normalized with its own
statistics, as the paper does), then the real batch: one extra forward of ``reference_size``
examples per forward, roughly doubling G's cost at the default sizes. Gradients flow through
the reference statistics as well. The reference latents of G are Gaussian draws (torch's
global RNG), fixed when the trick wraps G; D's reference inputs (``in_discriminator``) are the
first examples of the first batch D scores — a real batch in the training step. Both are buffers
of the network they belong to, so checkpoints, ``.to(device)`` and the EMA copy carry them.
"""

from __future__ import annotations

import torch
from torch import nn

from gan_cli.errors import GanError
from gan_cli.registry import TRICKS
from gan_cli.schema import PositiveInt
from gan_cli.tricks.base import Trick

BATCH_NORMS = (nn.BatchNorm1d, nn.BatchNorm2d)


class VirtualBatchNorm(nn.Module):
    """Normalizes with the recorded reference statistics plus the example's own; takes over a
    batch norm's affine parameters (its running statistics are no longer needed)."""

    def __init__(self, batch_norm: nn.modules.batchnorm._BatchNorm):
        super().__init__()
        self.weight, self.bias, self.eps = batch_norm.weight, batch_norm.bias, batch_norm.eps
        self.recording = False
        self.reference: tuple[torch.Tensor, torch.Tensor] | None = None  # mean, mean of squares
        self.size = 0  # examples in the reference batch

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        shape = (1, -1) + (1,) * (x.dim() - 2)  # per channel, broadcast over batch and space
        if self.recording:
            dims = (0, *range(2, x.dim()))
            mean, mean_sq = x.mean(dims, keepdim=True), (x * x).mean(dims, keepdim=True)
            self.reference, self.size = (mean, mean_sq), len(x)
        else:
            if self.reference is None:
                raise RuntimeError("VirtualBatchNorm called outside its network's reference pass")
            spatial = tuple(range(2, x.dim()))  # an example's own statistics: over its positions
            own_mean = x.mean(spatial, keepdim=True) if spatial else x
            own_mean_sq = (x * x).mean(spatial, keepdim=True) if spatial else x * x
            new = 1.0 / (self.size + 1)
            mean = new * own_mean + (1 - new) * self.reference[0]
            mean_sq = new * own_mean_sq + (1 - new) * self.reference[1]
        out = (x - mean) * torch.rsqrt((mean_sq - mean * mean).clamp_min(0) + self.eps)
        if self.weight is not None:
            out = out * self.weight.view(shape) + self.bias.view(shape)
        return out


def _reference_pass(network: nn.Module, args: tuple) -> None:
    """Forward pre-hook: record every layer's reference statistics at the current weights."""
    norms = [m for m in network.modules() if isinstance(m, VirtualBatchNorm)]
    if network.vbn_reference.numel() == 0:  # a discriminator's reference: its first batch
        network.vbn_reference = args[0][: network.vbn_reference_size].detach().clone()
    for m in norms:
        m.recording = True
    try:
        network.forward(network.vbn_reference)  # .forward, not (): this hook must not re-enter
    finally:
        for m in norms:
            m.recording = False


def _fit_reference(network: nn.Module, state_dict: dict, prefix: str, *args) -> None:
    """Load-state-dict pre-hook: a lazily fixed reference takes the checkpoint's shape."""
    saved = state_dict.get(prefix + "vbn_reference")
    if saved is not None:
        network.vbn_reference = torch.empty_like(saved, device=network.vbn_reference.device)


def _virtualize(network: nn.Module, reference: torch.Tensor, reference_size: int) -> None:
    for parent in list(network.modules()):
        for name, child in parent.named_children():
            if isinstance(child, BATCH_NORMS):
                setattr(parent, name, VirtualBatchNorm(child))
    network.register_buffer("vbn_reference", reference)
    network.vbn_reference_size = reference_size
    network.register_forward_pre_hook(_reference_pass)
    network.register_load_state_dict_pre_hook(_fit_reference)


def _has_batch_norm(network: nn.Module) -> bool:
    return any(isinstance(m, BATCH_NORMS) for m in network.modules())


@TRICKS.register("virtual_batch_norm")
class VirtualBatchNormTrick(Trick):
    order = -10  # replaces layers before tricks that copy or reparametrize the networks (ema)

    def __init__(
        self,
        reference_size: PositiveInt = 64,  # examples in the fixed reference batch
        in_discriminator: bool = False,  # also replace D's batch norms (the paper does G only)
    ):
        self.reference_size = reference_size
        self.in_discriminator = in_discriminator

    def check(self, model, loss) -> None:
        if model.num_classes:
            raise GanError(
                "virtual_batch_norm's fixed reference batch has no labels to condition on; "
                "it cannot be used with a class-conditional model"
            )
        if not _has_batch_norm(model.generator):
            raise GanError(
                f"virtual_batch_norm needs batch norm in the generator; '{type(model).__name__}' has none"
            )
        if self.in_discriminator and not _has_batch_norm(model.discriminator):
            raise GanError(
                "virtual_batch_norm.in_discriminator needs batch norm in the discriminator "
                "(for dcgan set model.d_norm=batch)"
            )

    def wrap(self, model) -> None:
        latents = torch.randn(self.reference_size, model.z_dim)
        _virtualize(model.generator, latents, self.reference_size)
        if self.in_discriminator:
            _virtualize(model.discriminator, torch.empty(0), self.reference_size)
