"""Deep convolutional GAN.

Radford, Metz & Chintala 2015, "Unsupervised Representation Learning with Deep Convolutional
Generative Adversarial Networks", arXiv:1511.06434: strided (transposed) convolutions instead of
pooling, batch norm in both networks, ReLU in G with tanh output, LeakyReLU(0.2) in D, no
fully-connected hidden layers, weights from N(0, 0.02). The network grows from 4x4 by doubling,
so one definition serves any power-of-two resolution (32 for MNIST, 64 as in the paper).
"""

from __future__ import annotations

import math

import torch
from torch import nn

from gan_cli.errors import GanError
from gan_cli.models.base import GAN, Discriminator, init_dcgan_weights
from gan_cli.registry import MODELS

D_NORMS = {"batch": nn.BatchNorm2d, "none": None}


@MODELS.register("dcgan")
class DCGAN(GAN):
    def __init__(
        self,
        data_shape: tuple[int, ...],  # injected from the dataset: (channels, size, size)
        d_input_shape: tuple[int, ...] | None = None,  # injected: what D sees (PacGAN packs channels)
        z_dim: int = 100,  # latent size
        g_channels: int = 64,  # G feature maps at the last hidden layer, doubled per step down
        d_channels: int = 64,  # D feature maps at the first layer, doubled per step down
        d_norm: str = "batch",  # "batch" (the paper) or "none" (for gradient penalties)
    ):
        super().__init__()
        if len(data_shape) != 3 or data_shape[1] != data_shape[2]:
            raise GanError(f"dcgan needs square images, got data of shape {tuple(data_shape)}")
        channels, size = data_shape[0], data_shape[1]
        steps = math.log2(size / 4)
        if size < 8 or steps != int(steps):
            raise GanError(f"dcgan needs a power-of-two resolution >= 8, got {size}")
        if d_norm not in D_NORMS:
            raise GanError(f"dcgan d_norm must be one of {', '.join(D_NORMS)}, got '{d_norm}'")
        self.z_dim = z_dim
        self.generator = _Generator(z_dim, g_channels, channels, int(steps))
        d_channels_in = (d_input_shape or data_shape)[0]
        self.discriminator = _Discriminator(d_channels, d_channels_in, int(steps), D_NORMS[d_norm])
        self.apply(init_dcgan_weights)


class _Generator(nn.Module):
    def __init__(self, z_dim: int, width: int, channels: int, steps: int):
        super().__init__()
        widths = [width * 2 ** (steps - 1 - i) for i in range(steps)]  # e.g. 256, 128, 64
        layers: list[nn.Module] = [
            nn.ConvTranspose2d(z_dim, widths[0], 4, 1, 0, bias=False),  # 1x1 -> 4x4
            nn.BatchNorm2d(widths[0]),
            nn.ReLU(True),
        ]
        for w_in, w_out in zip(widths[:-1], widths[1:]):
            layers += [
                nn.ConvTranspose2d(w_in, w_out, 4, 2, 1, bias=False),
                nn.BatchNorm2d(w_out),
                nn.ReLU(True),
            ]
        layers += [nn.ConvTranspose2d(widths[-1], channels, 4, 2, 1), nn.Tanh()]
        self.net = nn.Sequential(*layers)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.net(z[:, :, None, None])


class _Discriminator(Discriminator):
    def __init__(self, width: int, channels: int, steps: int, norm: type[nn.Module] | None):
        super().__init__()
        widths = [width * 2**i for i in range(steps)]  # e.g. 64, 128, 256
        # The paper leaves the first D layer without batch norm.
        layers: list[nn.Module] = [nn.Conv2d(channels, widths[0], 4, 2, 1), nn.LeakyReLU(0.2, True)]
        for w_in, w_out in zip(widths[:-1], widths[1:]):
            layers.append(nn.Conv2d(w_in, w_out, 4, 2, 1, bias=norm is None))
            if norm is not None:
                layers.append(norm(w_out))
            layers.append(nn.LeakyReLU(0.2, True))
        self.body = nn.Sequential(*layers)  # -> widths[-1] x 4 x 4
        self.head = nn.Conv2d(widths[-1], 1, 4, 1, 0)  # 4x4 -> one logit
