"""Deep convolutional GAN.

Radford, Metz & Chintala 2015, "Unsupervised Representation Learning with Deep Convolutional
Generative Adversarial Networks", arXiv:1511.06434: strided (transposed) convolutions instead of
pooling, batch norm in both networks, ReLU in G with tanh output, LeakyReLU(0.2) in D, no
fully-connected hidden layers, weights from N(0, 0.02). The network grows from 4x4 by doubling,
so one definition serves any power-of-two resolution (32 for MNIST, 64 as in the paper).

``conditional: true`` gives the conditional DCGAN: the one-hot label joins G's latent (Mirza &
Osindero 2014, arXiv:1411.1784), and D reads it as ``conditioning`` says — as extra input
channels (concat), through a projection of its features, or with an auxiliary classifier (see
``gan_cli/models/conditioning.py``).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Literal

import torch
from torch import nn

from gan_cli.errors import GanError
from gan_cli.models.base import init_dcgan_weights
from gan_cli.models.conditioning import ConditionalGAN, Conditioning, LabelledDiscriminator, label_input
from gan_cli.registry import MODELS
from gan_cli.schema import PositiveInt

DNorm = Literal["batch", "none"]
D_NORMS = {"batch": nn.BatchNorm2d, "none": None}
# ganhacks' "avoid sparse gradients": LeakyReLU in G, average pooling instead of strides in D.
G_ACTIVATIONS = {"relu": lambda: nn.ReLU(True), "leaky_relu": lambda: nn.LeakyReLU(0.2, True)}


@MODELS.register("dcgan")
class DCGAN(ConditionalGAN):
    def __init__(
        self,
        data_shape: tuple[int, ...],  # injected from the dataset: (channels, size, size)
        d_input_shape: tuple[int, ...] | None = None,  # injected: what D sees (PacGAN packs channels)
        num_classes: int = 0,  # injected: the dataset's classes (0: unlabelled)
        z_dim: PositiveInt = 100,  # latent size
        g_channels: PositiveInt = 64,  # G feature maps at the last hidden layer, doubled per step down
        d_channels: PositiveInt = 64,  # D feature maps at the first layer, doubled per step down
        d_norm: DNorm = "batch",  # "batch" (the paper) or "none" (for gradient penalties)
        g_activation: Literal["relu", "leaky_relu"] = "relu",  # "relu" (the paper) or "leaky_relu"
        d_downsample: Literal["strided", "avgpool"] = "strided",  # avgpool: a conv, then 2x2 average
        conditional: bool = False,  # class-conditional G and D (Mirza & Osindero 2014); needs labels
        conditioning: Conditioning = "concat",  # how D reads the label: concat (the paper), projection, auxiliary
    ):
        super().__init__()
        if len(data_shape) != 3 or data_shape[1] != data_shape[2]:
            raise GanError(f"dcgan needs square images, got data of shape {tuple(data_shape)}")
        channels, size = data_shape[0], data_shape[1]
        steps = math.log2(size / 4)
        if size < 8 or steps != int(steps):
            raise GanError(f"dcgan needs a power-of-two resolution >= 8, got {size}")
        classes = self.set_conditioning(
            "dcgan", conditional, num_classes, conditioning, data_shape, d_input_shape
        )
        self.z_dim = z_dim
        self.generator = _Generator(
            z_dim, g_channels, channels, int(steps), G_ACTIVATIONS[g_activation], classes
        )
        d_channels_in = (d_input_shape or data_shape)[0]
        self.discriminator = _Discriminator(
            d_channels,
            d_channels_in,
            int(steps),
            D_NORMS[d_norm],
            d_downsample == "avgpool",
            self.concat_classes(),
        )
        d_width = d_channels * 2 ** (int(steps) - 1)
        self.discriminator.add_conditioning(conditioning, classes, d_width, d_width * 16)
        self.apply(init_dcgan_weights)


class _Generator(nn.Module):
    def __init__(
        self,
        z_dim: int,
        width: int,
        channels: int,
        steps: int,
        activation: Callable[[], nn.Module],
        num_classes: int,
    ):
        super().__init__()
        widths = [width * 2 ** (steps - 1 - i) for i in range(steps)]  # e.g. 256, 128, 64
        self.inputs = nn.Sequential(*label_input(num_classes))  # empty: unconditional
        layers: list[nn.Module] = [
            nn.ConvTranspose2d(z_dim + num_classes, widths[0], 4, 1, 0, bias=False),  # 1x1 -> 4x4
            nn.BatchNorm2d(widths[0]),
            activation(),
        ]
        for w_in, w_out in zip(widths[:-1], widths[1:]):
            layers += [
                nn.ConvTranspose2d(w_in, w_out, 4, 2, 1, bias=False),
                nn.BatchNorm2d(w_out),
                activation(),
            ]
        layers += [nn.ConvTranspose2d(widths[-1], channels, 4, 2, 1), nn.Tanh()]
        self.net = nn.Sequential(*layers)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.net(self.inputs(z)[:, :, None, None])


def _downsample(w_in: int, w_out: int, bias: bool, avgpool: bool) -> list[nn.Module]:
    """Halve the resolution: a strided 4x4 conv, or a 3x3 conv then 2x2 average pooling."""
    if avgpool:
        return [nn.Conv2d(w_in, w_out, 3, 1, 1, bias=bias), nn.AvgPool2d(2)]
    return [nn.Conv2d(w_in, w_out, 4, 2, 1, bias=bias)]


class _Discriminator(LabelledDiscriminator):
    def __init__(
        self,
        width: int,
        channels: int,
        steps: int,
        norm: type[nn.Module] | None,
        avgpool: bool,
        label_classes: int,
    ):
        super().__init__()
        widths = [width * 2**i for i in range(steps)]  # e.g. 64, 128, 256
        # The paper leaves the first D layer without batch norm.
        layers = [
            *label_input(label_classes),
            *_downsample(channels + label_classes, widths[0], True, avgpool),
            nn.LeakyReLU(0.2, True),
        ]
        for w_in, w_out in zip(widths[:-1], widths[1:]):
            layers += _downsample(w_in, w_out, norm is None, avgpool)
            if norm is not None:
                layers.append(norm(w_out))
            layers.append(nn.LeakyReLU(0.2, True))
        self.body = nn.Sequential(*layers)  # -> widths[-1] x 4 x 4
        self.head = nn.Conv2d(widths[-1], 1, 4, 1, 0)  # 4x4 -> one logit
