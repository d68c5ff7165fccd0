"""One training step of a GAN: the D update(s), then the G update.

This is where losses and tricks meet the networks. Tricks act only through ``TrickSet``'s
hook points (see ``gan_cli/tricks/base.py`` for the order), so nothing here knows which
tricks are on. ``Step`` holds the hook calls of D's and G's phases once; each model family's
step (this standard one, the progressive and the two-domain steps) composes them.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

from gan_cli.datasets.base import Batch
from gan_cli.losses.base import Loss
from gan_cli.training import distributed
from gan_cli.tricks.base import Phase, TrickSet

Critic = Callable[[torch.Tensor], torch.Tensor]  # a D, or one domain's D


class Step:
    """The networks, loss, tricks and optimizers of a run, and the phases its steps are made of."""

    hooks_not_called: tuple[str, ...] = ()  # every trick hook acts (see gan_cli/tricks/base.py)

    def __init__(
        self,
        model: nn.Module,
        loss: Loss,
        tricks: TrickSet,
        g_optimizer: torch.optim.Optimizer,
        d_optimizer: torch.optim.Optimizer,
        latent: Callable[[int], torch.Tensor],
        scaler: torch.amp.GradScaler | None = None,
    ):
        self.model = model
        self.loss = loss
        self.tricks = tricks
        self.g_opt = g_optimizer
        self.d_opt = d_optimizer
        self.latent = latent  # n -> a batch of latent vectors from the (trick-shaped) prior
        self.scaler = scaler  # fp16 loss scaling (trainer.precision=fp16), else None

    def d_phase(
        self, step: int, D: Critic, real: torch.Tensor, fake: torch.Tensor
    ) -> tuple[torch.Tensor, Phase]:
        """D's loss on a real and a fake batch, penalties included, and the phase the tricks saw."""
        tricks = self.tricks
        # Detached: D's update must not reach G, whose fakes may carry its graph.
        real_in, fake_in = tricks.d_input(real), tricks.d_input(tricks.fake_for_d(fake.detach()))
        real_out, fake_out = tricks.d_forward(D, real_in, fake_in)
        phase = Phase("d", step, self.model, D, real_in, fake_in, {"real": real_out, "fake": fake_out})
        tricks.d_outputs(phase)
        real_target, fake_target = tricks.targets(phase)
        d_loss = self.loss.d_loss(real_out, fake_out, real_target, fake_target)
        self.loss.update(phase)
        return d_loss + tricks.d_penalty(phase), phase

    def g_phase(self, d_phase: Phase, fake: torch.Tensor) -> tuple[torch.Tensor, Phase]:
        """The loss's G term on ``fake`` (carrying G's graph), against the reals of ``d_phase``:
        the fakes and, when the loss reads it, D(real) are scored by the same D — the one the
        tricks choose (a look-ahead D under unrolled), after D's update."""
        phase = Phase("g", d_phase.step, self.model, d_phase.D, d_phase.real_in, self.tricks.d_input(fake))
        phase.D = self.tricks.g_discriminator(phase, self.loss)
        fake_out = phase.fake_out
        self.tricks.d_outputs(phase)
        return self.loss.g_loss(fake_out, phase.real_out if self.loss.g_uses_real else None), phase

    def update_d(self, d_loss: torch.Tensor) -> torch.Tensor:
        norm = update(d_loss, self.d_opt, self.scaler)
        self.tricks.after_d_step(self.model)
        return norm

    def update_g(self, g_loss: torch.Tensor) -> torch.Tensor:
        norm = update(g_loss, self.g_opt, self.scaler)
        self.tricks.after_g_step(self.model)
        return norm

    def scalars(
        self,
        d_loss: torch.Tensor,
        g_loss: torch.Tensor,
        d_phases: list[Phase],
        d_grad_norm: torch.Tensor,
        g_grad_norm: torch.Tensor,
        **extra: torch.Tensor,
    ) -> dict[str, torch.Tensor]:
        """The step's detached scalars (no host sync: the caller reads them rarely); D(x) and
        D(G(z)) as D's phases saw them, averaged over the phases (one per domain)."""

        def mean_output(outs: list[torch.Tensor]) -> torch.Tensor:
            return torch.stack([self.loss.d_output(o.detach()).mean() for o in outs]).mean()

        return {
            "d_loss": d_loss.detach(),
            "g_loss": g_loss.detach(),
            "d_real": mean_output([p.real_out for p in d_phases]),
            "d_fake": mean_output([p.fake_out for p in d_phases]),
            "d_grad_norm": d_grad_norm,
            "g_grad_norm": g_grad_norm,
            **{
                k: torch.as_tensor(v, dtype=torch.float32, device=d_loss.device).detach()
                for k, v in {**self.loss.scalars(), **self.tricks.scalars(), **extra}.items()
            },
        }


class AdversarialStep(Step):
    """``n_critic`` discriminator updates on fresh real batches, then one generator update."""

    def __call__(self, step: int, next_batch: Callable[[], Batch]) -> dict[str, torch.Tensor]:
        G, tricks = self.model.generator, self.tricks
        tricks.on_step(step)
        for _ in range(tricks.d_steps):
            batch = next_batch()
            self.model.condition(batch.labels)
            with torch.no_grad():
                fake = G(self.latent(len(batch.images)))
            d_loss, d_phase = self.d_phase(step, self.model.discriminator, batch.images, fake)
            d_grad_norm = self.update_d(d_loss)

        adversarial, g_phase = self.g_phase(d_phase, G(self.latent(len(batch.images))))
        g_loss = tricks.g_adversarial_weight * adversarial + tricks.g_penalty(g_phase)
        g_grad_norm = self.update_g(g_loss)
        return self.scalars(d_loss, g_loss, [d_phase], d_grad_norm, g_grad_norm)

    def d_scores(self, batch: Batch, z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """D's raw outputs on ``batch``'s reals and on G(z) under the batch's labels, fed to D as
        training feeds it (the tricks' inputs and forward); no update (gan_cli/training/monitor.py)."""
        self.model.condition(batch.labels)
        fake = self.model.generator(z)
        return self.tricks.d_forward(
            self.model.discriminator, self.tricks.d_input(batch.images), self.tricks.d_input(fake)
        )


def update(
    loss: torch.Tensor, optimizer: torch.optim.Optimizer, scaler: torch.amp.GradScaler | None = None
) -> torch.Tensor:
    """One optimizer step on ``loss`` — gradients averaged across ranks when distributed, loss
    scaled for fp16 — returning the gradient's global L2 norm (kept on the device: a collapsing
    D or an exploding G shows there first)."""
    optimizer.zero_grad(set_to_none=True)
    (loss if scaler is None else scaler.scale(loss)).backward()
    grads = [p.grad for group in optimizer.param_groups for p in group["params"] if p.grad is not None]
    distributed.average_gradients(grads)
    if scaler is not None:
        scaler.unscale_(optimizer)
    norm = torch.nn.utils.get_total_norm(grads) if grads else torch.zeros(())
    if scaler is None:
        optimizer.step()
    else:
        scaler.step(optimizer)  # skipped when the scaled gradients overflowed
        scaler.update()
    return norm.detach()
