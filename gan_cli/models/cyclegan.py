"""CycleGAN: unpaired image-to-image translation by cycle consistency.

Zhu, Park, Isola & Efros 2017, "Unpaired Image-to-Image Translation using Cycle-Consistent
Adversarial Networks", arXiv:1703.10593. Two generators G: A -> B and F: B -> A, each against a
PatchGAN discriminator of its target domain. With no pairs to say what x should become, the
translations are constrained to be invertible: F(G(a)) ≈ a and G(F(b)) ≈ b in L1 (weight
λ = 10), and G(b) ≈ b, F(a) ≈ a (weight 0.5 λ, "identity", which keeps colours). The paper's
recipe: ResNet generators (U-Net as the option), 70×70 PatchGANs, instance norm, least-squares
loss (``loss=lsgan``), D trained on a pool of 50 past fakes, Adam at 2e-4 with linear decay to 0
over the second half (``train.lr_decay=linear``) — the ``cyclegan256`` experiment preset.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal

import torch
import torch.nn.functional as F
from torch import nn

from gan_cli.datasets.base import Batch
from gan_cli.models.image_to_image import (
    NORMS,
    ImagePool,
    Norm,
    PatchGAN,
    ResnetGenerator,
    Translator,
    TranslatorNetworks,
    TwoDomainStep,
    UNet,
    check_image_shape,
    init_normal,
)
from gan_cli.models.inputs import Inputs
from gan_cli.registry import MODELS
from gan_cli.schema import NonNegativeFloat, NonNegativeInt, PositiveInt


def cycle_loss(real: torch.Tensor, reconstructed: torch.Tensor) -> torch.Tensor:
    """L1 between an image and its round trip through both generators."""
    return F.l1_loss(reconstructed, real)


class CycleStep(TwoDomainStep):
    """One generator forward per direction: D_A and D_B are updated on those fakes (through the
    image pools), then both generators on the adversarial, cycle and identity terms."""

    def __call__(self, step: int, next_batch: Callable[[], Batch]) -> dict[str, torch.Tensor]:
        model, G, D = self.model, self.model.generator, self.model.discriminator
        self.tricks.on_step(step)
        real_a, real_b = self.draw(next_batch)
        fake_b, fake_a = G.g_ab(real_a), G.g_ba(real_b)

        d_loss_a, phase_a = self.d_phase(step, D.d_a, real_a, D.pool_a(fake_a))
        d_loss_b, phase_b = self.d_phase(step, D.d_b, real_b, D.pool_b(fake_b))
        d_loss = d_loss_a + d_loss_b
        d_grad_norm = self.update_d(d_loss)

        adversarial = self.g_phase(phase_b, fake_b)[0] + self.g_phase(phase_a, fake_a)[0]
        cycle = cycle_loss(real_a, G.g_ba(fake_b)) + cycle_loss(real_b, G.g_ab(fake_a))
        g_loss = adversarial + model.cycle_weight * cycle
        identity = torch.zeros((), device=real_a.device)
        if model.identity_weight:
            identity = F.l1_loss(G.g_ab(real_b), real_b) + F.l1_loss(G.g_ba(real_a), real_a)
            g_loss = g_loss + model.identity_weight * model.cycle_weight * identity
        g_grad_norm = self.update_g(g_loss)
        return self.scalars(
            d_loss,
            g_loss,
            [phase_a, phase_b],
            d_grad_norm,
            g_grad_norm,
            cycle=cycle / 2,
            identity=identity / 2,
        )


class _Generators(TranslatorNetworks):
    def __init__(self, g_ab: nn.Module, g_ba: nn.Module):
        super().__init__()
        self.g_ab, self.g_ba = g_ab, g_ba


class _Discriminators(nn.Module):
    def __init__(self, d_a: nn.Module, d_b: nn.Module, pool_size: int):
        super().__init__()
        self.d_a, self.d_b = d_a, d_b
        self.pool_a, self.pool_b = ImagePool(pool_size), ImagePool(pool_size)


@MODELS.register("cyclegan")
class CycleGAN(Translator):
    directions = ("AtoB", "BtoA")
    step_class = CycleStep

    def __init__(
        self,
        data_shape: tuple[int, ...],  # injected from the dataset: (channels, size, size)
        generator: Literal["resnet", "unet"] = "resnet",  # "resnet" (the paper) or "unet"
        g_channels: PositiveInt = 64,  # G feature maps after the stem (doubled per downsampling)
        g_blocks: NonNegativeInt = 9,  # residual blocks (the paper: 9 at 256×256, 6 at 128×128)
        g_downsamplings: NonNegativeInt = 2,  # stride-2 stages of the ResNet G; U-Net: halvings (log2 size for 1×1)
        d_channels: PositiveInt = 64,  # PatchGAN feature maps at its first layer
        d_layers: NonNegativeInt = 3,  # strided PatchGAN layers: 3 gives 70×70 patches
        norm: Norm = "instance",  # "instance" (the paper) or "batch"
        cycle_weight: NonNegativeFloat = 10.0,  # λ of the cycle-consistency L1
        identity_weight: NonNegativeFloat = 0.5,  # identity L1 weight, as a multiple of λ (0 turns it off)
        pool_size: NonNegativeInt = 50,  # past fakes each D is trained on (0: only the current ones)
    ):
        super().__init__()
        channels, _ = check_image_shape(data_shape, "cyclegan", 2**g_downsamplings)
        layer = NORMS[norm]

        def make_generator() -> nn.Module:
            if generator == "resnet":
                return ResnetGenerator(channels, g_channels, g_blocks, g_downsamplings, layer)
            return UNet(channels, g_channels, g_downsamplings, layer, dropout=0.0)

        self.cycle_weight, self.identity_weight = cycle_weight, identity_weight
        self.generator = _Generators(make_generator(), make_generator())
        self.discriminator = _Discriminators(
            PatchGAN(channels, d_channels, d_layers, layer),
            PatchGAN(channels, d_channels, d_layers, layer),
            pool_size,
        )
        self.apply(init_normal)

    def translate(self, x: torch.Tensor, direction: str, ema: bool = True) -> torch.Tensor:
        translators = self.current_generator(ema)
        return (translators.g_ab if direction == "AtoB" else translators.g_ba)(x)

    def grid_rows(self, inputs: Inputs, ema: bool) -> list[torch.Tensor]:
        """a, G(a), F(G(a)), then b, F(b), G(F(b)): both translations and both round trips."""
        G = self.current_generator(ema)
        a, b = inputs["source"], inputs["other"]
        fake_b, fake_a = G.g_ab(a), G.g_ba(b)
        return [a, fake_b, G.g_ba(fake_b), b, fake_a, G.g_ab(fake_a)]
