"""Historical averaging of both networks' parameters.

Salimans et al. 2016, "Improved Techniques for Training GANs", arXiv:1606.03498, section 3.3:
add weight * ||theta - (1/t) sum_i theta[i]||^2 to each player's loss, pulling its parameters
towards their own running mean so the players stop orbiting an equilibrium. The mean is over
the parameters after each optimizer step so far; before the first step there is no penalty.
"""

from __future__ import annotations

import torch
from torch import nn

from gan_cli.registry import TRICKS
from gan_cli.schema import NonNegativeFloat
from gan_cli.tricks.base import Phase, Trick


@TRICKS.register("historical_averaging")
class HistoricalAveraging(Trick):
    def __init__(self, weight: NonNegativeFloat = 0.1):  # penalty weight (the paper gives none)
        self.weight = weight
        self.count = {"d": 0, "g": 0}  # optimizer steps averaged, per network
        self.mean: dict[str, dict[str, torch.Tensor]] = {"d": {}, "g": {}}  # parameter name -> mean

    def _means(self, net: nn.Module, which: str) -> dict[str, torch.Tensor]:
        # A resumed run loads the means on the CPU; they follow the parameters' device.
        mean = self.mean[which]
        for name, p in net.named_parameters():
            mean[name] = mean[name].to(p.device)
        return mean

    def _penalty(self, net: nn.Module, which: str) -> torch.Tensor | float:
        if not self.count[which]:
            return 0.0
        mean = self._means(net, which)
        return self.weight * sum(((p - mean[name]) ** 2).sum() for name, p in net.named_parameters())

    @torch.no_grad()
    def _update(self, net: nn.Module, which: str) -> None:
        self.count[which] += 1
        if self.count[which] == 1:
            self.mean[which] = {name: p.detach().clone() for name, p in net.named_parameters()}
            return
        mean = self._means(net, which)
        for name, p in net.named_parameters():
            mean[name] += (p - mean[name]) / self.count[which]

    def d_penalty(self, phase: Phase) -> torch.Tensor | float:
        return self._penalty(phase.D, "d")

    def g_penalty(self, phase: Phase) -> torch.Tensor | float:
        return self._penalty(phase.model.generator, "g")

    def after_d_step(self, model) -> None:
        self._update(model.discriminator, "d")

    def after_g_step(self, model) -> None:
        self._update(model.generator, "g")

    def state_dict(self) -> dict:
        return {"count": dict(self.count), "mean": {k: dict(v) for k, v in self.mean.items()}}

    def load_state_dict(self, state: dict) -> None:
        self.count = dict(state["count"])
        self.mean = {k: dict(v) for k, v in state["mean"].items()}
