"""The interface every GAN objective implements."""

from __future__ import annotations

import torch

from gan_cli.tricks.base import Phase


class Loss:
    """A pair of functions on raw discriminator outputs: one for D, one for G.

    ``real_target``/``fake_target`` are tensors shaped like D's output (1 and 0 unless a trick
    such as label smoothing changes them); losses without targets ignore them and set
    ``uses_targets = False`` so such tricks can refuse to combine with them.

    ``g_loss`` gets D(real) only from a loss that sets ``g_uses_real`` (a relativistic loss
    compares the fakes' scores with the reals'): then it is scored by the same D as the fakes,
    after D's update (a look-ahead D under unrolled, with its graph); other losses get None,
    and the step saves that forward pass.
    """

    uses_targets = True
    g_uses_real = False

    def d_loss(
        self,
        real_out: torch.Tensor,
        fake_out: torch.Tensor,
        real_target: torch.Tensor,
        fake_target: torch.Tensor,
    ) -> torch.Tensor:
        raise NotImplementedError

    def g_loss(self, fake_out: torch.Tensor, real_out: torch.Tensor | None) -> torch.Tensor:
        raise NotImplementedError

    def d_output(self, out: torch.Tensor) -> torch.Tensor:
        """What to log as D(x): a probability for classifier losses, the raw score otherwise."""
        return out

    def implied_tricks(self) -> list:
        """Tricks that are part of the objective itself (weight clipping, gradient penalty)."""
        return []

    def check(self, model: torch.nn.Module) -> None:
        """Raise ``GanError`` when this loss cannot train this model (decided at compose time)."""

    def update(self, d_phase: Phase) -> None:
        """Called once per D update with D's phase, after D's loss is computed: a loss with
        state of its own (BEGAN's equilibrium k_t) moves it here. Look-ahead copies of D's
        update (unrolled) call ``d_loss`` only, so they leave that state alone."""

    def scalars(self) -> dict[str, torch.Tensor]:
        """Values of the loss's own to log with each step's scalars (kept on the device)."""
        return {}

    def state_dict(self) -> dict:
        """What a checkpoint must carry for the loss to resume exactly (empty when stateless)."""
        return {}

    def load_state_dict(self, state: dict) -> None:
        pass
