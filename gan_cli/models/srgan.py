"""SRGAN: super-resolution by a residual generator, a content loss and a small adversarial term.

Ledig et al. 2017, "Photo-Realistic Single Image Super-Resolution Using a Generative Adversarial
Network", arXiv:1609.04802. G (SRResNet) maps a low-resolution image to one ``scale`` times larger:
a 9×9 stem, B residual blocks (conv-BN-PReLU-conv-BN) under a long skip, sub-pixel convolution
(conv to 4× the maps, pixel shuffle) once per doubling, a 9×9 output conv. D is VGG-style: eight
3×3 convs, widths doubling every two, stride 2 on every second, LeakyReLU 0.2 and BN, then dense
1024 and one score. G's loss is content + 10⁻³ × adversarial. The paper's content loss is the
distance of VGG19 features (φ5,4, scaled by 1/12.75); offline, the default is the same idea in the
feature space of the dataset's own classifier (its last conv stage, before pooling), with pixel
L1/L2 and VGG19 from a local weights file as options. ``adversarial_weight=0`` is SRResNet alone
(the paper's PSNR-oriented baseline); ESRGAN's relativistic D (Wang et al. 2018,
arXiv:1809.00219) is ``loss=ragan``.

Any image dataset becomes a super-resolution task: the low-resolution input is the training image
downsampled by ``scale`` (bicubic with antialiasing), made on the fly; the image is the target.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path
from typing import Literal

import torch
import torch.nn.functional as F
from torch import nn

from gan_cli.datasets.base import Batch, DataSource
from gan_cli.errors import GanError
from gan_cli.models.base import GAN, Discriminator
from gan_cli.models.image_to_image import GRID_INPUTS
from gan_cli.models.inputs import Inputs, Prior, seeded_positions
from gan_cli.registry import MODELS
from gan_cli.schema import NonNegativeFloat, PositiveInt
from gan_cli.training.steps import Step

Content = Literal["classifier", "l1", "l2", "vgg19"]
VGG19_LAYERS = (
    64,
    64,
    "M",
    128,
    128,
    "M",
    256,
    256,
    256,
    256,
    "M",
    512,
    512,
    512,
    512,
    "M",
    512,
    512,
    512,
    512,
)
VGG_SCALE = 1 / 12.75  # the paper's rescaling of the VGG feature maps
IMAGENET_MEAN, IMAGENET_STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)


def downsample(images: torch.Tensor, scale: int) -> torch.Tensor:
    """The low-resolution input of ``images``: bicubic with antialiasing, ``scale`` times smaller."""
    size = (images.shape[-2] // scale, images.shape[-1] // scale)
    return F.interpolate(images, size=size, mode="bicubic", antialias=True, align_corners=False).clamp(-1, 1)


class ResidualBlock(nn.Module):
    def __init__(self, width: int):
        super().__init__()
        self.net = nn.Sequential(
            nn.Conv2d(width, width, 3, 1, 1),
            nn.BatchNorm2d(width),
            nn.PReLU(width),
            nn.Conv2d(width, width, 3, 1, 1),
            nn.BatchNorm2d(width),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.net(x)


class SRResNet(nn.Module):
    def __init__(self, channels: int, width: int, blocks: int, scale: int):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(channels, width, 9, 1, 4), nn.PReLU(width))
        self.body = nn.Sequential(
            *[ResidualBlock(width) for _ in range(blocks)],
            nn.Conv2d(width, width, 3, 1, 1),
            nn.BatchNorm2d(width),
        )
        doublings = [
            layer
            for _ in range(int(math.log2(scale)))
            for layer in (nn.Conv2d(width, 4 * width, 3, 1, 1), nn.PixelShuffle(2), nn.PReLU(width))
        ]
        self.upsample = nn.Sequential(*doublings, nn.Conv2d(width, channels, 9, 1, 4), nn.Tanh())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.stem(x)
        return self.upsample(h + self.body(h))


class VGGDiscriminator(Discriminator):
    def __init__(self, channels: int, size: int, width: int, dense: int):
        super().__init__()
        layers: list[nn.Module] = []
        c_in = channels
        for i in range(8):
            c_out, stride = width * 2 ** (i // 2), 1 + i % 2
            layers += [nn.Conv2d(c_in, c_out, 3, stride, 1), *([nn.BatchNorm2d(c_out)] if i else [])]
            layers.append(nn.LeakyReLU(0.2, True))
            c_in = c_out
            size = (size - 1) // stride + 1
        self.body = nn.Sequential(*layers, nn.Flatten())
        self.head = nn.Sequential(
            nn.Linear(c_in * size * size, dense), nn.LeakyReLU(0.2, True), nn.Linear(dense, 1)
        )


def vgg19_features(weights: str) -> nn.Module:
    """VGG19 up to φ5,4 (the ReLU after the 16th conv, before the 5th max-pool), with the weights
    of torchvision's ``vgg19`` state dict at ``weights`` (its ``features.*`` entries)."""
    layers: list[nn.Module] = []
    c_in = 3
    for spec in VGG19_LAYERS:
        if spec == "M":
            layers.append(nn.MaxPool2d(2))
        else:
            layers += [nn.Conv2d(c_in, spec, 3, padding=1), nn.ReLU()]
            c_in = spec
    net = nn.Sequential(*layers)
    try:
        state = torch.load(weights, map_location="cpu", weights_only=True)
        own = {k.removeprefix("features."): v for k, v in state.items() if k.startswith("features.")}
        net.load_state_dict({k: v for k, v in own.items() if int(k.split(".")[0]) < len(layers)})
    except (OSError, RuntimeError, ValueError, AttributeError) as err:
        raise GanError(
            f"model.vgg_weights={weights}: not torchvision's VGG19 weights ({str(err).splitlines()[0]})"
        ) from err
    return net.eval().requires_grad_(False)


class ContentLoss:
    """The distance of G's output to the high-resolution target, in ``content``'s space. Not a
    module: the frozen feature network is not part of the model's weights or checkpoints."""

    def __init__(self, content: Content, network: nn.Module | None = None, prepare: Callable | None = None):
        self.content, self.network, self.prepare = content, network, prepare

    def __call__(self, fake: torch.Tensor, real: torch.Tensor) -> torch.Tensor:
        if self.content == "l1":
            return F.l1_loss(fake, real)
        if self.content == "l2":
            return F.mse_loss(fake, real)
        fake_f, real_f = (self.network(self.prepare(x)) for x in (fake, real))
        return F.mse_loss(fake_f, real_f.detach())


class SuperResolutionStep(Step):
    """D on high-resolution reals against G's upscaled fakes; G on content + weight × adversarial."""

    hooks_not_called = ("data_shape", "latent", "d_steps")  # one D update on the images as they are

    def __call__(self, step: int, next_batch: Callable[[], Batch]) -> dict[str, torch.Tensor]:
        model = self.model
        self.tricks.on_step(step)
        high = next_batch().images
        fake = model.generator(downsample(high, model.scale))
        d_loss, d_phase = self.d_phase(step, model.discriminator, high, fake)
        d_grad_norm = self.update_d(d_loss)

        adversarial, g_phase = self.g_phase(d_phase, fake)
        adversarial = self.tricks.g_adversarial_weight * adversarial + self.tricks.g_penalty(g_phase)
        content = model.content_loss(fake, high)
        g_loss = content + model.adversarial_weight * adversarial
        g_grad_norm = self.update_g(g_loss)
        return self.scalars(d_loss, g_loss, [d_phase], d_grad_norm, g_grad_norm, content=content)


@MODELS.register("srgan")
class SRGAN(GAN):
    step_class = SuperResolutionStep

    def __init__(
        self,
        data_shape: tuple[int, ...],  # injected: the high-resolution images (channels, size, size)
        num_classes: int = 0,  # injected: the data's classes (the classifier content loss needs some)
        scale: Literal[2, 4, 8] = 4,  # upscaling factor
        g_channels: PositiveInt = 64,  # SRResNet feature maps
        g_blocks: PositiveInt = 16,  # residual blocks (the paper: 16)
        d_channels: PositiveInt = 64,  # D's first conv width (doubled every two convs up to 8×)
        d_dense: PositiveInt = 1024,  # D's dense layer
        content: Content = "classifier",  # the content loss's space: classifier features, l1, l2, vgg19
        vgg_weights: str | None = None,  # torchvision VGG19 weights file (content=vgg19); never downloaded
        adversarial_weight: NonNegativeFloat = 1e-3,  # the paper's 10^-3; 0: SRResNet (content only)
    ):
        super().__init__()
        channels, size = data_shape[0], data_shape[-1]
        if len(data_shape) != 3 or data_shape[1] != size or size % scale:
            raise GanError(
                f"srgan needs square images whose side divides by scale={scale}, got {tuple(data_shape)}"
            )
        if content == "classifier" and not num_classes:
            raise GanError(
                "srgan's content=classifier uses the dataset classifier, which needs labelled data; "
                "use model.content=l1, l2, or vgg19 with model.vgg_weights"
            )
        if content == "vgg19" and not (vgg_weights and Path(vgg_weights).expanduser().is_file()):
            raise GanError(
                f"srgan's content=vgg19 needs model.vgg_weights, a local file of torchvision's VGG19 weights "
                f"(vgg19-dcbb9e9d.pth); got {vgg_weights} (nothing is downloaded)"
            )
        self.scale, self.adversarial_weight = scale, adversarial_weight
        self.content, self.vgg_weights = content, vgg_weights
        self.generator = SRResNet(channels, g_channels, g_blocks, scale)
        self.discriminator = VGGDiscriminator(channels, size, d_channels, d_dense)
        self.content_loss = ContentLoss(content) if content in ("l1", "l2") else None

    def prepare(self, data: DataSource, root: str) -> None:
        """The feature network of the content loss, from the data (its classifier) or the VGG19 file."""
        device = next(self.parameters()).device
        if self.content == "classifier":
            from gan_cli.metrics.extractors import extractor

            net = extractor("classifier", data, root, None, device)
            conv_stages = net.network.body[:11]  # three conv stages, the last before its pooling
            self.content_loss = ContentLoss(self.content, conv_stages, net.prepare)
        elif self.content == "vgg19":
            mean = torch.tensor(IMAGENET_MEAN, device=device)[:, None, None]
            std = torch.tensor(IMAGENET_STD, device=device)[:, None, None]

            def to_imagenet(x: torch.Tensor) -> torch.Tensor:
                rgb = x.expand(-1, 3, -1, -1) if x.shape[1] == 1 else x
                return ((rgb + 1) / 2 - mean) / std

            vgg = vgg19_features(self.vgg_weights).to(device)
            self.content_loss = ContentLoss(self.content, lambda x: VGG_SCALE * vgg(x), to_imagenet)

    def draw_inputs(
        self,
        n: int,
        prior: Prior,
        generator: torch.Generator,
        labels: torch.Tensor | None = None,
        data: DataSource | None = None,
    ) -> Inputs:
        """n images of ``data`` as targets, their downsampled copies as inputs, and their classes."""
        if data is None:
            raise GanError(
                "srgan upscales images, so its inputs come from the data; "
                "to upscale your own images: gan upscale --ckpt CKPT --input DIR --out DIR"
            )
        at = seeded_positions(n, len(data), generator)
        high = data.take(at)
        classes = None if data.labels is None else data.labels[at.to(data.labels.device)]
        return Inputs({"low_res": downsample(high, self.scale)}, labels=classes, targets=high)

    def generate(self, inputs: Inputs, ema: bool = True) -> torch.Tensor:
        return self.current_generator(ema)(inputs["low_res"])

    def picture(self, inputs: Inputs, ema: bool = True) -> tuple[torch.Tensor, int | None]:
        """Rows: the low-resolution inputs (pixels enlarged), G's upscaling, the originals."""
        shown = inputs.slice(0, GRID_INPUTS)
        low = F.interpolate(shown["low_res"], scale_factor=self.scale, mode="nearest")
        return torch.cat([low, self.generate(shown, ema), shown.targets]), len(shown)
