"""Normalisation, penalty and D-head tricks: each proves it acts, through the training step's hooks."""

import json

import pytest
import torch
from torch import nn
from torch.nn.utils import parametrize

from gan_cli import components, sampling
from gan_cli.datasets.base import Batch
from gan_cli.errors import GanError
from gan_cli.registry import LOSSES, MODELS, TRICKS
from gan_cli.training import checkpoint
from gan_cli.training.loop import train
from gan_cli.training.steps import AdversarialStep
from gan_cli.tricks.base import Phase, TrickSet
from gan_cli.tricks.layers import weight_layers, weight_matrix
from tests.conftest import tiny_config
from tests.test_tricks import LinearCritic


def trick(name: str, **params):
    return TRICKS.build({"name": name, **params})


def tiny_mlp():
    return MODELS.build({"name": "mlp", "z_dim": 4, "hidden": 8, "depth": 1}, data_shape=(2,))


def tiny_dcgan(**params):
    cfg = {"name": "dcgan", "z_dim": 4, "g_channels": 4, "d_channels": 4, **params}
    return MODELS.build(cfg, data_shape=(1, 16, 16))


def wrapped(model, *tricks):
    tricks = TrickSet(list(tricks))
    tricks.wrap(model)
    return model, tricks


def adversarial_step(model, tricks, lr=0.01, loss="ns"):
    g_opt = torch.optim.SGD(model.generator.parameters(), lr=lr)
    d_opt = torch.optim.SGD(model.discriminator.parameters(), lr=lr)
    latent = lambda n: torch.randn(n, model.z_dim)  # noqa: E731
    return AdversarialStep(model, LOSSES.build({"name": loss}), tricks, g_opt, d_opt, latent)


def d_phase(D, real, fake, step: int = 1) -> Phase:
    """D's phase on these inputs, as a step hands it to the penalties."""
    return Phase("d", step, None, D, real, fake)


def model_phase(model, name: str, real=None, fake=None) -> Phase:
    """A phase of ``model``'s step for the penalties that read only the networks (or ``real`` and ``fake``)."""
    return Phase(name, 1, model, model.discriminator, real, fake)


def sigma(layer) -> float:
    return torch.linalg.matrix_norm(weight_matrix(layer).detach(), 2).item()


def train_tiny(tmp_path, tricks: dict):
    """A 4-step run with ``tricks``; returns the run folder and its reloaded last checkpoint."""
    cfg = tiny_config(tmp_path, "trick=none", "model=mlp", "dataset=ring8")
    cfg["trick"].update(tricks)
    run = tmp_path / "run"
    record = train(cfg, run)
    assert record["step"] == 4
    return run, sampling.load_run(run / "checkpoints" / "last.pt")


# --- spectral_norm -------------------------------------------------------------------------


@pytest.mark.parametrize("make", [tiny_mlp, tiny_dcgan])
def test_spectral_norm_gives_every_wrapped_weight_unit_top_singular_value(make):
    model = make()
    with torch.no_grad():  # far from 1 whatever the init, so the test below could fail
        for layer in weight_layers(model):
            layer.weight.mul_(3.0 / torch.linalg.matrix_norm(weight_matrix(layer), 2))
    before = [sigma(layer) for layer in weight_layers(model)]
    assert before == pytest.approx([3.0] * len(before))
    model, _ = wrapped(model, trick("spectral_norm", generator=True))
    model.train()
    for _ in range(5):  # a few power iterations
        model.discriminator(model.generator(torch.randn(8, 4)))
    layers = weight_layers(model)
    assert len(layers) == len(before)
    assert all(parametrize.is_parametrized(layer, "weight") for layer in layers)
    assert [sigma(layer) for layer in layers] == pytest.approx([1.0] * len(layers), rel=0.05)


def test_spectral_norm_leaves_g_alone_unless_asked():
    model, _ = wrapped(tiny_dcgan(), trick("spectral_norm"))
    assert all(parametrize.is_parametrized(layer, "weight") for layer in weight_layers(model.discriminator))
    assert not any(parametrize.is_parametrized(layer, "weight") for layer in weight_layers(model.generator))


def test_spectral_norm_run_round_trips_through_its_checkpoint(tmp_path):
    run, (parts, state) = train_tiny(tmp_path, {"spectral_norm": {"generator": True}})
    model = parts.model.eval()
    for net in (model.generator, model.discriminator):
        layers = weight_layers(net)
        assert all(parametrize.is_parametrized(layer, "weight") for layer in layers)
        assert [sigma(layer) for layer in layers] == pytest.approx([1.0] * len(layers), rel=0.05)
    trained = state["generator"]["0.parametrizations.weight.original"]
    assert torch.equal(model.generator[0].parametrizations.weight.original, trained)
    samples = sampling.draw(parts, 5, seed=0, device=torch.device("cpu"))
    assert samples.shape == (5, 2) and torch.isfinite(samples).all()


# --- r1, r2 --------------------------------------------------------------------------------


class ConstantCritic(nn.Module):
    def __init__(self):
        super().__init__()
        self.b = nn.Parameter(torch.tensor(3.0))

    def forward(self, x):
        return self.b.expand(len(x))


class HalfSquareCritic(nn.Module):
    """D(x) = ||x||^2 / 2, whose input gradient is x itself."""

    def forward(self, x):
        return x.pow(2).sum(1) / 2


@pytest.mark.parametrize("name", ["r1", "r2"])
def test_r1_r2_are_zero_for_a_critic_constant_in_x(name):
    penalty = trick(name).d_penalty(d_phase(ConstantCritic(), torch.randn(8, 2), torch.randn(8, 2)))
    assert penalty.item() == 0.0


@pytest.mark.parametrize("name", ["r1", "r2"])
def test_r1_r2_equal_half_gamma_times_squared_gradient_norm_of_a_linear_critic(name):
    w = torch.tensor([3.0, 4.0])
    critic = LinearCritic(w.clone())
    penalty = trick(name, gamma=0.5).d_penalty(d_phase(critic, torch.randn(8, 2), torch.randn(8, 2)))
    assert penalty.item() == pytest.approx(0.5 / 2 * 25.0)
    penalty.backward()  # the penalty trains D: d/dw (gamma/2 ||w||^2) = gamma w
    assert torch.allclose(critic.w.grad, 0.5 * w)


def test_r1_penalises_real_inputs_and_r2_fake_ones():
    real, fake = torch.full((4, 2), 1.0), torch.full((4, 2), 3.0)
    gamma = 2.0  # so the penalty is E ||grad||^2 = E ||x||^2
    phase = d_phase(HalfSquareCritic(), real, fake)
    assert trick("r1", gamma=gamma).d_penalty(phase).item() == pytest.approx(2.0)
    assert trick("r2", gamma=gamma).d_penalty(phase).item() == pytest.approx(18.0)


@pytest.mark.parametrize("name", ["r1", "r2"])
def test_lazy_r1_r2_act_every_kth_step_scaled_by_k(name):
    penalty = TrickSet([trick(name, gamma=1.0, every=4)])
    critic, real, fake = LinearCritic(torch.tensor([3.0, 4.0])), torch.randn(8, 2), torch.randn(8, 2)
    values = []
    for step in range(1, 9):
        value = penalty.d_penalty(d_phase(critic, real, fake, step))
        values.append(value.item() if torch.is_tensor(value) else value)
    assert values == pytest.approx([0, 0, 0, 4 * 12.5, 0, 0, 0, 4 * 12.5])


@pytest.mark.parametrize("name", ["r1", "r2"])
def test_r1_r2_refuse_batch_norm_and_bad_values(name):
    with pytest.raises(GanError, match=f"{name} needs a discriminator without batch norm"):
        trick(name).check(tiny_dcgan(), LOSSES.build({"name": "ns"}))
    trick(name).check(tiny_dcgan(d_norm="none"), LOSSES.build({"name": "ns"}))
    with pytest.raises(GanError, match="every must be an integer >= 1"):
        trick(name, every=0)


# --- historical_averaging ------------------------------------------------------------------


def test_historical_averaging_is_zero_after_the_first_average_and_grows_as_parameters_move():
    model = tiny_mlp()
    ha = trick("historical_averaging", weight=0.5)
    d, g = model_phase(model, "d"), model_phase(model, "g")
    assert ha.d_penalty(d) == 0.0  # nothing averaged yet
    ha.after_d_step(model)
    ha.after_g_step(model)
    assert ha.d_penalty(d).item() == 0.0
    assert ha.g_penalty(g).item() == 0.0
    with torch.no_grad():
        for p in model.discriminator.parameters():
            p.add_(0.1)
    n = sum(p.numel() for p in model.discriminator.parameters())
    assert ha.d_penalty(d).item() == pytest.approx(0.5 * 0.01 * n, rel=1e-4)
    assert ha.g_penalty(g).item() == 0.0


def test_historical_averages_are_the_mean_of_the_parameter_history_and_survive_a_checkpoint():
    model = tiny_mlp()
    tricks = TrickSet([trick("historical_averaging")])
    step = adversarial_step(model, tricks, lr=0.1)
    history = {"d": [], "g": []}
    for key, opt, net in (("d", step.d_opt, model.discriminator), ("g", step.g_opt, model.generator)):
        snapshot = lambda *_, key=key, net=net: history[key].append(  # noqa: E731
            {n: p.detach().clone() for n, p in net.named_parameters()}
        )
        opt.register_step_post_hook(snapshot)
    for i in range(1, 5):
        step(i, lambda: Batch(torch.randn(8, 2)))
    ha = tricks.tricks[0]
    for key in ("d", "g"):
        assert ha.count[key] == 4
        for name, mean in ha.mean[key].items():
            assert torch.allclose(mean, torch.stack([h[name] for h in history[key]]).mean(0), atol=1e-6)
    assert ha.d_penalty(model_phase(model, "d")).item() > 0

    restored = trick("historical_averaging")
    restored.load_state_dict(ha.state_dict())
    g = model_phase(model, "g")
    assert restored.g_penalty(g).item() == ha.g_penalty(g).item()


# --- orthogonal_regularization --------------------------------------------------------------


class LinearG(nn.Module):
    def __init__(self):
        super().__init__()
        self.generator = nn.Sequential(nn.Linear(8, 4), nn.Linear(4, 2))


def test_orthogonal_regularization_is_zero_for_orthogonal_rows_and_reduced_by_a_gradient_step():
    ortho = trick("orthogonal_regularization", beta=1.0)
    model = LinearG()
    with torch.no_grad():
        for layer in model.generator:
            q, _ = torch.linalg.qr(torch.randn(layer.in_features, layer.out_features))
            # Orthogonal rows of any lengths: only the off-diagonal of W W^T is penalised.
            layer.weight.copy_(q.T * torch.arange(1.0, layer.out_features + 1)[:, None])
    assert ortho.g_penalty(Phase("g", 1, model, None, None, None)).item() == pytest.approx(0.0, abs=1e-10)

    model = LinearG()
    before = ortho.g_penalty(Phase("g", 1, model, None, None, None))
    assert before.item() > 1e-4
    before.backward()
    with torch.no_grad():
        for layer in model.generator:
            layer.weight -= 0.01 * layer.weight.grad
    assert ortho.g_penalty(Phase("g", 1, model, None, None, None)).item() < before.item()


def test_orthogonal_regularization_takes_transposed_conv_filters_as_rows():
    layer = nn.ConvTranspose2d(3, 5, 4)  # weight 3 × 5 × 4 × 4: outputs are dim 1
    assert weight_matrix(layer).shape == (5, 48)
    model = tiny_dcgan()
    assert trick("orthogonal_regularization").g_penalty(model_phase(model, "g")).item() > 0


# --- feature_matching ----------------------------------------------------------------------


def test_feature_matching_is_zero_for_matching_batches_and_the_squared_mean_difference_otherwise():
    fm = trick("feature_matching", weight=2.0)
    model = tiny_mlp()
    real = torch.randn(16, 2)
    assert fm.g_penalty(model_phase(model, "g", real, real.clone())).item() == 0.0
    assert fm.g_penalty(model_phase(model, "g", real, real + 1.0)).item() > 0
    model.discriminator.body = nn.Flatten()  # f(x) = x: the penalty is weight * ||mean shift||^2
    for shift in (torch.tensor([0.5, 0.0]), torch.tensor([1.0, 2.0])):
        expected = 2.0 * shift.pow(2).sum().item()
        assert fm.g_penalty(model_phase(model, "g", real, real + shift)).item() == pytest.approx(
            expected, rel=1e-5
        )


def test_feature_matching_trains_g_only_and_leaves_real_features_fixed():
    model = tiny_mlp()
    real = torch.randn(8, 2).requires_grad_(True)
    fake = model.generator(torch.randn(8, 4))
    trick("feature_matching").g_penalty(model_phase(model, "g", real, fake)).backward()
    assert real.grad is None
    assert all(p.grad is not None for p in model.generator.parameters())


@pytest.mark.parametrize("replace", [True, False])
def test_feature_matching_replaces_gs_adversarial_loss(replace):
    torch.manual_seed(0)
    model = tiny_mlp()
    tricks = TrickSet([trick("feature_matching", replace=replace)])
    step = adversarial_step(model, tricks, lr=0.0)  # nothing moves: the loss can be recomputed
    real, z = torch.randn(8, 2), torch.randn(8, 4)
    step.latent = lambda n: z[:n]
    g_loss = step(1, lambda: Batch(real))["g_loss"]
    fake = model.generator(z)
    feature_loss = (
        (model.discriminator.body(real).mean(0) - model.discriminator.body(fake).mean(0)).pow(2).sum()
    )
    adversarial = LOSSES.build({"name": "ns"}).g_loss(model.discriminator(fake), None)
    expected = feature_loss if replace else feature_loss + adversarial
    assert g_loss.item() == pytest.approx(expected.item(), rel=1e-5)


# --- minibatch_discrimination --------------------------------------------------------------


def test_minibatch_features_count_the_other_samples_that_are_close():
    model, _ = wrapped(tiny_mlp(), trick("minibatch_discrimination", num_kernels=5, kernel_dim=3))
    head = model.discriminator.head
    same = torch.randn(1, 8).expand(6, 8)
    assert torch.allclose(head.minibatch_features(same), torch.full((6, 5), 5.0))  # N - 1: self excluded
    far = 1000.0 * torch.randn(6, 8)
    assert head.minibatch_features(far).abs().max().item() < 1e-6
    pair = torch.cat([same[:2], far[:1]])  # two alike, one far away
    assert torch.allclose(head.minibatch_features(pair).sum(1), torch.tensor([5.0, 5.0, 0.0]), atol=1e-6)


@pytest.mark.parametrize("make,shape", [(tiny_mlp, (2,)), (tiny_dcgan, (1, 16, 16))])
@pytest.mark.parametrize("name", ["minibatch_discrimination", "minibatch_stddev"])
def test_d_head_tricks_keep_one_score_per_sample_and_train(make, shape, name):
    model = make()
    old_head = model.discriminator.head
    model, tricks = wrapped(model, trick(name))
    assert model.discriminator.head is not old_head
    assert model.discriminator(torch.randn(8, *shape)).shape == (8,)
    step = adversarial_step(model, tricks)
    before = [p.detach().clone() for p in model.discriminator.head.parameters()]
    out = step(1, lambda: Batch(torch.randn(8, *shape)))
    assert torch.isfinite(out["d_loss"]) and torch.isfinite(out["g_loss"])
    assert any(not torch.equal(a, b) for a, b in zip(before, model.discriminator.head.parameters()))


def test_d_head_tricks_refuse_a_head_another_trick_rebuilt():
    model, _ = wrapped(tiny_mlp(), trick("minibatch_stddev"))
    with pytest.raises(GanError, match="minibatch_discrimination rebuilds D's head"):
        trick("minibatch_discrimination").check(model, LOSSES.build({"name": "ns"}))


# --- minibatch_stddev ----------------------------------------------------------------------


def stddev_layer(model):
    return model.discriminator.head[0]


def test_minibatch_stddev_feature_is_zero_for_identical_samples():
    model, _ = wrapped(tiny_dcgan(), trick("minibatch_stddev", group_size=4))
    h = torch.randn(1, 16, 4, 4).expand(8, 16, 4, 4)
    out = stddev_layer(model)(h)
    assert out.shape == (8, 17, 4, 4) and torch.equal(out[:, :16], h)
    assert torch.allclose(out[:, 16], torch.tensor(1e-4))  # 0, but for ProGAN's sqrt(1e-8 + var)


def test_minibatch_stddev_feature_equals_the_hand_computed_group_statistic():
    model, _ = wrapped(tiny_mlp(), trick("minibatch_stddev", group_size=2))
    # 4 samples, groups {0, 2} and {1, 3} (ProGAN's reshape); 2 features each.
    h = torch.tensor([[0.0, 0.0], [1.0, 1.0], [2.0, 4.0], [1.0, 5.0]])
    # group {0, 2}: stds |0-2|/2 = 1 and |0-4|/2 = 2 -> 1.5; group {1, 3}: 0 and 2 -> 1.
    expected = torch.tensor([1.5, 1.0, 1.5, 1.0])
    out = stddev_layer(model)(h)
    assert torch.equal(out[:, :2], h)
    assert torch.allclose(out[:, 2], expected, atol=1e-4)


def test_minibatch_stddev_refuses_a_batch_that_does_not_split_into_groups():
    model, _ = wrapped(tiny_mlp(), trick("minibatch_stddev", group_size=4))
    with pytest.raises(GanError, match="batch of 6 does not split into groups of 4"):
        model.discriminator(torch.randn(6, 2))
    assert model.discriminator(torch.randn(3, 2)).shape == (3,)  # a smaller batch is one group


# --- every trick, end to end ----------------------------------------------------------------


@pytest.mark.parametrize(
    "tricks",
    [
        {"r1": {"every": 2}},
        {"r2": {}},
        {"historical_averaging": {}},
        {"orthogonal_regularization": {}},
        {"feature_matching": {}},
        {"minibatch_discrimination": {}, "spectral_norm": {}},
        {"minibatch_stddev": {}, "spectral_norm": {}},
    ],
    ids=lambda t: "+".join(t),
)
def test_each_trick_trains_and_its_run_reloads(tmp_path, tricks):
    _, (parts, state) = train_tiny(tmp_path, tricks)
    names = {type(t).__module__.rsplit(".", 1)[1] for t in parts.tricks.tricks}
    assert set(tricks) <= names
    samples = sampling.draw(parts, 4, seed=0, device=torch.device("cpu"))
    assert torch.isfinite(samples).all()
    if "spectral_norm" in tricks:  # wrapped after the head was rebuilt, so the new head is normalised
        assert all(parametrize.is_parametrized(m, "weight") for m in weight_layers(parts.model.discriminator))


def test_spectral_norm_wraps_after_head_tricks_whatever_the_listed_order(tmp_path):
    cfg = tiny_config(tmp_path, "trick=none", "model=mlp", "dataset=ring8")
    cfg["trick"] = {"spectral_norm": {}, "minibatch_discrimination": {}}
    parts = components.build(cfg, (2,), 0)
    head = parts.model.discriminator.head
    assert parametrize.is_parametrized(head.T, "weight") and parametrize.is_parametrized(head.score, "weight")


def test_a_resumed_run_with_these_tricks_matches_the_uninterrupted_one_bit_for_bit(tmp_path):
    tricks = {"historical_averaging": {}, "spectral_norm": {"generator": True}, "r1": {"every": 3}}
    run, _ = train_tiny(tmp_path, tricks)
    cfg = tiny_config(tmp_path, "trick=none", "model=mlp", "dataset=ring8")
    cfg["trick"].update(tricks)
    resumed = tmp_path / "resumed"
    train(cfg, resumed, resume=checkpoint.load(run / "checkpoints" / "step_0000002.pt"))
    losses = [
        [
            (r["d_loss"], r["g_loss"])
            for r in map(json.loads, path.read_text().splitlines())
            if r["step"] == 4 and "d_loss" in r
        ]
        for path in (run / "metrics.jsonl", resumed / "metrics.jsonl")
    ]
    assert len(losses[0]) == 1 and losses[0] == losses[1]
