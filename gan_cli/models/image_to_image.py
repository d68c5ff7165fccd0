"""What the two-domain families share: the step they train with, and the image-to-image networks.

Networks, as CycleGAN (Zhu et al. 2017, arXiv:1703.10593) and pix2pix (Isola et al. 2017,
arXiv:1611.07004) define them, scaled by their widths and depths:

- ``ResnetGenerator``: Johnson et al. 2016 (arXiv:1603.08155) — a 7×7 stem, strided downsampling,
  residual blocks at the low resolution, transposed-conv upsampling, reflection padding.
- ``UNet``: an encoder-decoder down to 1×1 whose mirrored layers are joined by skip connections,
  so the low-level structure shared by input and output bypasses the bottleneck; dropout in the
  innermost decoder layers is pix2pix's noise source, kept on at test time as in the paper.
- ``PatchGAN``: a fully convolutional D scoring overlapping patches (70×70 with three strided
  layers), which models high frequencies while the L1/cycle terms take care of low ones.

``TwoDomainStep`` is the base of the CycleGAN, pix2pix and CoGAN steps. Those steps call the trick
hooks that make sense for two pairs of networks — ``on_step``, ``latent``, ``d_input``,
``d_outputs``, ``targets``, ``d_penalty``, ``after_d_step``, ``after_g_step`` (plus ``check``/``wrap``/``configure``
at build time: spectral norm, EMA, TTUR, gradient penalties, R1, instance noise, label smoothing,
weight clipping apply). They name the other hooks in ``hooks_not_called``, so a trick that acts
through one is refused at compose time (``TrickSet.check``) rather than silently doing nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal

import torch
import torch.nn.functional as F
from torch import nn

from gan_cli.datasets.base import Batch, DataSource
from gan_cli.datasets.unpaired import TwoDomainData
from gan_cli.errors import GanError
from gan_cli.models.base import GAN
from gan_cli.models.inputs import Inputs, Prior, seeded_positions
from gan_cli.training.steps import Step
from gan_cli.tricks.experience_replay import ExperienceReplay

Norm = Literal["instance", "batch"]
NORMS = {
    # CycleGAN's instance norm (no affine, no running statistics); pix2pix's batch norm at batch
    # size 1 is the same thing.
    "instance": lambda c: nn.InstanceNorm2d(c),
    "batch": nn.BatchNorm2d,
}
GRID_INPUTS = 8  # sources shown in a translator's grid (its columns)


def check_image_shape(data_shape: tuple[int, ...], family: str, multiple: int) -> tuple[int, int]:
    """(channels, size) of square images whose side divides by ``multiple``."""
    if len(data_shape) != 3 or data_shape[1] != data_shape[2] or data_shape[1] % multiple:
        raise GanError(
            f"{family} needs square images whose side is a multiple of {multiple}, got data of shape "
            f"{tuple(data_shape)}"
        )
    return data_shape[0], data_shape[1]


class ResnetBlock(nn.Module):
    def __init__(self, width: int, norm: Callable[[int], nn.Module]):
        super().__init__()
        self.net = nn.Sequential(
            nn.ReflectionPad2d(1),
            nn.Conv2d(width, width, 3),
            norm(width),
            nn.ReLU(True),
            nn.ReflectionPad2d(1),
            nn.Conv2d(width, width, 3),
            norm(width),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.net(x)


class ResnetGenerator(nn.Module):
    def __init__(
        self,
        channels: int,
        width: int,
        blocks: int,
        downsamplings: int,
        norm: Callable[[int], nn.Module],
    ):
        super().__init__()
        layers: list[nn.Module] = [
            nn.ReflectionPad2d(3),
            nn.Conv2d(channels, width, 7),
            norm(width),
            nn.ReLU(True),
        ]
        w = width
        for _ in range(downsamplings):
            layers += [nn.Conv2d(w, 2 * w, 3, 2, 1), norm(2 * w), nn.ReLU(True)]
            w *= 2
        layers += [ResnetBlock(w, norm) for _ in range(blocks)]
        for _ in range(downsamplings):
            layers += [nn.ConvTranspose2d(w, w // 2, 3, 2, 1, output_padding=1), norm(w // 2), nn.ReLU(True)]
            w //= 2
        layers += [nn.ReflectionPad2d(3), nn.Conv2d(w, channels, 7), nn.Tanh()]
        self.net = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


class TestTimeDropout(nn.Dropout):
    """Dropout in training and sampling alike: pix2pix's only source of randomness."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.dropout(x, self.p, training=True)


class UNet(nn.Module):
    """``depth`` halvings (size -> size / 2**depth), widths doubling from ``width`` up to 8×."""

    def __init__(
        self,
        channels: int,
        width: int,
        depth: int,
        norm: Callable[[int], nn.Module],
        dropout: float,
    ):
        super().__init__()
        widths = [width * 2 ** min(i, 3) for i in range(depth)]  # pix2pix: 64, 128, 256, 512, 512...
        self.down, self.up = nn.ModuleList(), nn.ModuleList()
        for i, w in enumerate(widths):
            layers: list[nn.Module] = [] if i == 0 else [nn.LeakyReLU(0.2, True)]
            layers.append(nn.Conv2d(channels if i == 0 else widths[i - 1], w, 4, 2, 1))
            if 0 < i < depth - 1:  # no norm on the input layer, nor on the 1×1 bottleneck
                layers.append(norm(w))
            self.down.append(nn.Sequential(*layers))
        for i in reversed(range(depth)):
            w_in = widths[i] * (1 if i == depth - 1 else 2)  # inner layers also get the skip
            layers = [nn.ReLU(True), nn.ConvTranspose2d(w_in, channels if i == 0 else widths[i - 1], 4, 2, 1)]
            if i == 0:
                layers.append(nn.Tanh())
            else:
                layers.append(norm(widths[i - 1]))
                if dropout and depth - 4 <= i <= depth - 2:  # the paper's three "CD" decoder layers
                    layers.append(TestTimeDropout(dropout))
            self.up.append(nn.Sequential(*layers))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        skips = []
        for down in self.down:
            x = down(x)
            skips.append(x)
        skips.pop()  # the bottleneck feeds the first up layer directly
        for up in self.up:
            x = up(x)
            if skips:
                x = torch.cat([skips.pop(), x], dim=1)
        return x


class PatchGAN(nn.Module):
    """``layers`` strided 4×4 convs, one more at stride 1, then a one-channel score map; three
    strided layers give each score a 70×70 receptive field. Scores are flattened: each patch
    counts as one sample for the loss."""

    def __init__(self, channels: int, width: int, layers: int, norm: Callable[[int], nn.Module]):
        super().__init__()
        widths = [width * 2 ** min(i, 3) for i in range(layers + 1)]  # 64, 128, 256, 512
        net: list[nn.Module] = [nn.Conv2d(channels, widths[0], 4, 2, 1), nn.LeakyReLU(0.2, True)]
        for i in range(1, layers + 1):
            stride = 2 if i < layers else 1
            net += [
                nn.Conv2d(widths[i - 1], widths[i], 4, stride, 1),
                norm(widths[i]),
                nn.LeakyReLU(0.2, True),
            ]
        net.append(nn.Conv2d(widths[-1], 1, 4, 1, 1))
        self.net = nn.Sequential(*net)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x).flatten()


def init_normal(module: nn.Module) -> None:
    """N(0, 0.02) weights, as the CycleGAN and pix2pix code initialise both networks."""
    if isinstance(module, (nn.Conv2d, nn.ConvTranspose2d)):
        nn.init.normal_(module.weight, 0.0, 0.02)
        nn.init.zeros_(module.bias)
    elif isinstance(module, nn.BatchNorm2d):
        nn.init.normal_(module.weight, 1.0, 0.02)
        nn.init.zeros_(module.bias)


class TranslatorNetworks(nn.Module):
    """The generator networks of a translator family. Checkpoints written while the grid's
    sources were kept in the model hold them as ``grid.*`` buffers: they are dropped on load, so
    those checkpoints still load."""

    def __init__(self) -> None:
        super().__init__()
        self.register_load_state_dict_pre_hook(drop_grid_buffers)


def drop_grid_buffers(module: nn.Module, state_dict: dict, prefix: str, *args) -> None:
    for key in [k for k in state_dict if k.startswith(f"{prefix}grid.")]:
        del state_dict[key]


class ImagePool(nn.Module):
    """The image pool of CycleGAN (experience replay's pool, one per domain), as module state so
    checkpoints carry it and a resumed run sees the same replayed fakes."""

    def __init__(self, size: int):
        super().__init__()
        self.replay = ExperienceReplay(size) if size else None

    def forward(self, fake: torch.Tensor) -> torch.Tensor:
        return fake.detach() if self.replay is None else self.replay.fake_for_d(fake)

    def get_extra_state(self) -> dict:
        return {} if self.replay is None else self.replay.state_dict()

    def set_extra_state(self, state: dict) -> None:
        if self.replay is not None:
            self.replay.load_state_dict(state)


class Translator(GAN):
    """A two-domain family that maps images to images: its input is a source image of domain A
    (``draw_inputs`` takes them from the data), its output the image of domain B it becomes, and
    the metrics compare the outputs with domain B. Paired data gives each source its target.

    A sample grid shows up to ``GRID_INPUTS`` sources in columns, with the rows ``grid_rows``
    (sources, translations, and what else the family shows).
    """

    directions: tuple[str, ...] = ("AtoB",)

    def translate(self, x: torch.Tensor, direction: str, ema: bool = True) -> torch.Tensor:
        raise NotImplementedError

    def grid_rows(self, inputs: Inputs, ema: bool) -> list[torch.Tensor]:
        """The rows of a grid of ``inputs`` (one column per source)."""
        raise NotImplementedError

    def draw_inputs(
        self,
        n: int,
        prior: Prior,
        generator: torch.Generator,
        labels: torch.Tensor | None = None,
        data: DataSource | None = None,
    ) -> Inputs:
        """n sources of domain A drawn from ``data`` (and as many images of domain B, for the grids
        of families that translate both ways), their classes where the data has them, and their
        counterparts as targets when the domains are paired."""
        if not isinstance(data, TwoDomainData):
            raise GanError(
                f"{self.registered_name} translates images, so its inputs come from two-domain data; "
                "to translate your own images: gan translate --ckpt CKPT --input DIR"
            )
        at = seeded_positions(n, len(data), generator).to(data.samples.device)
        other = data.other_domain()
        b = other.take(at if data.paired else seeded_positions(n, len(other), generator).to(at.device))
        return Inputs(
            {"source": data.take(at), "other": b},
            labels=None if data.labels is None else data.labels[at],
            targets=b if data.paired else None,
        )

    def generate(self, inputs: Inputs, ema: bool = True) -> torch.Tensor:
        return self.translate(inputs["source"], "AtoB", ema)

    def picture(self, inputs: Inputs, ema: bool = True) -> tuple[torch.Tensor, int | None]:
        shown = inputs.slice(0, GRID_INPUTS)
        return torch.cat(self.grid_rows(shown, ema)), len(shown)

    def reference(self, data: DataSource) -> DataSource:
        return data.other_domain() if isinstance(data, TwoDomainData) else data


class TwoDomainStep(Step):
    """The base of the two-domain steps: D's and G's phases of each domain's adversarial game,
    through the hook calls every step shares (``gan_cli/training/steps.py``), on two-domain batches."""

    # One D update per G update, on separate unpacked batches, G's fakes scored by the current
    # D; G's loss is the step's own sum of terms, so no trick may reweight or add to it. The
    # shared phases ask fake_for_d, d_forward and g_discriminator too, which only ever answer
    # with their defaults here: a trick acting through them is refused.
    hooks_not_called = (
        "data_shape",
        "fake_for_d",
        "d_forward",
        "g_discriminator",
        "g_penalty",
        "d_steps",
        "g_adversarial_weight",
    )

    def draw(self, next_batch: Callable[[], Batch]) -> tuple[torch.Tensor, torch.Tensor]:
        """The batch's domain A and domain B images."""
        batch = next_batch()
        if batch.other is None:
            raise GanError(
                f"{self.model.registered_name} needs two-domain data "
                "(dataset=mnist_domains, unpaired or paired)"
            )
        return batch.images, batch.other
