"""Latent consistency regularization: a small move of z changes D's score little, G's image much.

Zhao, Zhang, Chen, Singh & Zhang 2021, "Improved Consistency Regularization for GANs",
arXiv:2002.04724, section 3.2: with Δz ~ N(0, σ²) (σ = 0.03), D's loss gets
λ_dis ||D(G(z)) − D(G(z + Δz))||² and G's loss −λ_gen ||G(z) − G(z + Δz)||², so G cannot ignore
small moves of z (a step towards mode collapse). Paper (CIFAR-10): λ_dis = 5, λ_gen = 0.5.
Squared norms are per sample, averaged over the batch.

The latents come through the ``latent`` hook: the step draws each phase's latents just before
the phase, so the last draw is the one that made its fakes. G(z) and G(z + Δz) are recomputed
from them and scored raw — two draws of a random augmentation of D's input would differ far more
than the perturbation does — so a trick that reshapes D's input (pacgan) is refused with it
when the config is checked. Cost: two G passes in each of D's and G's phases, two D passes in D's; G's own
randomness (style mixing, dropout) is drawn anew for each pass.
"""

from __future__ import annotations

import torch

from gan_cli.errors import GanError
from gan_cli.registry import TRICKS
from gan_cli.schema import NonNegativeFloat
from gan_cli.tricks.base import Phase, Trick
from gan_cli.tricks.bcr import squared_distance


@TRICKS.register("zcr")
class LatentConsistency(Trick):
    # Sees the latents last, after the tricks that shape the prior, as G gets them.
    order = 90
    scores_own_samples = True

    def __init__(
        self,
        weight_dis: NonNegativeFloat = 5.0,  # λ_dis, on D's scores (paper: 5)
        weight_gen: NonNegativeFloat = 0.5,  # λ_gen, on G's images (paper: 0.5)
        sigma: NonNegativeFloat = 0.03,  # σ of the perturbation Δz (paper: 0.03)
    ):
        # Read at use time: schedules may set these by name between steps.
        self.weight_dis = weight_dis
        self.weight_gen = weight_gen
        self.sigma = sigma
        self.z: torch.Tensor | None = None  # the latents of the phase's fakes: the step's last draw

    def latent(self, z: torch.Tensor) -> torch.Tensor:
        # The step draws each phase's latents just before the phase, so the last draw is the
        # one that made the phase's fakes (a step that drew more in between would break this).
        self.z = z
        return z

    def _pair(self, G) -> tuple[torch.Tensor, torch.Tensor]:
        """G(z) and G(z + Δz) for the latents of the current phase."""
        if self.z is None:
            raise GanError("zcr reads the latents the step draws, and none were drawn yet")
        z = self.z
        fake, moved = G(z), G(z + self.sigma * torch.randn_like(z))
        if not isinstance(fake, torch.Tensor):
            raise GanError("zcr needs a generator that makes one batch of samples per latent batch")
        return fake, moved

    def d_penalty(self, phase: Phase) -> torch.Tensor | float:
        if not self.weight_dis:
            return 0.0
        with torch.no_grad():  # D's penalty: G stays as it is
            fake, moved = self._pair(phase.model.generator)
        return self.weight_dis * squared_distance(phase.D(fake), phase.D(moved))

    def g_penalty(self, phase: Phase) -> torch.Tensor | float:
        if not self.weight_gen:
            return 0.0
        fake, moved = self._pair(phase.model.generator)
        return -self.weight_gen * squared_distance(fake, moved)
