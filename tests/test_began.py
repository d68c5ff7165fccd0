"""BEGAN (Berthelot, Schumm & Metz 2017, arXiv:1703.10717): the autoencoder D's energy, the
equilibrium loss and its k, and a run that logs and resumes k exactly."""

import json
from pathlib import Path

import pytest
import torch

from gan_cli import components
from gan_cli.config import compose, resolve
from gan_cli.errors import GanError
from gan_cli.models.inputs import Inputs
from gan_cli.registry import LOSSES, MODELS
from gan_cli.training import checkpoint
from gan_cli.training.loop import train
from gan_cli.training.task import resume
from gan_cli.tricks.base import Phase
from tests.conftest import tiny_config
from tests.test_compat import train_args  # noqa: F401 (a fixture)
from tests.test_values import assert_refused

TINY = ["model=began", "loss=began", "model.z_dim=8", "model.channels=4"]


def tiny_began(**params):
    return MODELS.build({"name": "began", "z_dim": 8, "channels": 4, **params}, data_shape=(1, 16, 16))


def tiny_config_dict(*extra: str) -> dict:
    """The tiny BEGAN run config (never loads data)."""
    return tiny_config(Path("/nonexistent"), *TINY, *extra)


def began_loss(**params):
    return LOSSES.build({"name": "began", **params})


def d_phase(real: list[float], fake: list[float]) -> Phase:
    """A D phase whose energies are already known (no D is called)."""
    x = torch.zeros(len(real), 1)
    return Phase("d", 1, None, None, x, x, {"real": torch.tensor(real), "fake": torch.tensor(fake)})


# ---- the model ----------------------------------------------------------------------------------


def test_d_scores_each_sample_by_its_mean_l1_reconstruction_error():
    D = tiny_began().discriminator
    x = torch.rand(3, 1, 16, 16) * 2 - 1
    by_hand = D.head(D.body(x))  # encoder, then decoder
    assert by_hand.shape == x.shape
    expected = torch.stack([(x[i] - by_hand[i]).abs().sum() / x[i].numel() for i in range(3)])
    assert torch.allclose(D(x), expected)
    assert D(x).shape == (3,) and (D(x) >= 0).all()


def test_the_networks_follow_the_paper_from_8x8_to_the_resolution():
    model = MODELS.build({"name": "began", "channels": 4, "z_dim": 8}, data_shape=(3, 32, 32))
    encoder_convs = [m for m in model.discriminator.body.modules() if isinstance(m, torch.nn.Conv2d)]
    # a 3x3 conv to n, then two convs per block at n, 2n, 3n, stride-2 convs growing the width between
    assert [c.out_channels for c in encoder_convs] == [4, 4, 4, 8, 8, 8, 12, 12, 12]
    assert [c.stride[0] for c in encoder_convs] == [1, 1, 1, 2, 1, 1, 2, 1, 1]
    assert model.discriminator.body.fc.out_features == 8  # the embedding h
    for decoder in (model.generator, model.discriminator.head):  # same architecture, own weights
        assert decoder.fc.out_features == 4 * 8 * 8
        assert sum(isinstance(m, torch.nn.Upsample) for m in decoder.modules()) == 2  # 8 -> 16 -> 32
    assert model.generator.fc.weight.data_ptr() != model.discriminator.head.fc.weight.data_ptr()
    assert model.generate(Inputs({"z": torch.randn(2, 8)})).shape == (2, 3, 32, 32)


def test_glorot_init_lets_g_depend_on_z_from_the_start():
    z = torch.rand(32, 8) * 2 - 1
    spread = {}
    for init in ("glorot", "default"):
        torch.manual_seed(0)
        model = tiny_began(init=init)
        with torch.no_grad():
            spread[init] = model.generator(z).std(0).mean().item()  # per pixel, across z
        layers = [m for m in model.modules() if isinstance(m, (torch.nn.Conv2d, torch.nn.Linear))]
        assert all((m.bias == 0).all() for m in layers) == (init == "glorot")
    # PyTorch's default keeps ~1/3 of the variance per conv: G's images hardly differ across z.
    assert spread["glorot"] > 5 * spread["default"]


@pytest.mark.parametrize("shape", [(1, 28, 28), (1, 4, 4), (1, 16, 8), (2,)])
def test_a_resolution_that_is_not_a_power_of_two_from_8_is_refused(shape):
    with pytest.raises(GanError, match="^began needs (a power-of-two resolution >= 8|square images)") as err:
        with torch.device("meta"):
            MODELS.build({"name": "began"}, data_shape=shape)
    assert "\n" not in str(err.value)


def test_the_uniform_prior_is_the_papers_and_gaussian_is_the_runs():
    parts = components.build(tiny_config_dict(), (1, 16, 16), 0)
    z = parts.latent(4000)
    assert z.abs().max() < 1 and abs(z.mean()) < 0.05 and abs(z.var() - 1 / 3) < 0.02  # U(-1, 1)
    gaussian = components.build(tiny_config_dict("model.prior=gaussian"), (1, 16, 16), 0)
    assert gaussian.latent(4000).abs().max() > 2


# ---- the loss -----------------------------------------------------------------------------------


def test_d_and_g_losses_on_known_energies():
    real, fake = torch.tensor([0.2, 0.4]), torch.tensor([0.5, 0.9])  # means 0.3 and 0.7
    loss = began_loss(k_init=0.25)
    assert loss.d_loss(real, fake, None, None).item() == pytest.approx(0.3 - 0.25 * 0.7)
    assert loss.g_loss(fake, None).item() == pytest.approx(0.7)
    assert not loss.uses_targets and not loss.g_uses_real
    assert began_loss().d_loss(real, fake, None, None).item() == pytest.approx(0.3)  # the paper's k_0 = 0


def test_k_follows_the_equilibrium_and_stays_in_0_1():
    loss = began_loss(gamma=0.5, lambda_k=0.1, k_init=0.5)
    # gamma L(x) = 0.5 > L(G(z)) = 0.2: D lets the fakes weigh more, k rises by 0.1 * 0.3.
    loss.update(d_phase([1.0, 1.0], [0.1, 0.3]))
    assert loss.scalars()["k"].item() == pytest.approx(0.53)
    assert loss.scalars()["m_global"].item() == pytest.approx(1.0 + 0.3)
    # gamma L(x) = 0.1 < L(G(z)) = 0.9: k falls by 0.1 * 0.8.
    loss.update(d_phase([0.2], [0.9]))
    assert loss.scalars()["k"].item() == pytest.approx(0.45)
    assert loss.scalars()["m_global"].item() == pytest.approx(0.2 + 0.8)
    loss.lambda_k = 10.0
    loss.update(d_phase([0.2], [0.9]))
    assert loss.k.item() == 0.0  # clipped below
    loss.update(d_phase([1.0], [0.0]))
    assert loss.k.item() == 1.0  # and above


def test_gamma_is_read_when_k_moves():
    loss = began_loss(gamma=0.5, lambda_k=1.0, k_init=0.5)
    loss.gamma = 0.9  # as a schedule sets it between steps
    loss.update(d_phase([1.0], [0.8]))
    assert loss.k.item() == pytest.approx(0.5 + (0.9 - 0.8))


def test_k_and_m_global_survive_the_state_dict():
    loss = began_loss(lambda_k=0.37)
    loss.update(d_phase([1.0], [0.1]))
    other = began_loss()
    assert other.state_dict()["k"].item() == 0.0 and "m_global" not in other.scalars()
    other.load_state_dict(loss.state_dict())
    assert torch.equal(other.k, loss.k) and torch.equal(other.m_global, loss.m_global)


def test_the_update_keeps_k_on_the_device_without_reading_it():
    loss = began_loss()
    with torch.device("meta"):  # a host read of a meta tensor raises
        loss.update(d_phase([1.0], [0.1]))
        assert loss.k.device.type == "meta"


# ---- compatibility --------------------------------------------------------------------------------


def test_loss_began_refuses_a_model_without_an_energy_discriminator(train_args, tmp_path):  # noqa: F811
    code, err = train_args("loss=began", "model=dcgan")
    assert_refused(code, err, "loss 'began' needs an energy discriminator", tmp_path)


def test_model_began_refuses_a_loss_that_does_not_read_energies(train_args, tmp_path):  # noqa: F811
    code, err = train_args("model=began", "loss=ns")
    assert_refused(code, err, "only loss=began reads; loss 'ns'", tmp_path)


def test_the_preset_and_the_trick_set_choose_the_loss_and_the_papers_optimiser():
    cfg = resolve(compose(["+experiment=began_mnist"]))
    assert (cfg["model"]["name"], cfg["loss"]["name"], cfg["loss"]["gamma"]) == ("began", "began", 0.5)
    assert (cfg["train"]["lr_g"], cfg["train"]["lr_d"], cfg["train"]["betas"]) == (1e-4, 1e-4, [0.5, 0.999])
    components.check(cfg)
    assert resolve(compose(["model=began", "trick=began"]))["loss"]["name"] == "began"


def test_tricks_that_replace_ds_head_are_refused_clearly():
    cfg = tiny_config_dict()
    cfg["trick"] = {"minibatch_stddev": {}}
    with pytest.raises(GanError, match="rebuilds D's head"):
        components.check(cfg)
    cfg["trick"] = {"feature_matching": {}}  # on the encoder's embedding
    components.check(cfg)


# ---- training -------------------------------------------------------------------------------------


def records(run) -> list[dict]:
    return [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]


def test_a_run_logs_k_and_m_global_and_a_resume_restores_k_exactly(tmp_path):
    cfg = tiny_config(tmp_path, *TINY, "loss.lambda_k=0.05", "trick=began")
    cfg["train"]["steps"], cfg["log"]["every"], cfg["checkpoint"]["every"] = 4, 1, 2
    train(cfg, tmp_path / "whole")
    whole = records(tmp_path / "whole")
    assert [r["step"] for r in whole] == [1, 2, 3, 4]
    assert all({"k", "m_global"} <= set(r) for r in whole)
    assert len({r["k"] for r in whole}) > 1 and all(0 <= r["k"] <= 1 and r["m_global"] > 0 for r in whole)
    saved = checkpoint.load(tmp_path / "whole" / "checkpoints" / "step_0000002.pt")["loss"]
    assert saved["k"].item() == pytest.approx(whole[1]["k"])

    # Stopped after step 2 (its checkpoint the newest): the resumed run logs what the whole one did.
    cfg["train"]["steps"] = 2
    train(cfg, tmp_path / "parts")
    resume(tmp_path / "parts", ["train.steps=4"])
    assert [{k: r[k] for k in ("step", "k", "m_global", "d_loss")} for r in records(tmp_path / "parts")] == [
        {k: r[k] for k in ("step", "k", "m_global", "d_loss")} for r in whole
    ]
    assert torch.equal(
        checkpoint.load(tmp_path / "parts" / "checkpoints" / "last.pt")["loss"]["k"],
        checkpoint.load(tmp_path / "whole" / "checkpoints" / "last.pt")["loss"]["k"],
    )
