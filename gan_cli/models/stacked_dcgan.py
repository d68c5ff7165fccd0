"""The small DCGAN of the Stacked MNIST mode-collapse benchmark.

Metz, Poole, Pfau & Sohl-Dickstein 2016, "Unrolled Generative Adversarial Networks",
arXiv:1611.02163, appendix: a generator far stronger than its discriminator, so that D is easily
fooled by a G that covers few of the 1000 modes. Lin, Khetan, Fanti & Oh 2018 (PacGAN,
arXiv:1712.04086, Table 3) train the same pair with and without packing.

G: z (256) -> linear to 64 x 4 x 4, then 3x3 stride-2 transposed convolutions halving the maps
(32, 16, 8) up to the resolution, each with batch norm and ReLU, then a 3x3 stride-1 convolution
to the image channels and tanh. D: 3x3 stride-2 convolutions with batch norm on every layer
(the first included, unlike Radford et al.) and LeakyReLU(0.3), widths 2, 4, 8 ("D is 1/4 the
size of G") or 4, 8, 16 ("1/2"), then one linear logit. At 28x28 the maps go 4 -> 7 -> 14 -> 28;
any resolution that halves (rounding up) to 4 works: 8, 16, 28, 32, 64.
"""

from __future__ import annotations

import math

from torch import nn

from gan_cli.errors import GanError
from gan_cli.models.base import GAN, Discriminator
from gan_cli.registry import MODELS
from gan_cli.schema import PositiveFloat, PositiveInt

BASE = 4  # the resolution G starts from and D ends at


@MODELS.register("stacked_dcgan")
class StackedDCGAN(GAN):
    def __init__(
        self,
        data_shape: tuple[int, ...],  # injected from the dataset: (channels, size, size)
        d_input_shape: tuple[int, ...] | None = None,  # injected: what D sees (PacGAN packs channels)
        z_dim: PositiveInt = 256,  # latent size
        g_channels: PositiveInt = 64,  # G feature maps at 4x4, halved per upsampling
        d_channels: PositiveInt = 2,  # D feature maps at the first layer, doubled per downsampling
        d_slope: PositiveFloat = 0.3,  # LeakyReLU slope in D
    ):
        super().__init__()
        if len(data_shape) != 3 or data_shape[1] != data_shape[2]:
            raise GanError(f"stacked_dcgan needs square images, got data of shape {tuple(data_shape)}")
        sizes = halvings(data_shape[1])
        self.z_dim = z_dim
        self.generator = _Generator(z_dim, g_channels, data_shape[0], sizes)
        self.discriminator = _Discriminator(
            d_channels, (d_input_shape or data_shape)[0], len(sizes) - 1, d_slope
        )
        self.apply(_init_weights)
        nn.init.normal_(self.discriminator.head.weight, 0.0, 0.02)


def halvings(size: int) -> list[int]:
    """The map sizes from ``size`` down to 4, each half the last rounded up (28, 14, 7, 4): the
    sizes D's stride-2 convolutions reach and G's transposed ones retrace."""
    sizes = [size]
    while sizes[-1] > BASE:
        sizes.append(math.ceil(sizes[-1] / 2))
    if len(sizes) < 2 or sizes[-1] != BASE:
        raise GanError(
            f"stacked_dcgan needs a resolution that halves (rounding up) to 4, e.g. 16, 28, 32; got {size}"
        )
    return sizes


class _Generator(nn.Module):
    def __init__(self, z_dim: int, width: int, channels: int, sizes: list[int]):
        super().__init__()
        steps = len(sizes) - 1
        widths = [max(1, width // 2**i) for i in range(steps + 1)]  # e.g. 64, 32, 16, 8
        # Biases before batch norm are dropped: its mean subtraction cancels them.
        self.project = nn.Linear(z_dim, width * BASE * BASE, bias=False)
        self.width = width
        layers: list[nn.Module] = [nn.BatchNorm2d(width), nn.ReLU(True)]
        for i in range(steps):
            size_in, size_out = sizes[steps - i], sizes[steps - i - 1]
            # A 3x3 stride-2 transposed conv gives 2n - 1; one more row and column where the
            # target is even (7 -> 14), as TensorFlow's "SAME" transposed convolution does.
            extra = size_out - (2 * size_in - 1)
            layers += [
                nn.ConvTranspose2d(widths[i], widths[i + 1], 3, 2, 1, output_padding=extra, bias=False),
                nn.BatchNorm2d(widths[i + 1]),
                nn.ReLU(True),
            ]
        layers += [nn.Conv2d(widths[-1], channels, 3, 1, 1), nn.Tanh()]
        self.net = nn.Sequential(*layers)

    def forward(self, z):
        return self.net(self.project(z).view(len(z), self.width, BASE, BASE))


class _Discriminator(Discriminator):
    def __init__(self, width: int, channels: int, steps: int, slope: float):
        super().__init__()
        layers: list[nn.Module] = []
        for i in range(steps):
            layers += [
                nn.Conv2d(channels if i == 0 else width * 2 ** (i - 1), width * 2**i, 3, 2, 1, bias=False),
                nn.BatchNorm2d(width * 2**i),
                nn.LeakyReLU(slope, True),
            ]
        self.body = nn.Sequential(*layers)  # -> width * 2^(steps-1) x 4 x 4
        # A 4x4 kernel over the 4x4 map is the paper's linear layer on the flattened features,
        # in the form the head-rebuilding tricks (minibatch discrimination, stddev) expect.
        self.head = nn.Conv2d(width * 2 ** (steps - 1), 1, BASE)


def _init_weights(module: nn.Module) -> None:
    """As the authors' TensorFlow layers (carpedm20/DCGAN-tensorflow's ops): weights N(0, 0.02),
    truncated at two standard deviations for convolutions, zero biases, batch norm scale 1 and
    shift 0. D's head is the paper's linear layer, so it is re-drawn untruncated after this."""
    if isinstance(module, nn.BatchNorm2d):
        nn.init.ones_(module.weight)
        nn.init.zeros_(module.bias)
        return
    if type(module) is nn.Conv2d:
        nn.init.trunc_normal_(module.weight, 0.0, 0.02, -0.04, 0.04)
    elif isinstance(module, (nn.ConvTranspose2d, nn.Linear)):
        nn.init.normal_(module.weight, 0.0, 0.02)
    else:
        return
    if module.bias is not None:
        nn.init.zeros_(module.bias)
