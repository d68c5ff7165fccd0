"""The hook points through which tricks change training, and the set that chains them.

A trick overrides only the hooks it needs; every default leaves training unchanged. The
training step calls the ``TrickSet``, never an individual trick, so adding a trick is one new
file with one class and one YAML entry — no edit to the loop.

Order of a training step, with the hooks it calls (``phase``: a ``Phase``, below)::

    on_step(step)
    repeat d_steps times:                                   # n_critic
        real = next batch;  fake = G(latent(z))             # latent: the prior
        real_in = d_input(real);  fake_in = d_input(fake_for_d(fake))
        real_out, fake_out = d_forward(D, real_in, fake_in) # separate or mixed batches
        phase = D's phase: real_in, fake_in, real_out, fake_out
        d_outputs(phase)                                    # read D's answers
        targets(phase, 1, 0)                                # label smoothing, noisy labels
        D loss + d_penalty(phase);  step;  after_d_step(model)
    phase = G's phase: real_in (D's last), fake_in = d_input(G(latent(z)))
    phase.D = g_discriminator(phase, loss);  fake_out = phase.D(fake_in)   # unrolled: a look-ahead D
    d_outputs(phase)
    g_adversarial_weight * G loss(fake_out, real_out if the loss reads it) + g_penalty(phase)
    step;  after_g_step(model)

In G's phase ``real_out`` is D(real) from the same D that scores the fakes, after D's update
(the look-ahead D under unrolled), computed only when a loss (``Loss.g_uses_real``) or a trick
reads it. The steps of every model family call these hooks through the same code
(``gan_cli/training/steps.py``: ``Step``).

Once, when the run is built: ``data_shape`` (what D is built for, before the model exists),
``check`` (refuse impossible combinations), ``wrap`` (change the networks), ``configure``
(optimizer settings). A model family whose step calls fewer hooks names the others in its step
class's ``hooks_not_called``; ``TrickSet.check`` refuses a trick that acts through one of them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

import torch
from torch import nn

from gan_cli.errors import GanError


@dataclass
class Phase:
    """One phase of a training step as the tricks see it: what D saw, and D's answers on it.

    An output is computed by ``D`` when first read and then kept: the step hands over the
    outputs it already has, so a hook that reads them costs no extra forward pass, and in G's
    phase D(real) costs one only when something reads it.
    """

    name: Literal["d", "g"]  # whose update this phase serves
    step: int  # the training step
    model: nn.Module
    D: Callable[[torch.Tensor], torch.Tensor]  # the D that scores this phase (G's: as g_discriminator chose)
    real_in: torch.Tensor  # the real batch as D sees it
    fake_in: torch.Tensor  # the fakes as D sees them (in G's phase, carrying G's graph)
    outputs: dict[str, torch.Tensor] = field(default_factory=dict)  # D's outputs so far: "real", "fake"

    @property
    def real_out(self) -> torch.Tensor:
        return self._output("real", self.real_in)

    @property
    def fake_out(self) -> torch.Tensor:
        return self._output("fake", self.fake_in)

    def _output(self, which: str, x: torch.Tensor) -> torch.Tensor:
        if which not in self.outputs:
            self.outputs[which] = self.D(x)
        return self.outputs[which]


class Trick:
    """Base class: all hooks are no-ops."""

    d_steps = 1  # discriminator updates per generator update
    g_adversarial_weight = 1.0  # weight of the loss's G term (feature matching may replace it)
    order = 0  # position at the hook points, low first (e.g. packing after augmentation)
    owns_d_forward = False  # set when the trick overrides d_forward (only one may)
    needs_targets = False  # acts through targets(), so the loss must use targets (checked at compose time)
    scores_own_samples = False  # feeds D samples of its own making, so D must take them as they are

    def acts_through(self, hook: str) -> bool:
        """Whether this trick changes training through ``hook``: a hook method it overrides, or
        a setting (``d_steps``, ``g_adversarial_weight``) it moves from the default."""
        default = getattr(Trick, hook)
        if callable(default):
            return getattr(type(self), hook) is not default
        return getattr(self, hook) != default

    def data_shape(self, shape: tuple[int, ...]) -> tuple[int, ...]:
        """The per-sample shape D is built for (PacGAN packs m samples into one)."""
        return shape

    def check(self, model: nn.Module, loss: Any) -> None:
        """Raise ``GanError`` when this trick cannot work with this model or loss."""

    def wrap(self, model: nn.Module) -> None:
        """Change the networks in place before the optimizers see them (e.g. spectral norm)."""

    def configure(self, g_optimizer: torch.optim.Optimizer, d_optimizer: torch.optim.Optimizer) -> None:
        """Adjust the optimizers once they exist (e.g. TTUR learning rates)."""

    def latent(self, z: torch.Tensor) -> torch.Tensor:
        """Reshape Gaussian draws into the latent prior G is trained and sampled with."""
        return z

    def on_step(self, step: int) -> None:
        """Called at the start of every training step (for schedules)."""

    def fake_for_d(self, fake: torch.Tensor) -> torch.Tensor:
        """The fakes D is updated on (e.g. mixed with replayed old fakes)."""
        return fake

    def d_input(self, x: torch.Tensor) -> torch.Tensor:
        """What D sees, applied alike to real and fake batches, in D's and G's updates."""
        return x

    def d_forward(
        self, D: nn.Module, real: torch.Tensor, fake: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """D's outputs on the real and the fake batch (default: two separate batches)."""
        return D(real), D(fake)

    def d_outputs(self, phase: Phase) -> None:
        """Called once D has scored the phase's batches (D's phase: both; G's phase: the fakes,
        and the reals when read) — to read D's answers (e.g. the sign of D(real) for adaptive
        augmentation, running means of D's outputs) without another forward pass."""

    def targets(
        self, phase: Phase, real_target: torch.Tensor, fake_target: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """The real/fake targets of losses that use them."""
        return real_target, fake_target

    def d_penalty(self, phase: Phase) -> torch.Tensor | float:
        """An extra term added to D's loss."""
        return 0.0

    def after_d_step(self, model: nn.Module) -> None:
        """Called after each optimizer step of D."""

    def g_discriminator(self, phase: Phase, loss: Any) -> nn.Module | None:
        """The D that scores G's fakes in G's update (asked before any output of the phase is
        read); None keeps ``phase.D``. Unrolled GANs return D after k look-ahead updates of
        ``loss`` on the phase's real and fake batches."""
        return None

    def g_penalty(self, phase: Phase) -> torch.Tensor | float:
        """An extra term added to G's loss (``phase.fake_in`` carries G's graph)."""
        return 0.0

    def after_g_step(self, model: nn.Module) -> None:
        """Called after each optimizer step of G."""

    def scalars(self) -> dict[str, torch.Tensor | float]:
        """Values of the trick's own to log with each step's scalars (ADA's p), named by the
        trick; tensors stay on the device (read only at a record)."""
        return {}

    def state_dict(self) -> dict:
        return {}

    def load_state_dict(self, state: dict) -> None:
        pass


class TrickSet:
    """The tricks of one run, applied in ``order`` at each hook point."""

    def __init__(self, tricks: list[Trick]):
        self.tricks = sorted(tricks, key=lambda t: t.order)
        self.d_steps = max([t.d_steps for t in tricks], default=1)
        self.g_adversarial_weight = min([t.g_adversarial_weight for t in tricks], default=1.0)
        owners = [t for t in tricks if t.owns_d_forward]
        if len(owners) > 1:
            names = ", ".join(type(t).__name__ for t in owners)
            raise GanError(f"only one trick may decide how D sees its batches; got {names}")
        self._d_forward_owner = owners[0] if owners else Trick()

    def data_shape(self, shape: tuple[int, ...]) -> tuple[int, ...]:
        for t in self.tricks:
            shape = t.data_shape(shape)
        return shape

    def check_loss(self, loss: Any) -> None:
        """What can be refused from the config alone, before any data or model exists."""
        for t in self.tricks:
            if t.needs_targets and not loss.uses_targets:
                raise GanError(
                    f"{t.registered_name} needs a loss with targets (minimax, ns, lsgan); "
                    f"loss '{loss.registered_name}' has none"
                )

    def check(self, model: nn.Module, loss: Any) -> None:
        """Refuse a trick the loss cannot serve, one acting through a hook the model's step does
        not call (it would silently do nothing), or one its own ``check`` refuses."""
        self.check_loss(loss)
        reshaping = [t.registered_name for t in self.tricks if t.acts_through("data_shape")]
        for t in self.tricks:
            if t.scores_own_samples and reshaping:
                raise GanError(
                    f"{t.registered_name} scores samples of its own with D, but {reshaping[0]} changes "
                    "the shape of what D sees: they cannot be combined"
                )
        choosers = [t.registered_name for t in self.tricks if t.acts_through("g_discriminator")]
        if len(choosers) > 1:
            raise GanError(
                f"{choosers[0]} and {choosers[1]} each choose the D of G's update: they cannot be combined"
            )
        not_called = model.step_class.hooks_not_called
        for t in self.tricks:
            hooks = [h for h in not_called if t.acts_through(h)]
            if hooks:
                raise GanError(
                    f"trick {t.registered_name} cannot act on {model.registered_name}: it works through "
                    f"{', '.join(hooks)}, which {model.registered_name}'s training step does not use"
                )
            t.check(model, loss)

    def wrap(self, model: nn.Module) -> None:
        for t in self.tricks:
            t.wrap(model)

    def configure(self, g_optimizer: torch.optim.Optimizer, d_optimizer: torch.optim.Optimizer) -> None:
        for t in self.tricks:
            t.configure(g_optimizer, d_optimizer)

    def latent(self, z: torch.Tensor) -> torch.Tensor:
        for t in self.tricks:
            z = t.latent(z)
        return z

    def on_step(self, step: int) -> None:
        for t in self.tricks:
            t.on_step(step)

    def fake_for_d(self, fake: torch.Tensor) -> torch.Tensor:
        for t in self.tricks:
            fake = t.fake_for_d(fake)
        return fake

    def d_input(self, x: torch.Tensor) -> torch.Tensor:
        for t in self.tricks:
            x = t.d_input(x)
        return x

    def d_forward(
        self, D: nn.Module, real: torch.Tensor, fake: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        return self._d_forward_owner.d_forward(D, real, fake)

    def d_outputs(self, phase: Phase) -> None:
        for t in self.tricks:
            t.d_outputs(phase)

    def targets(self, phase: Phase) -> tuple[torch.Tensor, torch.Tensor]:
        real_target, fake_target = torch.ones_like(phase.real_out), torch.zeros_like(phase.fake_out)
        for t in self.tricks:
            real_target, fake_target = t.targets(phase, real_target, fake_target)
        return real_target, fake_target

    def d_penalty(self, phase: Phase) -> torch.Tensor | float:
        return sum((t.d_penalty(phase) for t in self.tricks), 0.0)

    def g_discriminator(self, phase: Phase, loss: Any) -> Callable[[torch.Tensor], torch.Tensor]:
        for t in self.tricks:
            D = t.g_discriminator(phase, loss)
            if D is not None:
                return D
        return phase.D

    def g_penalty(self, phase: Phase) -> torch.Tensor | float:
        return sum((t.g_penalty(phase) for t in self.tricks), 0.0)

    def after_d_step(self, model: nn.Module) -> None:
        for t in self.tricks:
            t.after_d_step(model)

    def after_g_step(self, model: nn.Module) -> None:
        for t in self.tricks:
            t.after_g_step(model)

    def scalars(self) -> dict[str, torch.Tensor | float]:
        return {k: v for t in self.tricks for k, v in t.scalars().items()}

    def state_dict(self) -> list[dict]:
        return [t.state_dict() for t in self.tricks]

    def load_state_dict(self, states: list[dict]) -> None:
        for t, state in zip(self.tricks, states):
            t.load_state_dict(state)
