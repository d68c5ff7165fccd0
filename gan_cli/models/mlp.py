"""The original fully-connected GAN.

Goodfellow et al. 2014, "Generative Adversarial Nets", arXiv:1406.2661: a multilayer
perceptron generator maps noise to data, a multilayer perceptron discriminator scores it.
Works on any data shape (images are flattened), so it is also the model for 2-D toy mixtures.

``conditional: true`` makes it the conditional GAN of Mirza & Osindero 2014, "Conditional
Generative Adversarial Nets", arXiv:1411.1784: the one-hot label joins G's latent, and D reads it
as ``conditioning`` says (see ``gan_cli/models/conditioning.py``).
"""

from __future__ import annotations

import math

from torch import nn

from gan_cli.models.conditioning import ConditionalGAN, Conditioning, LabelledDiscriminator, label_input
from gan_cli.registry import MODELS
from gan_cli.schema import PositiveInt


def _mlp(sizes: list[int], activation: type[nn.Module], batch_norm: bool = False) -> list[nn.Module]:
    layers: list[nn.Module] = []
    for n_in, n_out in zip(sizes[:-2], sizes[1:-1]):
        layers += [nn.Linear(n_in, n_out), *([nn.BatchNorm1d(n_out)] if batch_norm else []), activation()]
    layers.append(nn.Linear(sizes[-2], sizes[-1]))
    return layers


class LeakyReLU02(nn.LeakyReLU):
    def __init__(self) -> None:
        super().__init__(0.2)


@MODELS.register("mlp")
class MLPGAN(ConditionalGAN):
    def __init__(
        self,
        data_shape: tuple[int, ...],  # injected: what G makes
        d_input_shape: tuple[int, ...] | None = None,  # injected: what D sees (default data_shape)
        num_classes: int = 0,  # injected: the dataset's classes (0: unlabelled)
        z_dim: PositiveInt = 64,  # latent size
        hidden: PositiveInt = 256,  # width of every hidden layer (G and D)
        depth: PositiveInt = 3,  # hidden layers per network
        g_batch_norm: bool = False,  # batch norm in G's hidden layers (the VEEGAN/PacGAN 2-D setup)
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
        g_layers = _mlp([z_dim + classes] + [hidden] * depth + [n_out], nn.ReLU, g_batch_norm)
        # Images live in [-1, 1]; points of a toy mixture are unbounded.
        if len(self.data_shape) == 3:
            g_layers.append(nn.Tanh())
        self.generator = nn.Sequential(*label_input(classes), *g_layers, nn.Unflatten(1, self.data_shape))
        self.discriminator = _Discriminator(
            math.prod(d_input_shape or data_shape), hidden, depth, self.concat_classes()
        )
        self.discriminator.add_conditioning(conditioning, classes, hidden, hidden)


class _Discriminator(LabelledDiscriminator):
    def __init__(self, n_in: int, hidden: int, depth: int, label_classes: int):
        super().__init__()
        self.body = nn.Sequential(
            nn.Flatten(),
            *label_input(label_classes),
            *_mlp([n_in + label_classes] + [hidden] * depth, LeakyReLU02),
            LeakyReLU02(),
        )
        self.head = nn.Linear(hidden, 1)
