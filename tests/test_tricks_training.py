"""EMA, TTUR, virtual batch norm and unrolled D each prove they act, through the hooks the
training step uses, and survive a checkpoint where they keep state."""

import copy

import pytest
import torch
from torch import nn

from gan_cli import components, sampling
from gan_cli.datasets.base import Batch
from gan_cli.errors import GanError
from gan_cli.models.inputs import Inputs
from gan_cli.registry import LOSSES
from gan_cli.sampling import generate
from gan_cli.training import checkpoint
from gan_cli.training.loop import train
from gan_cli.training.steps import AdversarialStep
from gan_cli.tricks.base import TrickSet
from tests.conftest import tiny_config, tiny_dcgan, tiny_mlp, trick


def adversarial_step(model, tricks):
    g_opt = torch.optim.Adam(model.generator.parameters(), lr=0.01)
    d_opt = torch.optim.Adam(model.discriminator.parameters(), lr=0.01)
    tricks.configure(g_opt, d_opt)
    latent = lambda n: torch.randn(n, model.z_dim)  # noqa: E731
    return AdversarialStep(model, LOSSES.build({"name": "ns"}), tricks, g_opt, d_opt, latent)


def ring_batch():
    return Batch(torch.randn(8, 2) + 2.0)


def mlp_run_config(tmp_path, **tricks):
    cfg = tiny_config(tmp_path, "model=mlp", "dataset=ring8", "trick=none")
    cfg["trick"].update(tricks)
    return cfg


def weights(module: nn.Module) -> list[torch.Tensor]:
    return [p.detach().clone() for p in module.parameters()]


# ---- ema ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("start_step", [0, 3])
def test_ema_weights_are_the_decayed_average_of_g_history(start_step):
    model = tiny_mlp()
    tricks = TrickSet([trick("ema", decay=0.8, start_step=start_step)])
    tricks.wrap(model)
    step = adversarial_step(model, tricks)
    expected = weights(model.generator)
    for i in range(1, 6):
        step(i, ring_batch)
        rate = 0.2 if i >= start_step else 1.0  # before start_step the average copies G
        expected = [(1 - rate) * e + rate * p for e, p in zip(expected, weights(model.generator))]
    assert all(torch.allclose(e, a) for e, a in zip(expected, weights(model.ema_generator)))
    # ... and it is an average, not G: the last G update moved G away from it.
    assert not torch.allclose(expected[0], model.generator[0].weight)
    assert not any(p.requires_grad for p in model.ema_generator.parameters())


def test_ema_half_life_sets_the_decay_and_zero_copies_g():
    model = tiny_mlp()
    ema = trick("ema", decay=0.1, half_life=2.0)  # half the weight left after 2 updates: decay 0.5 ** 0.5
    tricks = TrickSet([ema])
    tricks.wrap(model)
    step = adversarial_step(model, tricks)
    expected = weights(model.generator)
    for i in range(1, 4):
        step(i, ring_batch)
        rate = 1 - 0.5**0.5
        expected = [(1 - rate) * e + rate * p for e, p in zip(expected, weights(model.generator))]
    assert all(torch.allclose(e, a) for e, a in zip(expected, weights(model.ema_generator)))
    ema.half_life = 0.0  # R3GAN's schedule starts here: the average is G itself
    step(4, ring_batch)
    assert all(torch.equal(g, a) for g, a in zip(weights(model.generator), weights(model.ema_generator)))


def test_ema_copies_batch_norm_statistics_of_g():
    model = tiny_dcgan()
    tricks = TrickSet([trick("ema")])
    tricks.wrap(model)
    adversarial_step(model, tricks)(1, lambda: Batch(torch.rand(4, 1, 16, 16) * 2 - 1))
    g_stats, ema_stats = list(model.generator.buffers()), list(model.ema_generator.buffers())
    assert g_stats[0].abs().sum() > 0 and all(torch.equal(g, e) for g, e in zip(g_stats, ema_stats))


def test_ema_samples_and_checkpoint_round_trip(tmp_path):
    cfg = mlp_run_config(tmp_path, ema={"decay": 0.5})
    train(cfg, tmp_path / "run")
    path = tmp_path / "run" / "checkpoints" / "last.pt"
    parts, state = sampling.load_run(path)
    ema = parts.model.ema_generator
    for name, tensor in ema.state_dict().items():
        assert torch.equal(tensor, state["tricks"][0][name])  # restored exactly
    assert not torch.equal(ema[0].weight, parts.model.generator[0].weight)

    cpu = torch.device("cpu")
    averaged, plain = sampling.draw(parts, 16, 3, cpu, ema=True), sampling.draw(parts, 16, 3, cpu, ema=False)
    assert not torch.allclose(averaged, plain)
    z = parts.latent(16, "cpu", torch.Generator().manual_seed(3))
    with torch.no_grad():
        assert torch.allclose(averaged, ema.eval()(z))
        assert torch.allclose(plain, parts.model.generator.eval()(z))


def test_ema_refuses_a_decay_outside_0_1():
    with pytest.raises(GanError, match=r"trick 'ema': decay must be a number in \[0, 1\)"):
        trick("ema", decay=1.0)


# ---- ttur ---------------------------------------------------------------------------------------


def test_ttur_sets_both_learning_rates_and_the_checkpoint_keeps_them(tmp_path):
    cfg = mlp_run_config(tmp_path, ttur={"g_lr": 1e-4, "d_lr": 4e-4})
    assert cfg["train"]["lr_g"] == cfg["train"]["lr_d"] == 2e-4  # what ttur replaces
    parts = components.build(cfg, (2,), 0)
    model, tcfg = parts.model, cfg["train"]
    g_opt = torch.optim.Adam(model.generator.parameters(), lr=tcfg["lr_g"], betas=tuple(tcfg["betas"]))
    d_opt = torch.optim.Adam(model.discriminator.parameters(), lr=tcfg["lr_d"], betas=tuple(tcfg["betas"]))
    parts.tricks.configure(g_opt, d_opt)
    assert [g["lr"] for g in g_opt.param_groups] == [1e-4]
    assert [g["lr"] for g in d_opt.param_groups] == [4e-4]

    train(cfg, tmp_path / "run")
    state = checkpoint.load(tmp_path / "run" / "checkpoints" / "last.pt")
    assert [g["lr"] for g in state["g_optimizer"]["param_groups"]] == [1e-4]
    assert [g["lr"] for g in state["d_optimizer"]["param_groups"]] == [4e-4]


# ---- virtual batch norm -------------------------------------------------------------------------


def test_virtual_batch_norm_makes_an_output_independent_of_its_batch():
    plain, virtual = tiny_dcgan(), tiny_dcgan()
    TrickSet([trick("virtual_batch_norm", reference_size=16)]).wrap(virtual)
    z, others = torch.randn(1, 4), torch.randn(7, 4)
    for model, independent in ((virtual, True), (plain, False)):
        G = model.generator.train()
        alone, in_batch = G(z)[0], G(torch.cat([z, others]))[0]
        assert torch.allclose(alone, in_batch, atol=1e-6) == independent
    assert not any(isinstance(m, nn.BatchNorm2d) for m in virtual.generator.modules())


def test_virtual_batch_norm_uses_the_reference_batch_with_the_example_added():
    class OneLayer(nn.Module):  # G = a batch norm over 2 channels of 2x2 maps
        z_dim = 8
        num_classes = 0

        def __init__(self):
            super().__init__()
            self.generator = nn.Sequential(nn.Unflatten(1, (2, 2, 2)), nn.BatchNorm2d(2))
            nn.init.normal_(self.generator[1].weight)
            nn.init.normal_(self.generator[1].bias)

    model = OneLayer()
    batch_norm = copy.deepcopy(model.generator).train()
    vbn = trick("virtual_batch_norm", reference_size=5)
    vbn.check(model, None)
    vbn.wrap(model)
    reference = model.generator.vbn_reference
    assert reference.shape == (5, 8)
    x = torch.randn(3, 8)
    out = model.generator(x)
    for i in range(3):  # train-mode batch norm of the reference batch plus example i
        assert torch.allclose(out[i], batch_norm(torch.cat([reference, x[i : i + 1]]))[-1], atol=1e-5)


def test_virtual_batch_norm_reference_round_trips_through_the_state_dict():
    a, b = tiny_dcgan(), tiny_dcgan()
    b.load_state_dict(a.state_dict())
    torch.manual_seed(1)
    TrickSet([trick("virtual_batch_norm", reference_size=8, in_discriminator=True)]).wrap(a)
    torch.manual_seed(2)
    TrickSet([trick("virtual_batch_norm", reference_size=8, in_discriminator=True)]).wrap(b)
    z, x = torch.randn(3, 4), torch.rand(10, 1, 16, 16)
    a.discriminator(x)  # D's reference: the first batch it scores
    assert a.discriminator.vbn_reference.shape == (8, 1, 16, 16)
    assert not torch.allclose(a.generator(z), b.generator(z))  # different reference latents
    b.generator.load_state_dict(a.generator.state_dict())
    b.discriminator.load_state_dict(a.discriminator.state_dict())
    assert torch.equal(a.generator(z), b.generator(z))
    assert torch.equal(a.discriminator(x[8:]), b.discriminator(x[8:]))


def test_virtual_batch_norm_trains_samples_and_restores_from_a_checkpoint(tmp_path):
    cfg = tiny_config(tmp_path, "trick=none")
    cfg["trick"]["virtual_batch_norm"] = {"reference_size": 8}
    cfg["trick"]["ema"] = {"decay": 0.5}  # ema copies the virtualized G, reference included
    train(cfg, tmp_path / "run")
    parts, state = sampling.load_run(tmp_path / "run" / "checkpoints" / "last.pt")
    G = parts.model.generator
    assert torch.equal(G.vbn_reference, state["generator"]["vbn_reference"])
    assert torch.equal(parts.model.ema_generator.vbn_reference, G.vbn_reference)
    samples = sampling.draw(parts, 3, seed=0, device=torch.device("cpu"))
    assert samples.shape == (3, 1, 16, 16) and torch.isfinite(samples).all()
    z = parts.latent(3, "cpu", torch.Generator().manual_seed(0))
    assert torch.allclose(
        samples[:1], generate(parts.model, Inputs({"z": z[:1]})), atol=1e-6
    )  # batch-independent


def test_virtual_batch_norm_refuses_networks_without_batch_norm():
    with pytest.raises(GanError, match="needs batch norm in the generator"):
        trick("virtual_batch_norm").check(tiny_mlp(), None)
    with pytest.raises(GanError, match="d_norm=batch"):
        trick("virtual_batch_norm", in_discriminator=True).check(tiny_dcgan(d_norm="none"), None)


# ---- unrolled -----------------------------------------------------------------------------------


def test_unrolled_adversarial_step_on_2d_points_changes_only_gs_update():
    unrolled, plain = tiny_mlp(), tiny_mlp()
    plain.load_state_dict(unrolled.state_dict())
    for model, tricks in ((unrolled, [trick("unrolled", k=2)]), (plain, [])):
        torch.manual_seed(0)
        scalars = adversarial_step(model, TrickSet(tricks))(1, ring_batch)
        assert all(torch.isfinite(v) for v in scalars.values())
    for a, b in zip(unrolled.discriminator.parameters(), plain.discriminator.parameters()):
        assert torch.equal(a, b)  # D's own update is the plain one
    assert not all(
        torch.equal(a, b) for a, b in zip(unrolled.generator.parameters(), plain.generator.parameters())
    )
