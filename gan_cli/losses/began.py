"""BEGAN's equilibrium objective on autoencoder energies.

Berthelot, Schumm & Metz 2017, "BEGAN: Boundary Equilibrium Generative Adversarial Networks",
arXiv:1703.10717, section 3.4: with D's output the energy L(v) (its autoencoder's reconstruction
error, ``gan_cli/models/began.py``),

    D minimises L(x) - k_t L(G(z_D)),    G minimises L(G(z_G)),
    k_{t+1} = clip(k_t + λ_k (γ L(x) - L(G(z_D))), 0, 1)     after each D update.

k_t is a proportional controller holding the equilibrium E[L(G(z))] = γ E[L(x)]: γ, the
diversity ratio, trades image diversity (high) against quality (low). The paper's convergence
measure M_global = L(x) + |γ L(x) - L(G(z_D))| falls as training converges. Both are logged
(``k``, ``m_global``) with every record, and k is checkpointed so a resume continues exactly.

k and M_global stay on the training device (updated without a host sync); with several ranks
the energies are averaged across them first, so every rank holds the same k.
"""

from __future__ import annotations

from typing import Annotated

import torch
import torch.distributed as dist

from gan_cli.errors import GanError
from gan_cli.losses.base import Loss
from gan_cli.registry import LOSSES
from gan_cli.schema import NonNegativeFloat, Probability, Range
from gan_cli.training import distributed
from gan_cli.tricks.base import Phase

DiversityRatio = Annotated[float, Range(0, 1, min_open=True)]  # γ = 0 would drive k to 0 for good


@LOSSES.register("began")
class BEGANLoss(Loss):
    uses_targets = False
    reads_energy = True  # D's outputs are energies (low = real): only model=began makes them

    def __init__(
        self,
        gamma: DiversityRatio = 0.5,  # γ, the diversity ratio E[L(G(z))] / E[L(x)] held (paper: 0.5)
        lambda_k: NonNegativeFloat = 0.001,  # λ_k, k's learning rate (paper: 0.001; 0 freezes k)
        k_init: Probability = 0.0,  # k_0, the weight of the fakes' energy in D's loss at start (paper: 0)
    ):
        # Read at use time: schedules may set gamma and lambda_k by name between steps.
        self.gamma = gamma
        self.lambda_k = lambda_k
        self.k = torch.tensor(float(k_init))
        self.m_global: torch.Tensor | None = None  # none before the first D update

    def check(self, model: torch.nn.Module) -> None:
        if not getattr(model.discriminator, "energy", False):
            raise GanError(
                f"loss 'began' needs an energy discriminator (an autoencoder scoring reconstruction "
                f"error: model=began); model '{model.registered_name}' scores samples instead"
            )

    def d_loss(self, real_out, fake_out, real_target, fake_target):
        self.k = self.k.to(real_out.device)  # a copy only on the first call and after a load
        return real_out.mean() - self.k * fake_out.mean()

    def g_loss(self, fake_out, real_out):
        return fake_out.mean()

    def update(self, d_phase: Phase) -> None:
        energies = torch.stack([d_phase.real_out.detach().mean(), d_phase.fake_out.detach().mean()]).float()
        if distributed.active():
            dist.all_reduce(energies)
            energies /= distributed.world_size()
        real, fake = energies
        balance = self.gamma * real - fake
        self.k = (self.k.to(balance.device) + self.lambda_k * balance).clamp(0.0, 1.0)
        self.m_global = real + balance.abs()

    def scalars(self) -> dict[str, torch.Tensor]:
        if self.m_global is None:
            return {"k": self.k}
        return {"k": self.k, "m_global": self.m_global}

    def state_dict(self) -> dict:
        state = {"k": self.k.detach().cpu()}
        if self.m_global is not None:
            state["m_global"] = self.m_global.detach().cpu()
        return state

    def load_state_dict(self, state: dict) -> None:
        # Back on the training device at the next d_loss (the checkpoint is read onto the CPU).
        self.k = state["k"].clone()
        self.m_global = state["m_global"].clone() if "m_global" in state else None
