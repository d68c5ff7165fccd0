"""ADA (gan_cli/tricks/ada.py): each op does what it says and draws from a distribution the
paper's non-leaking argument needs (symmetric, invertible), the pipeline is differentiable, and
the controller moves p towards the target rate of D(real) > 0 and resumes exactly."""

import io
import json
import math

import pytest
import torch
from torch import nn

from gan_cli import components
from gan_cli.errors import GanError
from gan_cli.registry import LOSSES
from gan_cli.training.loop import train
from gan_cli.tricks import ada
from gan_cli.tricks.base import Phase, TrickSet
from tests.conftest import tiny_config, tiny_dcgan, trick

N = 4000  # samples for the statistical tests (fixed seed: tests/conftest.py seeds each test)


def distinct(n: int = 8, c: int = 1, size: int = 16) -> torch.Tensor:
    """n images whose pixels are all different, in [-1, 1]."""
    return (torch.rand(n, c, size, size) * 2 - 1).sort(dim=-1).values


def d_phase(real_out: torch.Tensor, real_in: torch.Tensor | None = None) -> Phase:
    real_in = torch.zeros(len(real_out), 1, 8, 8) if real_in is None else real_in
    return Phase("d", 1, None, nn.Identity(), real_in, real_in, {"real": real_out, "fake": -real_out})


def adaptive(**params) -> ada.ADA:
    t = trick("ada", **params)
    t.data_shape((1, 8, 8))
    return t


def p_of(t: ada.ADA) -> float:
    return float(t.p)


# ---- the augmentation --------------------------------------------------------------------------


def test_p_zero_leaves_images_unchanged_exactly_and_p_one_changes_every_one():
    x = distinct(16, 3)
    assert trick("ada").d_input(x) is x
    everything = ada.BLIT + ada.GEOM
    assert torch.equal(ada.augment(x, torch.tensor(0.0), everything, ada.COLOR), x)  # adapted p, at 0
    out = trick("ada", p=0.999, adaptive=False).d_input(x)
    assert out.shape == x.shape and out.dtype == x.dtype and out.isfinite().all()
    assert ((out - x).flatten(1).abs().amax(dim=1) > 1e-3).all()


def test_xflip_mirrors_the_image_or_leaves_it_with_equal_odds():
    x = distinct(400)
    out = ada.augment(x, 1.0, (ada.xflip,), ())
    flipped = torch.tensor([torch.allclose(o, i.flip(-1), atol=1e-6) for o, i in zip(out, x)])
    kept = torch.tensor([torch.equal(o, i) for o, i in zip(out, x)])
    assert (flipped ^ kept).all()
    assert flipped.float().mean().item() == pytest.approx(0.5, abs=0.08)


def test_rotate90_turns_by_a_quarter_in_all_four_directions_alike():
    x = distinct(400)
    out = ada.augment(x, 1.0, (ada.rotate90,), ())
    turns = []
    for o, i in zip(out, x):
        matches = [k for k in range(4) if torch.allclose(o, torch.rot90(i, k, dims=(1, 2)), atol=1e-5)]
        assert len(matches) == 1
        turns.append(matches[0])
    counts = torch.bincount(torch.tensor(turns), minlength=4).float() / len(turns)
    assert torch.allclose(counts, torch.full((4,), 0.25), atol=0.07), counts


def test_integer_translation_shifts_by_whole_pixels_up_to_an_eighth_either_way():
    x = distinct(300, size=16)
    out = ada.augment(x, 1.0, (ada.integer_translation,), ())
    shifts = []

    def inside(image):  # what no shift of up to 2 pixels fills with padding
        return image[:, 2:-2, 2:-2]

    for o, i in zip(out, x):
        found = [
            (dy, dx)
            for dy in range(-2, 3)
            for dx in range(-2, 3)  # 1/8 of 16 pixels
            if torch.allclose(inside(o), inside(torch.roll(i, (dy, dx), dims=(1, 2))), atol=1e-5)
        ]
        assert len(found) == 1  # the inside moved rigidly, by whole pixels, within ±2
        shifts.append(found[0])
    dx = torch.tensor([s[1] for s in shifts])
    assert (dx > 0).sum() == pytest.approx((dx < 0).sum().item(), rel=0.35)  # right as often as left
    assert len(set(shifts)) > 15


def test_brightness_adds_one_offset_per_image_and_contrast_scales_about_grey():
    x = distinct(N, 1, 4)
    offset = ada.augment(x, 1.0, (), (ada.brightness,)) - x
    b = offset.flatten(1)
    assert torch.allclose(b, b[:, :1].expand_as(b), atol=1e-6)
    assert b[:, 0].std().item() == pytest.approx(0.2, rel=0.1) and abs(b[:, 0].mean().item()) < 0.02
    ratio = (ada.augment(x, 1.0, (), (ada.contrast,)) / x).flatten(1)
    assert torch.allclose(ratio, ratio[:, :1].expand_as(ratio), rtol=1e-4)
    log2_c = ratio[:, 0].log2()
    assert log2_c.std().item() == pytest.approx(0.5, rel=0.1) and abs(log2_c.mean().item()) < 0.05


def test_colour_ops_keep_grey_on_the_grey_axis_and_move_colours_around_it():
    grey, colour = torch.full((1, 3, 2, 2), 0.3), torch.tensor([0.6, -0.2, 0.1]).view(1, 3, 1, 1)
    for op in (ada.hue_rotation, ada.saturation):
        assert torch.allclose(ada.augment(grey.expand(64, -1, -1, -1), 1.0, (), (op,)), grey, atol=1e-6)
    hued = ada.augment(colour.expand(64, -1, -1, -1), 1.0, (), (ada.hue_rotation,))
    # A rotation about grey keeps the mean (luma) and the distance from grey (chroma).
    assert torch.allclose(hued.mean(dim=1), colour.mean(dim=1).expand(64, 1, 1), atol=1e-6)
    assert torch.allclose(hued.std(dim=1), colour.std(dim=1).expand(64, 1, 1), atol=1e-5)
    flipped = ada.augment(colour.expand(400, -1, -1, -1), 1.0, (), (ada.luma_flip,))
    inverted = torch.isclose(flipped.mean(dim=1), -colour.mean(dim=1), atol=1e-6).flatten()
    assert inverted.float().mean().item() == pytest.approx(0.5, abs=0.08)


def test_grey_images_get_brightness_contrast_and_luma_flip_but_no_hue_or_saturation():
    x = distinct(200, 1, 4)
    for op in (ada.hue_rotation, ada.saturation):
        assert torch.equal(ada.augment(x, 1.0, (), (op,)), x)
    flipped = ada.augment(x, 1.0, (), (ada.luma_flip,))
    negated = torch.tensor([torch.allclose(o, -i, atol=1e-6) for o, i in zip(flipped, x)])
    assert 0.3 < negated.float().mean().item() < 0.7
    assert ada.augment(x, 1.0, ada.BLIT + ada.GEOM, ada.COLOR).shape == x.shape


def test_the_augmentation_passes_gradients_back_to_every_image():
    x = distinct(8, 3).requires_grad_()
    out = trick("ada", p=0.9, adaptive=False).d_input(x)
    (out * torch.randn_like(out)).sum().backward()
    assert x.grad.isfinite().all() and (x.grad.flatten(1).abs().sum(dim=1) > 0).all()


def test_reduced_precision_images_come_back_in_their_own_dtype():
    x = distinct(4, 3).bfloat16()
    assert trick("ada", p=0.5, adaptive=False).d_input(x).dtype == torch.bfloat16


# ---- the distributions the non-leaking argument needs ------------------------------------------


def matrices(op, p: float = 1.0, n: int = N) -> torch.Tensor:
    return op(n, p, (16, 16), torch.device("cpu"))


def test_at_p_one_half_the_flip_op_fires_on_half_and_flips_half_of_those():
    for p, flips in ((0.5, 0.25), (1.0, 0.5)):
        flipped = matrices(ada.xflip, p)[:, 0, 0] < 0
        assert flipped.float().mean().item() == pytest.approx(flips, abs=0.03)


def test_geometric_ops_are_invertible_and_symmetric():
    shifts = matrices(ada.integer_translation)[:, 0, 2]
    assert shifts.abs().max() <= 2 and (shifts == shifts.round()).all()
    assert (shifts > 0).float().mean().item() == pytest.approx((shifts < 0).float().mean().item(), abs=0.04)
    turns = matrices(ada.rotate90)
    quarter = torch.atan2(turns[:, 1, 0], turns[:, 0, 0])
    counts = torch.bincount(((quarter / (math.pi / 2)).round().long() % 4), minlength=4).float() / N
    assert torch.allclose(counts, torch.full((4,), 0.25), atol=0.03)
    for op in ada.BLIT + ada.GEOM:
        assert (torch.linalg.det(matrices(op)).abs() > 1e-3).all()
    for op in (ada.isotropic_scaling, ada.anisotropic_scaling):
        log2_s = -matrices(op)[:, 0, 0].log2()  # the inverse's entry is 1/s
        assert log2_s.std().item() == pytest.approx(0.2, rel=0.1) and abs(log2_s.median().item()) < 0.02
    fractional = matrices(ada.fractional_translation)[:, :2, 2] / 16
    assert fractional.std().item() == pytest.approx(0.125, rel=0.1) and fractional.mean().abs() < 0.01


def test_arbitrary_rotation_happens_with_probability_p_in_all_directions():
    p = 0.4
    angles = [torch.atan2(m[:, 1, 0], m[:, 0, 0]) for m in (matrices(ada.rotation, p) for _ in range(2))]
    turned = (angles[0] != 0) | (angles[1] != 0)  # drawn before and after the anisotropic scaling
    assert turned.float().mean().item() == pytest.approx(p, abs=0.03)
    assert (angles[0] > 0).sum() == pytest.approx((angles[0] < 0).sum().item(), rel=0.15)
    hue = matrices(lambda n, p, size, device: ada.hue_rotation(n, p, device))
    assert (hue[:, 0, 1] > hue[:, 1, 0]).float().mean().item() == pytest.approx(0.5, abs=0.03)


# ---- the controller ------------------------------------------------------------------------------


def test_p_rises_when_d_is_sure_of_the_reals_and_falls_when_it_is_not():
    t = adaptive(interval=4, speed_images=1000)
    for _ in range(3):
        t.d_outputs(d_phase(torch.ones(10)))
        assert t.p == 0.0  # nothing moves before `interval` D updates
    t.d_outputs(d_phase(torch.ones(10)))
    assert p_of(t) == pytest.approx(40 / 1000)  # images of the interval / speed_images
    assert float(t.r_t) == 1.0
    for _ in range(4):
        t.d_outputs(d_phase(-torch.ones(10)))
    assert p_of(t) == 0.0
    for _ in range(8):
        t.d_outputs(d_phase(-torch.ones(10)))
    assert p_of(t) == 0.0  # clamped at 0
    t.d_outputs(Phase("g", 1, None, nn.Identity(), torch.zeros(10, 1, 8, 8), torch.zeros(10, 1, 8, 8)))
    assert t.updates_seen == 0  # G's phases do not count


def test_p_stays_below_one_and_a_fixed_p_never_moves():
    t = adaptive(p=0.99, interval=1, speed_images=10)
    for _ in range(5):
        t.d_outputs(d_phase(torch.ones(10)))
        assert 0.0 <= p_of(t) < 1.0
    fixed = adaptive(p=0.3, adaptive=False)
    fixed.d_outputs(d_phase(torch.ones(10)))
    assert fixed.p == 0.3


def test_p_counts_images_even_when_a_later_trick_packs_them():
    t = adaptive(interval=1, speed_images=1000)
    packed = torch.zeros(5, 2, 8, 8)  # ten 1×8×8 images, packed in pairs (pacgan acts after ada)
    t.d_outputs(d_phase(torch.ones(5), packed))
    assert p_of(t) == pytest.approx(10 / 1000)


def test_p_and_the_partial_tally_survive_a_checkpoint():
    def feed(t, signs):
        for s in signs:
            t.d_outputs(d_phase(torch.full((10,), s)))

    run = adaptive(interval=4, speed_images=1000)
    feed(run, [1, 1, 1, 1, 1, 1, 1])  # one adjustment and three quarters of the next interval
    buffer = io.BytesIO()
    torch.save(run.state_dict(), buffer)
    buffer.seek(0)
    resumed = adaptive(interval=4, speed_images=1000)
    resumed.load_state_dict(torch.load(buffer, weights_only=True))
    assert p_of(resumed) == p_of(run) == pytest.approx(0.04)
    feed(run, [1])
    feed(resumed, [1])  # completes the interval begun before the checkpoint
    assert p_of(resumed) == p_of(run) == pytest.approx(0.08)


def test_a_schedule_drives_a_fixed_p_and_is_refused_for_an_adaptive_one():
    fixed = adaptive(adaptive=False)
    fixed.p = 0.5  # as gan_cli/training/schedules.py sets it before a step
    fixed.on_step(1)
    assert not torch.equal(fixed.d_input(distinct(4, 3)), distinct(4, 3))
    moving = adaptive()
    moving.p = 0.5
    with pytest.raises(GanError, match="trick.ada.p follows a schedule and adapts at once"):
        moving.on_step(1)


def test_ada_refuses_points_odd_channel_counts_and_energies(tmp_path):
    cfg = tiny_config(tmp_path, "trick=none", "model=mlp", "dataset=ring8")
    cfg["trick"]["ada"] = {}
    with pytest.raises(GanError, match=r"ada needs image data \(C×H×W\)"):
        components.build(cfg, (2,), 0)
    two = trick("ada")
    two.data_shape((2, 8, 8))
    with pytest.raises(GanError, match="1 or 3 channels"):
        two.check(tiny_dcgan(), LOSSES.build({"name": "ns"}))
    with pytest.raises(GanError, match="set trick.ada.adaptive=false"):
        TrickSet([adaptive()]).check(tiny_dcgan(), LOSSES.build({"name": "began"}))


@pytest.mark.slow
def test_p_and_r_t_are_logged_with_the_records(tmp_path):
    cfg = tiny_config(
        tmp_path, "trick=ada", "trick.ada.interval=1", "trick.ada.speed_images=100", "metrics=none"
    )
    cfg["train"]["steps"], cfg["log"]["every"] = 4, 2
    train(cfg, tmp_path / "run")
    records = [json.loads(line) for line in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    logged = [r for r in records if "d_loss" in r]
    assert [r["step"] for r in logged] == [2, 4]
    assert all(0 <= r["ada_p"] < 1 and -1 <= r["ada_r_t"] <= 1 for r in logged)
