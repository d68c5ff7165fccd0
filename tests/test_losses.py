"""Every loss, checked for sign and value on known D outputs."""

import math

import pytest
import torch

from gan_cli.errors import GanError
from gan_cli.registry import LOSSES
from gan_cli.tricks.gradient_penalty import GradientPenalty
from gan_cli.tricks.weight_clipping import WeightClipping

REAL = torch.tensor([2.0, 0.0])
FAKE = torch.tensor([-1.0, 1.0])
ONES, ZEROS = torch.ones(2), torch.zeros(2)


def softplus(x: float) -> float:
    return math.log1p(math.exp(x))


def d_loss(name: str, **params) -> float:
    return LOSSES.build({"name": name, **params}).d_loss(REAL, FAKE, ONES, ZEROS).item()


def g_loss(name: str) -> float:
    return LOSSES.build({"name": name}).g_loss(FAKE, REAL).item()


def test_bce_d_loss_is_cross_entropy_of_real_and_fake():
    # -log sigmoid(r) = softplus(-r); -log(1 - sigmoid(f)) = softplus(f)
    expected = (softplus(-2) + softplus(0)) / 2 + (softplus(-1) + softplus(1)) / 2
    assert d_loss("ns") == pytest.approx(expected)
    assert d_loss("minimax") == pytest.approx(expected)


def test_minimax_g_loss_saturates_and_ns_does_not():
    assert g_loss("minimax") == pytest.approx(-(softplus(-1) + softplus(1)) / 2)
    assert g_loss("ns") == pytest.approx((softplus(1) + softplus(-1)) / 2)
    # For a confidently rejected fake the saturating gradient vanishes, the NS one does not.
    f = torch.tensor([-8.0], requires_grad=True)
    LOSSES.build({"name": "minimax"}).g_loss(f, REAL).backward()
    saturating = f.grad.abs().item()
    f.grad = None
    LOSSES.build({"name": "ns"}).g_loss(f, REAL).backward()
    assert saturating < 1e-3 < f.grad.abs().item()


def test_least_squares():
    assert d_loss("lsgan") == pytest.approx(0.5 * (1 + 1) / 2 + 0.5 * (1 + 1) / 2)
    assert g_loss("lsgan") == pytest.approx(0.5 * (4 + 0) / 2)


def test_hinge():
    # relu(1 - [2, 0]) = [0, 1]; relu(1 + [-1, 1]) = [0, 2]
    assert d_loss("hinge") == pytest.approx(0.5 + 1.0)
    assert g_loss("hinge") == pytest.approx(0.0)


def test_wasserstein_and_its_implied_tricks():
    assert d_loss("wasserstein") == pytest.approx(0.0 - 1.0)
    assert g_loss("wasserstein") == pytest.approx(0.0)
    assert d_loss("wgan_gp") == d_loss("wasserstein")
    (clip,) = LOSSES.build({"name": "wasserstein", "clip": 0.05}).implied_tricks()
    assert isinstance(clip, WeightClipping) and clip.clip == 0.05
    (gp,) = LOSSES.build({"name": "wgan_gp", "gp_weight": 3.0}).implied_tricks()
    assert isinstance(gp, GradientPenalty) and gp.weight == 3.0


def test_smoothed_targets_raise_the_d_loss_of_a_confident_d():
    loss = LOSSES.build({"name": "ns"})
    sharp = loss.d_loss(torch.tensor([6.0]), torch.tensor([-6.0]), torch.ones(1), torch.zeros(1))
    smooth = loss.d_loss(torch.tensor([6.0]), torch.tensor([-6.0]), torch.full((1,), 0.9), torch.zeros(1))
    assert smooth > sharp + 0.5


def test_relativistic_average_variants():
    # Reals against the fakes' mean 0: [2, 0]; fakes against the reals' mean 1: [-2, 0].
    assert d_loss("ragan") == pytest.approx(softplus(-2) + softplus(0))
    assert d_loss("ragan", variant="lsgan") == pytest.approx(2.0)  # (x - 1)^2 and (x + 1)^2: all 1
    assert d_loss("ragan", variant="hinge") == pytest.approx(1.0)  # [0, 1] and [0, 1]
    # G swaps the roles: fakes [-2, 0] should be high, reals [2, 0] low.
    assert g_loss("ragan") == pytest.approx(softplus(2) + softplus(0))
    ls = LOSSES.build({"name": "ragan", "variant": "lsgan"})
    assert ls.g_loss(FAKE, REAL).item() == pytest.approx((9 + 1) / 2 + (9 + 1) / 2)
    hinge = LOSSES.build({"name": "ragan", "variant": "hinge"})
    assert hinge.g_loss(FAKE, REAL).item() == pytest.approx((3 + 1) / 2 + (3 + 1) / 2)


def test_relativistic_pairing_compares_each_real_with_its_fake():
    # softplus(fake - real) per pair: [-3, 1]; G: softplus(real - fake): [3, -1].
    assert d_loss("rpgan") == pytest.approx((softplus(-3) + softplus(1)) / 2)
    assert g_loss("rpgan") == pytest.approx((softplus(3) + softplus(-1)) / 2)
    # Pairs, not averages: swapping the two fakes changes the loss.
    rp = LOSSES.build({"name": "rpgan"})
    assert rp.d_loss(REAL, FAKE.flip(0), ONES, ZEROS).item() != pytest.approx(d_loss("rpgan"))


def test_relativistic_g_losses_move_ds_view_of_the_reals():
    # G's gradient reaches D(real): the half of the argument a standard GAN's G term lacks.
    for loss in (LOSSES.build({"name": "ragan"}), LOSSES.build({"name": "rpgan"})):
        real = REAL.clone().requires_grad_()
        loss.g_loss(FAKE, real).backward()
        assert loss.g_uses_real and not loss.uses_targets
        assert (real.grad > 0).all()  # G gains when the reals score lower


def test_rpgan_refuses_batches_it_cannot_pair():
    with pytest.raises(GanError, match="pairs real and fake"):
        LOSSES.build({"name": "rpgan"}).d_loss(REAL, torch.zeros(3), ONES, ZEROS)
