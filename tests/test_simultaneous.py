"""Simultaneous updates: G's step is taken against D as the step found it, whatever D's update did."""

import pytest
import torch

from gan_cli.datasets.base import Batch
from gan_cli.errors import GanError
from gan_cli.tricks.base import Phase, TrickSet
from tests.conftest import tiny_mlp, trick
from tests.test_steps import adversarial_step


def gs_weights_after_a_step(tricks: list, d_lr: float, steps: int = 1) -> list[torch.Tensor]:
    torch.manual_seed(0)
    model = tiny_mlp()
    step = adversarial_step(model, TrickSet(tricks))
    for group in step.d_opt.param_groups:
        group["lr"] = d_lr
    real = torch.randn(16, 2) + 1.0
    for s in range(steps):
        step(s, lambda: Batch(real))
    return [p.detach().clone() for p in model.generator.parameters()]


def test_gs_update_does_not_see_this_steps_d_update_but_sees_the_earlier_ones():
    fast, slow = (gs_weights_after_a_step([trick("simultaneous")], lr) for lr in (0.5, 0.0))
    for a, b in zip(fast, slow):
        torch.testing.assert_close(a, b)
    alternating = gs_weights_after_a_step([], 0.5), gs_weights_after_a_step([], 0.0)
    assert not all(torch.equal(a, b) for a, b in zip(*alternating))  # without it, G sees D's update
    later = (gs_weights_after_a_step([trick("simultaneous")], lr, steps=3) for lr in (0.5, 0.0))
    assert not all(torch.equal(a, b) for a, b in zip(*later))  # D's earlier updates reach G


def test_two_tricks_that_choose_gs_d_are_refused():
    model = tiny_mlp()
    both = TrickSet([trick("simultaneous"), trick("unrolled", k=1)])
    with pytest.raises(GanError, match="simultaneous and unrolled each choose the D of G's update"):
        both.check(model, None)


def test_gs_phase_without_a_d_phase_in_its_step_is_refused_in_one_line():
    model = tiny_mlp()
    kept = trick("simultaneous")
    phase = Phase("g", 0, model, model.discriminator, torch.zeros(2, 2), torch.zeros(2, 2))
    with pytest.raises(GanError, match="without a D phase in the same step"):
        kept.g_discriminator(phase, None)
