"""Orthogonal regularisation of the generator.

Brock, Donahue & Simonyan 2018, "Large Scale GAN Training for High Fidelity Natural Image
Synthesis" (BigGAN), arXiv:1809.11096, section 3.1: add beta * ||W W^T * (1 - I)||_F^2 for
every G weight W (as outputs × rest, like BigGAN's code), pushing filters towards mutual
orthogonality without constraining their norms; this keeps G amenable to the truncation trick.
"""

from __future__ import annotations

import torch

from gan_cli.registry import TRICKS
from gan_cli.schema import NonNegativeFloat
from gan_cli.tricks.base import Phase, Trick
from gan_cli.tricks.layers import weight_layers, weight_matrix


@TRICKS.register("orthogonal_regularization")
class OrthogonalRegularization(Trick):
    def __init__(self, beta: NonNegativeFloat = 1e-4):  # penalty weight (BigGAN's G_ortho)
        self.beta = beta

    def g_penalty(self, phase: Phase) -> torch.Tensor:
        total = 0.0
        for layer in weight_layers(phase.model.generator):
            w = weight_matrix(layer)
            off_diagonal = 1 - torch.eye(len(w), device=w.device)
            total = total + ((w @ w.T) * off_diagonal).pow(2).sum()
        return self.beta * total
