"""Each trick proves it acts, through the same hooks the training step uses."""

import math

import pytest
import torch
from torch import nn

from gan_cli.datasets.base import Batch
from gan_cli.errors import GanError
from gan_cli.registry import LOSSES, MODELS, TRICKS
from gan_cli.training.steps import AdversarialStep
from gan_cli.tricks.base import Phase, TrickSet


def trick(name: str, **params):
    return TRICKS.build({"name": name, **params})


def tiny_mlp():
    return MODELS.build({"name": "mlp", "z_dim": 4, "hidden": 8, "depth": 1}, data_shape=(2,))


def test_label_smoothing_puts_the_value_in_real_targets_only():
    phase = Phase("d", 1, None, nn.Identity(), torch.zeros(3), torch.zeros(3))
    real_t, fake_t = TrickSet([trick("label_smoothing", real=0.9)]).targets(phase)
    assert torch.allclose(real_t, torch.full((3,), 0.9)) and torch.equal(fake_t, torch.zeros(3))


def test_label_smoothing_refuses_losses_without_targets():
    tricks = TrickSet([trick("label_smoothing")])
    with pytest.raises(GanError, match="label_smoothing needs a loss with targets .*; loss 'hinge' has none"):
        tricks.check_loss(LOSSES.build({"name": "hinge"}))
    tricks.check(tiny_mlp(), LOSSES.build({"name": "lsgan"}))


def test_sphere_latent_has_norm_sqrt_d():
    z = TrickSet([trick("sphere_latent")]).latent(torch.randn(16, 25))
    assert torch.allclose(z.norm(dim=1), torch.full((16,), 5.0))


def test_instance_noise_std_follows_its_schedule():
    noise = trick("instance_noise", std=0.4, anneal_steps=100)
    stds = []
    for step in (0, 50, 100, 200):
        noise.on_step(step)
        stds.append(noise.std)
    assert stds == pytest.approx([0.4, 0.2, 0.0, 0.0])
    noise.on_step(0)
    x = torch.zeros(20000)
    assert noise.d_input(x).std().item() == pytest.approx(0.4, rel=0.05)


def test_weight_clipping_bounds_every_critic_parameter():
    model = tiny_mlp()
    with torch.no_grad():
        for p in model.discriminator.parameters():
            p.mul_(100)
    trick("weight_clipping", clip=0.01).after_d_step(model)
    assert max(p.abs().max().item() for p in model.discriminator.parameters()) <= 0.01
    assert max(p.abs().max().item() for p in model.generator.parameters()) > 0.01


class LinearCritic(nn.Module):
    """D(x) = w·x, whose input gradient is w everywhere."""

    def __init__(self, w: torch.Tensor):
        super().__init__()
        self.w = nn.Parameter(w)

    def forward(self, x):
        return x @ self.w


def test_gradient_penalty_is_zero_for_unit_gradient_norm_and_positive_otherwise():
    gp = trick("gradient_penalty", weight=10.0)
    real, fake = torch.randn(8, 2), torch.randn(8, 2)
    unit = LinearCritic(torch.tensor([0.6, 0.8]))
    steep = LinearCritic(torch.tensor([3.0, 4.0]))
    assert gp.d_penalty(Phase("d", 1, None, unit, real, fake)).item() == pytest.approx(0.0, abs=1e-10)
    assert gp.d_penalty(Phase("d", 1, None, steep, real, fake)).item() == pytest.approx(
        10.0 * (5.0 - 1.0) ** 2
    )


def test_gradient_penalty_refuses_batch_norm_in_d():
    dcgan = MODELS.build(
        {"name": "dcgan", "z_dim": 4, "g_channels": 4, "d_channels": 4}, data_shape=(1, 16, 16)
    )
    with pytest.raises(GanError, match="without batch norm"):
        trick("gradient_penalty").check(dcgan, LOSSES.build({"name": "wgan_gp"}))


def test_n_critic_runs_n_d_updates_per_g_update():
    model = tiny_mlp()
    tricks = TrickSet([trick("n_critic", n=3)])
    g_opt = torch.optim.SGD(model.generator.parameters(), lr=0.01)
    d_opt = torch.optim.SGD(model.discriminator.parameters(), lr=0.01)
    counts = {"d": 0, "g": 0, "batches": 0}
    d_opt.register_step_post_hook(lambda *_: counts.__setitem__("d", counts["d"] + 1))
    g_opt.register_step_post_hook(lambda *_: counts.__setitem__("g", counts["g"] + 1))

    def batch():
        counts["batches"] += 1
        return Batch(torch.randn(4, 2))

    step = AdversarialStep(
        model, LOSSES.build({"name": "ns"}), tricks, g_opt, d_opt, lambda n: torch.randn(n, 4)
    )
    for i in range(2):
        step(i, batch)
    assert counts == {"d": 6, "g": 2, "batches": 6}


def test_trick_parameters_are_checked_by_name():
    with pytest.raises(GanError, match="did you mean 'real'"):
        trick("label_smoothing", reel=0.9)
    with pytest.raises(GanError, match="unknown trick 'label_smooth'"):
        trick("label_smooth")


def test_tricks_compose_in_order():
    tricks = TrickSet([trick("sphere_latent"), trick("n_critic", n=2), trick("instance_noise", std=0.0)])
    assert tricks.d_steps == 2
    assert tricks.latent(torch.randn(2, 9)).norm(dim=1).tolist() == pytest.approx([math.sqrt(9)] * 2)
