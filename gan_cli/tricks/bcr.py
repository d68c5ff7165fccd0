"""Balanced consistency regularization: D gives an image and its augmented copy one score.

Zhao, Zhang, Chen, Singh & Zhang 2021, "Improved Consistency Regularization for GANs",
arXiv:2002.04724, section 3.1 (extending CR-GAN, Zhang et al. 2020, arXiv:1910.12027, which
penalised only the reals): D's loss gets λ_real ||D(x) − D(T(x))||² + λ_fake ||D(G(z)) −
D(T(G(z)))||², T a random augmentation, on the reals and on the fakes alike, so D does not learn
that augmented images are real. Paper (CIFAR-10): T = flip + translation by up to 1/8 of the
side (4 pixels at 32×32), λ_real = λ_fake = 10. The translation is ``diffaugment``'s (zero
padding); its other transforms may be named as well.

T is applied on top of what D saw in its phase (after any augmentation or noise of D's input);
squared norms are per sample, averaged over the batch (a D's patch scores: averaged).
Cost: one more D pass on each of the real and fake batches per D update.
"""

from __future__ import annotations

import torch

from gan_cli.errors import GanError
from gan_cli.registry import TRICKS
from gan_cli.schema import NonNegativeFloat
from gan_cli.tricks.base import Phase, Trick
from gan_cli.tricks.diffaugment import AUGMENTATIONS


def flip(x: torch.Tensor) -> torch.Tensor:
    """Left-right mirror of each sample with probability 1/2."""
    flipped = torch.rand(len(x), *[1] * (x.dim() - 1), device=x.device) < 0.5
    return torch.where(flipped, x.flip(-1), x)


TRANSFORMS = {"flip": (flip,), **AUGMENTATIONS}


def squared_distance(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """||a − b||² per sample, averaged over the batch."""
    return (a - b).pow(2).flatten(1).sum(1).mean() if a.dim() > 1 else (a - b).pow(2).mean()


def image_data(name: str, shape: tuple[int, ...] | None) -> None:
    if shape is not None and len(shape) != 3:
        raise GanError(f"{name} augments images (C×H×W); got samples of shape {shape}")


@TRICKS.register("bcr")
class BalancedConsistency(Trick):
    def __init__(
        self,
        weight_real: NonNegativeFloat = 10.0,  # λ_real (paper: 10)
        weight_fake: NonNegativeFloat = 10.0,  # λ_fake (paper: 10)
        augment: str = "flip,translation",  # T: comma-separated, applied in order (flip, color, translation, cutout)
    ):
        names = [name.strip() for name in augment.split(",")]
        unknown = [name for name in names if name not in TRANSFORMS]
        if unknown:
            raise GanError(
                f"unknown bcr augmentation '{unknown[0]}'; valid: {', '.join(TRANSFORMS)} "
                f"(comma-separated, e.g. 'flip,translation')"
            )
        # Read at use time: schedules may set the weights by name between steps.
        self.weight_real = weight_real
        self.weight_fake = weight_fake
        self.augmentations = [f for name in names for f in TRANSFORMS[name]]
        self.shape: tuple[int, ...] | None = None  # D's input, seen when the run is built

    def data_shape(self, shape: tuple[int, ...]) -> tuple[int, ...]:
        self.shape = shape
        return shape

    def check(self, model, loss) -> None:
        image_data("bcr", self.shape)

    def augment(self, x: torch.Tensor) -> torch.Tensor:
        for transform in self.augmentations:
            x = transform(x)
        return x

    def d_penalty(self, phase: Phase) -> torch.Tensor | float:
        penalty = 0.0
        for weight, x, out in (
            (self.weight_real, phase.real_in, phase.real_out),
            (self.weight_fake, phase.fake_in, phase.fake_out),
        ):
            if weight:
                penalty = penalty + weight * squared_distance(out, phase.D(self.augment(x)))
        return penalty
