"""pix2pix: paired image-to-image translation with a conditional GAN.

Isola, Zhu, Zhou & Efros 2017, "Image-to-Image Translation with Conditional Adversarial
Networks", arXiv:1611.07004. G is a U-Net from A to B; D is a PatchGAN that sees the input
beside the output (real pair (a, b) or fake pair (a, G(a))), so it judges whether the output fits
its input. G's loss is the adversarial term plus λ·L1(G(a), b) with λ = 100: L1 gets the low
frequencies right, the patch D the high ones. No latent: dropout in the decoder, kept on at test
time, is the noise. The paper trains with the minimax loss (``loss=ns``), Adam 2e-4, β1 = 0.5,
batch size 1 (so its batch norm is instance norm, the default here), random 286 -> 256 jitter
and mirroring (``dataset.crop=random dataset.flip=true``).
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn

from gan_cli.datasets.base import Batch
from gan_cli.models.image_to_image import (
    NORMS,
    Norm,
    PatchGAN,
    Translator,
    TranslatorNetworks,
    TwoDomainStep,
    UNet,
    check_image_shape,
    init_normal,
)
from gan_cli.models.inputs import Inputs
from gan_cli.registry import MODELS
from gan_cli.schema import Fraction, NonNegativeFloat, NonNegativeInt, PositiveInt


class ConditionalStep(TwoDomainStep):
    """D on (input, output) pairs, then G on the adversarial term plus λ·L1 to the target."""

    def __call__(self, step: int, next_batch: Callable[[], Batch]) -> dict[str, torch.Tensor]:
        model, G, D = self.model, self.model.generator, self.model.discriminator
        self.tricks.on_step(step)
        real_a, real_b = self.draw(next_batch)
        fake_b = G.g(real_a)
        real_pair, fake_pair = torch.cat([real_a, real_b], 1), torch.cat([real_a, fake_b], 1)

        d_loss, d_phase = self.d_phase(step, D, real_pair, fake_pair)
        d_grad_norm = self.update_d(d_loss)

        l1 = F.l1_loss(fake_b, real_b)
        g_loss = self.g_phase(d_phase, fake_pair)[0] + model.l1_weight * l1
        g_grad_norm = self.update_g(g_loss)
        return self.scalars(d_loss, g_loss, [d_phase], d_grad_norm, g_grad_norm, l1=l1)


class _Generator(TranslatorNetworks):
    def __init__(self, g: nn.Module):
        super().__init__()
        self.g = g


@MODELS.register("pix2pix")
class Pix2Pix(Translator):
    step_class = ConditionalStep

    def __init__(
        self,
        data_shape: tuple[int, ...],  # injected from the dataset: (channels, size, size)
        g_channels: PositiveInt = 64,  # U-Net feature maps at its first layer (doubled per level up to 8×)
        g_depth: PositiveInt = 8,  # U-Net halvings: log2 of the image side reaches 1×1 (8 at 256×256)
        dropout: Fraction = 0.5,  # in the three innermost decoder layers, in training and at test time
        d_channels: PositiveInt = 64,  # PatchGAN feature maps at its first layer
        d_layers: NonNegativeInt = 3,  # strided PatchGAN layers: 3 gives 70×70 patches
        norm: Norm = "instance",  # "instance" (batch norm at the paper's batch size 1) or "batch"
        l1_weight: NonNegativeFloat = 100.0,  # λ of the L1 term
    ):
        super().__init__()
        channels, _ = check_image_shape(data_shape, "pix2pix", 2**g_depth)
        layer = NORMS[norm]
        self.l1_weight = l1_weight
        self.generator = _Generator(UNet(channels, g_channels, g_depth, layer, dropout))
        self.discriminator = PatchGAN(2 * channels, d_channels, d_layers, layer)
        self.apply(init_normal)

    def translate(self, x: torch.Tensor, direction: str, ema: bool = True) -> torch.Tensor:
        return self.current_generator(ema).g(x)

    def grid_rows(self, inputs: Inputs, ema: bool) -> list[torch.Tensor]:
        """a, G(a) and b: source, translation, target."""
        return [inputs["source"], self.generate(inputs, ema), inputs["other"]]
