"""The original fully-connected GAN.

Goodfellow et al. 2014, "Generative Adversarial Nets", arXiv:1406.2661: a multilayer
perceptron generator maps noise to data, a multilayer perceptron discriminator scores it.
Works on any data shape (images are flattened), so it is also the model for 2-D toy mixtures.

``conditional: true`` makes it the conditional GAN of Mirza & Osindero 2014, "Conditional
Generative Adversarial Nets", arXiv:1411.1784: the one-hot label joins G's latent, and D reads it
as ``conditioning`` says (see ``gan_cli/models/conditioning.py``).

The widths, activations and initialisations below also build the 2-D toy networks of three papers
as their code does (the overrides are in ``conf/model/mlp.yaml``):

- PacGAN (Lin et al. 2018, arXiv:1712.04086): G 4x400 with batch norm and ReLU, D three maxout
  layers of 200 units and 5 pieces, weights N(0, 0.02). Its G's hidden Linears have no bias;
  ours have one, which the batch norm after each cancels.
- WGAN-GP (Gulrajani et al. 2017, arXiv:1704.00028, ``gan_toy.py``): G and D 3x512 ReLU, He init.
- Unrolled GAN (Metz et al. 2017, arXiv:1611.02163): G 2x128 and D 1x128 tanh, orthogonal init.
"""

from __future__ import annotations

import math
from typing import Literal

import torch
from torch import nn

from gan_cli.models.conditioning import ConditionalGAN, Conditioning, LabelledDiscriminator, label_input
from gan_cli.registry import MODELS
from gan_cli.schema import PositiveInt


class LeakyReLU02(nn.LeakyReLU):
    def __init__(self) -> None:
        super().__init__(0.2)


class Maxout(nn.Module):
    """Goodfellow et al. 2013, "Maxout Networks", arXiv:1302.4389: each unit is the max of
    ``pieces`` consecutive inputs, so a Linear to ``units * pieces`` makes a layer of ``units``
    (the grouping of Blocks' ``LinearMaxout``, which PacGAN's code uses)."""

    def __init__(self, pieces: int):
        super().__init__()
        self.pieces = pieces

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.unflatten(1, (-1, self.pieces)).amax(2)


Activation = Literal["leaky_relu", "relu", "tanh", "maxout"]
ACTIVATIONS = {"leaky_relu": LeakyReLU02, "relu": nn.ReLU, "tanh": nn.Tanh}  # maxout: see hidden_layer

Init = Literal["default", "normal", "he", "orthogonal"]
INITS = {
    "default": None,  # PyTorch's own, as each Linear was built
    "normal": lambda w: nn.init.normal_(w, 0.0, 0.02),  # PacGAN's IsotropicGaussian(0.02)
    # tflib's 'he' in gan_toy.py is uniform with std sqrt(2 / fan_in): Kaiming's uniform for ReLU.
    # (Its output Linears are Glorot's; with 1 or 2 outputs that std differs by under 0.2%.)
    "he": lambda w: nn.init.kaiming_uniform_(w, nonlinearity="relu"),
    "orthogonal": lambda w: nn.init.orthogonal_(w, gain=1.4),  # the unrolled GAN notebook's
}


def hidden_layer(
    n_in: int, n_out: int, activation: Activation, batch_norm: bool = False, pieces: int = 1
) -> list[nn.Module]:
    """Linear, batch norm if asked, activation; a maxout layer's Linear makes ``pieces`` per unit."""
    if activation == "maxout":
        return [nn.Linear(n_in, n_out * pieces), Maxout(pieces)]
    norm = [nn.BatchNorm1d(n_out)] if batch_norm else []
    return [nn.Linear(n_in, n_out), *norm, ACTIVATIONS[activation]()]


def hidden_layers(
    n_in: int, width: int, depth: int, activation: Activation, batch_norm: bool = False, pieces: int = 1
) -> list[nn.Module]:
    sizes = [n_in] + [width] * depth
    return [m for a, b in zip(sizes, sizes[1:]) for m in hidden_layer(a, b, activation, batch_norm, pieces)]


def init_linears(module: nn.Module, init: Init) -> None:
    """Re-draw the weights of every Linear in ``module`` and zero its bias; ``default`` leaves
    them as built, so the random stream (and old runs) stay the same."""
    if INITS[init] is None:
        return
    for linear in (m for m in module.modules() if isinstance(m, nn.Linear)):
        INITS[init](linear.weight)
        if linear.bias is not None:
            nn.init.zeros_(linear.bias)


@MODELS.register("mlp")
class MLPGAN(ConditionalGAN):
    def __init__(
        self,
        data_shape: tuple[int, ...],  # injected: what G makes
        d_input_shape: tuple[int, ...] | None = None,  # injected: what D sees (default data_shape)
        num_classes: int = 0,  # injected: the dataset's classes (0: unlabelled)
        z_dim: PositiveInt = 64,  # latent size
        hidden: PositiveInt = 256,  # width of G's hidden layers (and D's unless d_hidden)
        depth: PositiveInt = 3,  # hidden layers of G (and of D unless d_depth)
        d_hidden: PositiveInt | None = None,  # width of D's hidden layers (null: hidden)
        d_depth: PositiveInt | None = None,  # hidden layers of D (null: depth)
        g_batch_norm: bool = False,  # batch norm in G's hidden layers (the VEEGAN/PacGAN 2-D setup)
        g_activation: Literal["relu", "tanh"] = "relu",  # G's hidden activation
        d_activation: Activation = "leaky_relu",  # D's hidden activation (leaky_relu: slope 0.2)
        maxout_pieces: PositiveInt = 5,  # pieces per maxout unit (d_activation=maxout)
        init: Init = "default",  # every Linear's weights: default (PyTorch), normal, he, orthogonal
        conditional: bool = False,  # class-conditional G and D (Mirza & Osindero 2014); needs labels
        conditioning: Conditioning = "concat",  # how D reads the label: concat (the paper), projection, auxiliary
    ):
        super().__init__()
        self.z_dim = z_dim
        self.data_shape = tuple(data_shape)
        classes = self.set_conditioning(
            "mlp", conditional, num_classes, conditioning, data_shape, d_input_shape
        )
        n_out = math.prod(self.data_shape)
        g_layers = hidden_layers(z_dim + classes, hidden, depth, g_activation, batch_norm=g_batch_norm)
        g_layers.append(nn.Linear(hidden, n_out))
        # Images live in [-1, 1]; points of a toy mixture are unbounded.
        if len(self.data_shape) == 3:
            g_layers.append(nn.Tanh())
        self.generator = nn.Sequential(*label_input(classes), *g_layers, nn.Unflatten(1, self.data_shape))
        d_hidden = hidden if d_hidden is None else d_hidden
        d_depth = depth if d_depth is None else d_depth
        n_in = math.prod(d_input_shape or data_shape)
        self.discriminator = _Discriminator(
            n_in, d_hidden, d_depth, d_activation, maxout_pieces, self.concat_classes()
        )
        self.discriminator.add_conditioning(conditioning, classes, d_hidden, d_hidden)
        init_linears(self, init)


class _Discriminator(LabelledDiscriminator):
    def __init__(
        self, n_in: int, hidden: int, depth: int, activation: Activation, pieces: int, label_classes: int
    ):
        super().__init__()
        # Every hidden layer ends in the activation, the last one too; the head reads its output.
        self.body = nn.Sequential(
            nn.Flatten(),
            *label_input(label_classes),
            *hidden_layers(n_in + label_classes, hidden, depth, activation, pieces=pieces),
        )
        self.head = nn.Linear(hidden, 1)
