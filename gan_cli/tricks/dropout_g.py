"""Dropout in the generator as a source of noise.

Isola et al. 2017, "Image-to-Image Translation with Conditional Adversarial Networks" (pix2pix),
arXiv:1611.07004, and Chintala et al.'s ganhacks trick 17: dropout after G's activations adds
noise that G cannot learn to ignore, which helps against collapse. Samples are drawn in eval
mode, so unlike pix2pix (and ganhacks) dropout is off when sampling: G stays deterministic in z.
"""

from __future__ import annotations

from torch import nn

from gan_cli.registry import TRICKS
from gan_cli.schema import Fraction
from gan_cli.tricks.base import Trick


@TRICKS.register("dropout_g")
class DropoutG(Trick):
    def __init__(self, p: Fraction = 0.5):  # probability of zeroing an activation (pix2pix: 0.5)
        self.p = p

    def wrap(self, model: nn.Module) -> None:
        # Collected first, so the new Sequentials are not walked into and wrapped twice.
        activations = [
            (parent, name, child)
            for parent in model.generator.modules()
            for name, child in parent.named_children()
            if isinstance(child, (nn.ReLU, nn.LeakyReLU))
        ]
        for parent, name, child in activations:
            setattr(parent, name, nn.Sequential(child, nn.Dropout(self.p)))
