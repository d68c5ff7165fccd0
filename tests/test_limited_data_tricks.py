"""Regularizers for limited data: LeCam, top-k, balanced and latent consistency."""

import pytest
import torch
from torch import nn

from gan_cli.datasets.base import Batch
from gan_cli.errors import GanError
from gan_cli.registry import LOSSES, MODELS, TRICKS
from gan_cli.training.steps import AdversarialStep
from gan_cli.tricks.base import Phase, TrickSet
from tests.conftest import run_gan


def trick(name: str, **params):
    return TRICKS.build({"name": name, **params})


def outputs_phase(D, real_out, fake_out, name="d", step=1) -> Phase:
    """A phase whose D outputs are given (the inputs are stand-ins of the same batch sizes)."""
    real_in, fake_in = torch.zeros(len(real_out), 1), torch.zeros(len(fake_out), 1)
    return Phase(name, step, None, D, real_in, fake_in, {"real": real_out, "fake": fake_out})


def tiny_mlp():
    return MODELS.build({"name": "mlp", "z_dim": 4, "hidden": 8, "depth": 1}, data_shape=(2,))


# --- lecam ---------------------------------------------------------------------------------


def test_lecam_is_zero_when_each_side_sits_on_the_other_sides_anchor():
    lecam, D = trick("lecam"), nn.Identity()
    lecam.load_state_dict({"anchors": [torch.tensor([1.5, -0.5])]})  # α_R, α_F
    phase = outputs_phase(D, torch.full((4,), -0.5), torch.full((4,), 1.5))
    assert lecam.d_penalty(phase).item() == 0.0


def test_lecam_equals_weight_times_the_squared_distances_to_the_anchors():
    lecam, D = trick("lecam", weight=0.3), nn.Identity()
    lecam.load_state_dict({"anchors": [torch.tensor([1.0, -1.0])]})
    real_out = torch.tensor([2.0, 0.0], requires_grad=True)
    fake_out = torch.tensor([0.0, 1.0], requires_grad=True)
    # reals against α_F = -1: (9 + 1) / 2; fakes against α_R = 1: (1 + 0) / 2
    penalty = lecam.d_penalty(outputs_phase(D, real_out, fake_out))
    assert penalty.item() == pytest.approx(0.3 * (5.0 + 0.5))
    penalty.backward()  # the anchors are constants; D's outputs get the gradient
    assert torch.allclose(real_out.grad, 0.3 * torch.tensor([3.0, 1.0]))


def test_lecam_anchors_start_at_the_first_means_and_follow_with_the_decay():
    lecam, D = trick("lecam", decay=0.9), nn.Identity()
    lecam.d_outputs(outputs_phase(D, torch.tensor([1.0, 3.0]), torch.tensor([-2.0, 0.0])))
    assert torch.equal(lecam.anchors[0], torch.tensor([2.0, -1.0]))
    lecam.d_outputs(outputs_phase(D, torch.tensor([12.0]), torch.tensor([19.0])))
    assert torch.allclose(lecam.anchors[0], torch.tensor([0.9 * 2 + 0.1 * 12, 0.9 * -1 + 0.1 * 19]))
    lecam.d_outputs(outputs_phase(D, torch.tensor([50.0]), torch.tensor([50.0]), name="g"))
    assert torch.allclose(lecam.anchors[0], torch.tensor([3.0, 1.0]))  # G's phase leaves them alone


def test_lecam_keeps_anchors_per_discriminator_and_its_state_round_trips():
    lecam, d_a, d_b = trick("lecam"), nn.Identity(), nn.Identity()
    lecam.on_step(1)
    lecam.d_outputs(outputs_phase(d_a, torch.ones(2), torch.zeros(2)))
    lecam.d_outputs(outputs_phase(d_b, torch.full((2,), 5.0), torch.full((2,), 4.0)))
    assert [a.tolist() for a in lecam.anchors] == [[1.0, 0.0], [5.0, 4.0]]

    restored = trick("lecam")
    restored.load_state_dict(lecam.state_dict())
    phase = outputs_phase(d_a, torch.tensor([0.5, 2.0]), torch.tensor([-1.0, 3.0]))
    assert restored.d_penalty(phase).item() == lecam.d_penalty(phase).item() > 0


# --- top_k ---------------------------------------------------------------------------------


def test_top_k_decays_by_gamma_every_anneal_steps_down_to_nu_times_the_batch():
    top_k = trick("top_k", nu=0.5, gamma=0.9, anneal_steps=2)
    ks = [top_k.k(8, step) for step in range(1, 17)]
    # epochs 0..7: floor(8 * 0.9^e) = 8, 7, 6, 5, 5, 4 (ν·8), 4, 4
    assert ks == [8, 8, 7, 7, 6, 6, 5, 5, 5, 5, 4, 4, 4, 4, 4, 4]
    top_k.nu = 0.25  # as a schedule sets it
    assert top_k.k(8, 10_000) == 2


class RecordingLoss:
    """The ns loss, remembering what its G term was given."""

    def __init__(self, name="ns"):
        self.loss = LOSSES.build({"name": name})
        self.g_uses_real = self.loss.g_uses_real
        self.seen = []

    def g_loss(self, fake_out, real_out):
        self.seen.append((fake_out, real_out))
        return self.loss.g_loss(fake_out, real_out)


def score(x):
    """A D whose score is the (one-dimensional) sample itself."""
    return x.sum(1)


def test_only_the_k_fakes_d_scores_highest_reach_gs_loss():
    top_k = trick("top_k", nu=0.5, gamma=0.5, anneal_steps=1)
    loss = RecordingLoss()
    top_k.check(None, loss)
    fake_in = torch.tensor([[0.25], [-2.0], [1.5], [0.75], [-0.5], [2.5], [-1.0], [0.0]], requires_grad=True)
    phase = Phase("g", 2, None, score, torch.zeros(8, 1), fake_in)  # step 2: k = 8 * 0.5 = 4
    penalty = top_k.g_penalty(phase)
    ((kept, real),) = loss.seen
    assert real is None and sorted(kept.tolist()) == [0.25, 0.75, 1.5, 2.5]
    penalty.backward()
    reached = (fake_in.grad.flatten() != 0).nonzero().flatten().tolist()
    assert reached == [0, 2, 3, 5]
    assert TrickSet([top_k]).g_adversarial_weight == 0.0  # the loss's own G term is replaced


def test_top_k_keeps_the_reals_paired_with_the_kept_fakes_for_rpgan():
    top_k = trick("top_k", nu=0.5, gamma=0.5, anneal_steps=1)
    loss = RecordingLoss("rpgan")
    top_k.check(None, loss)
    real_in, fake_in = torch.arange(4.0)[:, None] * 10, torch.tensor([[3.0], [1.0], [4.0], [0.0]])
    assert torch.isfinite(top_k.g_penalty(Phase("g", 2, None, score, real_in, fake_in)))
    ((kept, real),) = loss.seen
    assert sorted(zip(kept.tolist(), real.tolist())) == [(3.0, 0.0), (4.0, 20.0)]


def test_top_k_trains_in_a_step_and_needs_the_loss():
    with pytest.raises(GanError, match="top_k needs the run's loss"):
        trick("top_k").g_penalty(Phase("g", 1, None, score, torch.zeros(2, 1), torch.zeros(2, 1)))
    model, tricks = tiny_mlp(), TrickSet([trick("top_k", anneal_steps=1)])
    loss = LOSSES.build({"name": "ns"})
    tricks.check(model, loss)
    g_opt = torch.optim.SGD(model.generator.parameters(), lr=0.01)
    d_opt = torch.optim.SGD(model.discriminator.parameters(), lr=0.01)
    step = AdversarialStep(model, loss, tricks, g_opt, d_opt, lambda n: torch.randn(n, 4))
    before = [p.detach().clone() for p in model.generator.parameters()]
    out = step(1, lambda: Batch(torch.randn(8, 2)))
    assert torch.isfinite(out["g_loss"])
    assert any(not torch.equal(a, b) for a, b in zip(before, model.generator.parameters()))


# --- bcr -----------------------------------------------------------------------------------


class MeanCritic(nn.Module):
    """D(x) = mean of x's pixels: blind to where a pixel is, so flips cannot change it."""

    def forward(self, x):
        return x.mean(dim=(1, 2, 3))


class LeftCritic(nn.Module):
    """D(x) = sum of the left half minus the right half: a flip negates it."""

    def forward(self, x):
        half = x.shape[-1] // 2
        return x[..., :half].sum(dim=(1, 2, 3)) - x[..., half:].sum(dim=(1, 2, 3))


def test_bcr_is_zero_for_a_critic_blind_to_the_augmentation_and_positive_otherwise():
    real, fake = torch.randn(8, 3, 8, 8), torch.randn(8, 3, 8, 8)
    flip_only = trick("bcr", augment="flip")
    assert flip_only.d_penalty(Phase("d", 1, None, MeanCritic(), real, fake)).item() == pytest.approx(
        0.0, abs=1e-10
    )
    torch.manual_seed(1)  # some of the 16 samples are flipped
    assert flip_only.d_penalty(Phase("d", 1, None, LeftCritic(), real, fake)).item() > 0
    shifted = trick("bcr")  # flip and translation: zero padding changes the mean
    assert shifted.d_penalty(Phase("d", 1, None, MeanCritic(), real, fake)).item() > 0


def test_bcr_equals_the_weighted_squared_score_changes():
    bcr = trick("bcr", weight_real=2.0, weight_fake=0.5, augment="flip")
    bcr.augmentations = [lambda x: x.flip(-1)]  # every sample flipped: D's score negates
    real, fake = torch.zeros(2, 1, 2, 2), torch.zeros(2, 1, 2, 2)
    real[:, 0, :, 0] = torch.tensor([1.0, 2.0])[:, None]  # scores 2 and 4 -> -2 and -4
    fake[:, :, :, 1] = 1.0  # scores -2 -> 2
    # real: (4² + 8²) / 2 = 40; fake: 4² = 16
    penalty = bcr.d_penalty(Phase("d", 1, None, LeftCritic(), real, fake))
    assert penalty.item() == pytest.approx(2.0 * 40 + 0.5 * 16)


def test_bcr_refuses_an_unknown_augmentation_and_non_image_data():
    with pytest.raises(GanError, match="unknown bcr augmentation 'rotate'"):
        trick("bcr", augment="flip,rotate")
    bcr = trick("bcr")
    bcr.data_shape((2,))
    with pytest.raises(GanError, match="bcr augments images"):
        bcr.check(tiny_mlp(), LOSSES.build({"name": "ns"}))


# --- zcr -----------------------------------------------------------------------------------


def test_zcr_reads_the_latents_the_step_draws_and_leaves_them_as_they_are():
    zcr, z = trick("zcr"), torch.randn(5, 4)
    assert zcr.latent(z) is z and zcr.z is z
    model = tiny_mlp()
    with pytest.raises(GanError, match="none were drawn"):
        trick("zcr").g_penalty(Phase("g", 1, model, model.discriminator, None, torch.zeros(5, 2)))


def test_zcr_penalties_are_the_weighted_squared_changes_under_the_latent_perturbation():
    model = tiny_mlp()
    zcr = trick("zcr", weight_dis=5.0, weight_gen=0.5, sigma=0.1)
    z = zcr.latent(torch.randn(6, 4))
    G, D = model.generator, model.discriminator
    phase = Phase("d", 1, model, D, torch.randn(6, 2), G(z).detach())

    torch.manual_seed(3)
    d_penalty = zcr.d_penalty(phase)
    torch.manual_seed(3)
    moved = G(z + 0.1 * torch.randn_like(z))
    assert d_penalty.item() == pytest.approx(5.0 * (D(G(z)) - D(moved)).pow(2).mean().item(), rel=1e-5)
    assert d_penalty.item() > 0

    torch.manual_seed(4)
    g_penalty = zcr.g_penalty(Phase("g", 1, model, D, phase.real_in, G(z)))
    torch.manual_seed(4)
    moved = G(z + 0.1 * torch.randn_like(z))
    expected = -0.5 * (G(z) - moved).pow(2).sum(1).mean()
    assert g_penalty.item() == pytest.approx(expected.item(), rel=1e-5) and g_penalty.item() < 0


def test_zcr_trains_d_with_its_d_penalty_and_g_with_its_g_penalty():
    model = tiny_mlp()
    zcr = trick("zcr")
    z = zcr.latent(torch.randn(6, 4))
    G, D = model.generator, model.discriminator
    zcr.d_penalty(Phase("d", 1, model, D, None, G(z).detach())).backward()
    assert all(p.grad is None for p in G.parameters())
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in D.parameters())
    D.zero_grad(set_to_none=True)
    zcr.g_penalty(Phase("g", 1, model, D, None, G(z))).backward()
    assert all(p.grad is None for p in D.parameters())
    assert all(p.grad is not None for p in G.parameters())


@pytest.mark.slow
def test_zcr_with_a_trick_that_reshapes_d_input_is_refused_before_any_folder(tmp_path):
    result = run_gan(
        "train", "model=mlp", "dataset=ring8", "trick=pacgan", "+trick.zcr.sigma=0.03", cwd=tmp_path
    )
    assert result.returncode == 2
    assert "zcr scores samples of its own with D, but pacgan changes the shape" in result.stderr
    assert "Traceback" not in result.stderr and not (tmp_path / "outputs").exists()
