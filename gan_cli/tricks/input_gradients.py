"""D's gradient with respect to its input: what every gradient penalty constrains (WGAN-GP
pulls its norm to 1, R1 and R2 to 0)."""

from __future__ import annotations

import torch
from torch import nn

from gan_cli.errors import GanError


def input_gradients(D: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """grad_x D(x), one flattened row per sample, with a graph so a penalty on it trains D.

    Differentiating the summed scores gives each sample its own gradient only while D treats
    samples independently (see ``refuse_batch_norm``). A D that ignores x gets zeros.
    """
    x = x.detach().requires_grad_(True)
    (grad,) = torch.autograd.grad(D(x).sum(), x, create_graph=True, materialize_grads=True)
    return grad.flatten(1)


def refuse_batch_norm(model: nn.Module, who: str) -> None:
    """Per-sample gradient penalties are meaningless when batch norm mixes the samples."""
    if any(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in model.discriminator.modules()):
        raise GanError(f"{who} needs a discriminator without batch norm (for dcgan set model.d_norm=none)")
