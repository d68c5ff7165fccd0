"""The MLP family's options for the 2-D toy networks of PacGAN, WGAN-GP and the unrolled GAN:
separate D width and depth, G and D activations (maxout included), and weight initialisations."""

import json
import math
import typing

import pytest
import torch
from torch import nn

from gan_cli.models.inputs import Inputs
from gan_cli.models.mlp import ACTIVATIONS, INITS, Activation, Init, Maxout, hidden_layer
from gan_cli.registry import MODELS
from gan_cli.training.loop import train
from tests.conftest import tiny_config

# PacGAN's 2-D networks (Lin et al. 2018): G 4x400 with batch norm, D 3 maxout layers of 200 x 5.
PACGAN = {
    "name": "mlp",
    "z_dim": 2,
    "hidden": 400,
    "depth": 4,
    "g_batch_norm": True,
    "d_hidden": 200,
    "d_depth": 3,
    "d_activation": "maxout",
    "maxout_pieces": 5,
}


def linears(net: nn.Module) -> list[nn.Linear]:
    return [m for m in net.modules() if isinstance(m, nn.Linear)]


def n_params(net: nn.Module) -> int:
    return sum(p.numel() for p in net.parameters())


def test_every_choice_has_its_entry():
    assert set(typing.get_args(Activation)) == {*ACTIVATIONS, "maxout"}
    assert set(typing.get_args(Init)) == set(INITS)


def test_pacgan_networks_have_the_papers_parameter_counts():
    model = MODELS.build(PACGAN, data_shape=(2,))
    units, pieces = 200, 5
    maxout_in, maxout_hidden = (2 + 1) * units * pieces, (units + 1) * units * pieces
    assert n_params(model.discriminator) == maxout_in + 2 * maxout_hidden + (units + 1)
    width = 400
    linear_bn = lambda n_in: (n_in + 1) * width + 2 * width  # noqa: E731 - Linear, then BN's gain and shift
    assert n_params(model.generator) == linear_bn(2) + 3 * linear_bn(width) + (width + 1) * 2
    assert sum(isinstance(m, Maxout) for m in model.discriminator.modules()) == 3
    assert sum(isinstance(m, nn.BatchNorm1d) for m in model.generator.modules()) == 4


def test_a_maxout_layer_is_the_max_over_consecutive_pieces():
    linear, maxout = hidden_layer(2, 2, "maxout", pieces=3)
    with torch.no_grad():
        linear.weight.copy_(torch.tensor([[1.0, 0], [0, 1], [1, 1], [-1, 0], [0, -1], [-1, -1]]))
        linear.bias.zero_()
    x = torch.tensor([[3.0, -2.0], [-1.0, 4.0]])
    # pieces per unit: (x1, x2, x1 + x2) and (-x1, -x2, -x1 - x2)
    expected = torch.tensor([[3.0, 2.0], [4.0, 1.0]])
    assert torch.equal(maxout(linear(x)), expected)
    assert torch.equal(Maxout(2)(torch.tensor([[1.0, 5.0, -3.0, -4.0]])), torch.tensor([[5.0, -3.0]]))


def test_the_default_model_keeps_its_layers_and_their_names():
    # Checkpoints of earlier runs load by these keys: the new options must not move them.
    model = MODELS.build({"name": "mlp", "hidden": 8, "depth": 2}, data_shape=(2,))
    assert [k for k in model.state_dict() if k.endswith("weight")] == [
        "generator.0.weight",
        "generator.2.weight",
        "generator.4.weight",
        "discriminator.body.1.weight",
        "discriminator.body.3.weight",
        "discriminator.head.weight",
    ]
    assert [type(m).__name__ for m in model.discriminator.body] == [
        "Flatten",
        "Linear",
        "LeakyReLU02",
        "Linear",
        "LeakyReLU02",
    ]


def test_init_normal_draws_weights_with_std_002_and_zero_biases():
    nets = MODELS.build({**PACGAN, "init": "normal"}, data_shape=(2,))
    weights = torch.cat([m.weight.flatten() for m in linears(nets)])
    assert weights.std().item() == pytest.approx(0.02, rel=0.01)
    assert abs(weights.mean().item()) < 1e-3
    assert all(not m.bias.any() for m in linears(nets))


def test_init_orthogonal_gives_w_wt_of_gain_squared_times_identity():
    model = MODELS.build({"name": "mlp", "hidden": 16, "depth": 2, "init": "orthogonal"}, data_shape=(2,))
    square = model.generator[2].weight.detach()  # the 16 -> 16 hidden layer
    assert square.shape == (16, 16)
    assert torch.allclose(square @ square.T, 1.4**2 * torch.eye(16), atol=1e-5)
    assert all(not m.bias.any() for m in linears(model))


def test_init_he_is_kaimings_uniform_for_relu():
    model = MODELS.build({"name": "mlp", "hidden": 512, "depth": 2, "init": "he"}, data_shape=(2,))
    w = model.discriminator.body[3].weight.detach()  # 512 -> 512
    assert w.std().item() == pytest.approx(math.sqrt(2 / 512), rel=0.02)
    assert w.abs().max().item() <= math.sqrt(6 / 512)  # uniform, as tflib's 'he'
    assert all(not m.bias.any() for m in linears(model))


def test_d_hidden_and_d_depth_change_only_d():
    base = {"name": "mlp", "z_dim": 4, "hidden": 16, "depth": 3}
    torch.manual_seed(0)
    same = MODELS.build(base, data_shape=(2,))
    torch.manual_seed(0)
    other = MODELS.build({**base, "d_hidden": 8, "d_depth": 1}, data_shape=(2,))
    g, g_other = same.generator.state_dict(), other.generator.state_dict()
    assert g.keys() == g_other.keys() and all(torch.equal(g[k], g_other[k]) for k in g)
    assert [m.weight.shape for m in linears(same.discriminator)] == [(16, 2), (16, 16), (16, 16), (1, 16)]
    assert [m.weight.shape for m in linears(other.discriminator)] == [(8, 2), (1, 8)]


@pytest.mark.parametrize("method", ["concat", "projection", "auxiliary"])
def test_conditioning_reads_ds_own_width(method):
    model = MODELS.build(
        {**PACGAN, "hidden": 12, "d_hidden": 6, "conditional": True, "conditioning": method},
        data_shape=(2,),
        num_classes=3,
    )
    labels = torch.tensor([0, 1, 2, 1])
    fake = model.generate(Inputs({"z": torch.randn(4, 2)}, labels=labels))
    model.condition(labels)
    assert model.discriminator(fake).shape == (4,)
    if method == "auxiliary":
        assert model.discriminator.class_loss(fake).isfinite()


@pytest.fixture
def refused(gan, monkeypatch):
    """``gan train ARGS`` stopped by its checks: (exit code, stderr); reaching training fails."""

    def no_training() -> None:
        raise AssertionError("the config passed every check and training was about to start")

    monkeypatch.setattr("gan_cli.training.task.main", no_training)
    return lambda *args: (lambda o: (o.exit_code, o.err))(gan("train", *args))


@pytest.mark.parametrize(
    "override,message",
    [
        (
            "model.d_activation=foo",
            "model 'mlp': d_activation must be one of leaky_relu, relu, tanh, maxout, got 'foo'",
        ),
        ("model.maxout_pieces=0", "model 'mlp': maxout_pieces must be an integer >= 1, got 0"),
        ("model.g_activation=maxout", "model 'mlp': g_activation must be relu or tanh, got 'maxout'"),
        ("model.d_hidden=0", "model 'mlp': d_hidden must be an integer >= 1 or null, got 0"),
        (
            "model.init=xavier",
            "model 'mlp': init must be one of default, normal, he, orthogonal, got 'xavier'",
        ),
    ],
)
def test_a_bad_value_is_refused_in_one_line(override, message, refused, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    code, err = refused("model=mlp", "dataset=ring8", override)
    assert code == 2, err
    assert err.strip() == f"error: {message}"
    assert not (tmp_path / "outputs").exists()


@pytest.mark.parametrize(
    "options",
    [
        ["model.d_hidden=8", "model.d_depth=2"],
        ["model.g_activation=tanh"],
        ["model.d_activation=relu"],
        ["model.d_activation=tanh"],
        ["model.d_activation=maxout", "model.maxout_pieces=3"],
        ["model.init=normal"],
        ["model.init=he"],
        ["model.init=orthogonal"],
    ],
    ids=" ".join,
)
def test_one_training_step_on_ring8(options, tmp_path):
    cfg = tiny_config(tmp_path, "model=mlp", "dataset=ring8", *options)
    cfg["train"]["steps"] = cfg["log"]["every"] = 1
    train(cfg, tmp_path / "run")
    (record,) = [json.loads(line) for line in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    assert record["step"] == 1
    assert all(math.isfinite(record[k]) for k in ("d_loss", "g_loss", "d_real", "d_fake"))
