"""One training step of a GAN: the D update(s), then the G update.

This is where losses and tricks meet the networks. Tricks act only through ``TrickSet``'s
hook points (see ``gan_cli/tricks/base.py`` for the order), so nothing here knows which
tricks are on.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

from gan_cli import distributed
from gan_cli.datasets.base import Batch
from gan_cli.losses.base import Loss
from gan_cli.tricks.base import TrickSet


class AdversarialStep:
    """``n_critic`` discriminator updates on fresh real batches, then one generator update."""

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

    def __call__(self, step: int, next_batch: Callable[[], Batch]) -> dict[str, torch.Tensor]:
        """Run one step; returns detached scalars (no host sync: the caller reads them rarely)."""
        G, D, tricks, loss = self.model.generator, self.model.discriminator, self.tricks, self.loss
        tricks.on_step(step)
        for _ in range(tricks.d_steps):
            batch = next_batch()
            real, labels = batch.images, batch.labels
            self.model.condition(labels)
            with torch.no_grad():
                fake = G(self.latent(len(real)))
            real_in, fake_in = tricks.d_input(real), tricks.d_input(tricks.fake_for_d(fake))
            real_out, fake_out = tricks.d_forward(D, real_in, fake_in)
            real_target, fake_target = tricks.targets(real_out, fake_out)
            d_loss = loss.d_loss(real_out, fake_out, real_target, fake_target)
            d_loss = d_loss + tricks.d_penalty(D, real_in, fake_in)
            d_grad_norm = update(d_loss, self.d_opt, self.scaler)
            tricks.after_d_step(self.model)

        fake_in_g = tricks.d_input(G(self.latent(len(real))))
        fake_out_g = tricks.g_discriminator(self.model, real_in, fake_in_g, loss)(fake_in_g)
        g_loss = tricks.g_adversarial_weight * loss.g_loss(fake_out_g, real_out.detach())
        g_loss = g_loss + tricks.g_penalty(self.model, real_in, fake_in_g)
        g_grad_norm = update(g_loss, self.g_opt, self.scaler)
        tricks.after_g_step(self.model)
        return {
            "d_loss": d_loss.detach(),
            "g_loss": g_loss.detach(),
            "d_real": loss.d_output(real_out.detach()).mean(),
            "d_fake": loss.d_output(fake_out.detach()).mean(),
            "d_grad_norm": d_grad_norm,
            "g_grad_norm": g_grad_norm,
        }


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
