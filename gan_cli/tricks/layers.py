"""The weight layers that tricks normalise, regularise or replace, and their weights as matrices."""

from __future__ import annotations

import torch
from torch import nn

from gan_cli.errors import GanError

WEIGHT_LAYERS = (nn.Linear, nn.modules.conv._ConvNd)  # convolutions, transposed ones included


def weight_layers(net: nn.Module) -> list[nn.Module]:
    return [m for m in net.modules() if isinstance(m, WEIGHT_LAYERS)]


def weight_matrix(layer: nn.Module) -> torch.Tensor:
    """The weight as outputs × rest, the matrix spectral norm normalises; a transposed
    convolution stores its outputs in dim 1."""
    w = layer.weight
    return (w.transpose(0, 1) if isinstance(layer, nn.modules.conv._ConvTransposeNd) else w).flatten(1)


def single_layer_head(model: nn.Module, who: str) -> nn.Linear | nn.Conv2d:
    """D's head, for tricks that rebuild it: one Linear (mlp) or one Conv2d whose kernel covers
    the body's whole final map (dcgan), scoring each sample with one output."""
    head = getattr(model.discriminator, "head", None)  # two-domain families have no single head
    if not isinstance(head, (nn.Linear, nn.Conv2d)) or head.weight.shape[0] != 1:
        raise GanError(
            f"{who} rebuilds D's head and needs it to be one Linear or Conv2d layer with one output "
            f"(got {type(head).__name__}; is another trick already replacing it?)"
        )
    return head
