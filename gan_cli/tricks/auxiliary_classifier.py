"""The auxiliary classifier's loss (AC-GAN).

Odena, Olah & Shlens 2017, "Conditional Image Synthesis with Auxiliary Classifier GANs",
arXiv:1610.09585: besides real/fake, D predicts the class of its input. D minimizes the
cross-entropy of that prediction on real and fake samples alike (the paper's L_C), and G
minimizes it on its fakes, so G is pushed to make samples that are recognisably their label.
Both terms have weight 1, as in the paper.

Not a trick a user picks: a model built with ``conditioning: auxiliary`` implies it
(``GAN.implied_tricks``), and it uses that model's classifier (``LabelledDiscriminator``).
"""

from __future__ import annotations

import torch

from gan_cli.errors import GanError
from gan_cli.tricks.base import Phase, Trick


class AuxiliaryClassifier(Trick):
    def check(self, model, loss) -> None:
        if getattr(model.discriminator, "classifier", None) is None:
            raise GanError("the auxiliary classifier loss needs a model built with conditioning=auxiliary")

    def d_penalty(self, phase: Phase) -> torch.Tensor:
        return phase.D.class_loss(phase.real_in) + phase.D.class_loss(phase.fake_in)

    def g_penalty(self, phase: Phase) -> torch.Tensor:
        return phase.model.discriminator.class_loss(phase.fake_in)
