"""Tricks that change what D sees and learns from: targets, augmentation, packing, replay,
batch composition, and noise in G. Each test could fail if its trick stopped acting."""

import io

import pytest
import torch
from torch import nn

from gan_cli import components, sampling
from gan_cli.datasets.base import Batch
from gan_cli.errors import GanError
from gan_cli.registry import LOSSES, MODELS
from gan_cli.training import checkpoint
from gan_cli.training.loop import train
from gan_cli.training.steps import AdversarialStep
from gan_cli.tricks.base import Phase, TrickSet
from gan_cli.tricks.diffaugment import saturation
from tests.conftest import tiny_config, tiny_dcgan, tiny_mlp, trick


def built(tmp_path, tricks: dict, *overrides: str) -> components.Components:
    """``components.build`` for a tiny config with exactly ``tricks``, as a run builds them."""
    cfg = tiny_config(tmp_path, "trick=none", *overrides)
    cfg["trick"].update(tricks)
    shape = (2,) if "dataset=ring8" in overrides else (1, 16, 16)
    return components.build(cfg, shape, 0)


def run_steps(model, tricks: TrickSet, batch_size: int, steps: int = 2) -> None:
    g_opt = torch.optim.SGD(model.generator.parameters(), lr=0.01)
    d_opt = torch.optim.SGD(model.discriminator.parameters(), lr=0.01)
    step = AdversarialStep(
        model, LOSSES.build({"name": "ns"}), tricks, g_opt, d_opt, lambda n: torch.randn(n, model.z_dim)
    )
    shape = tuple(model.generator(torch.randn(2, model.z_dim)).shape[1:])
    for i in range(steps):
        step(i, lambda: Batch(torch.rand(batch_size, *shape) * 2 - 1))


# --- noisy_labels -------------------------------------------------------------------------


def test_noisy_labels_are_soft_in_range_and_flipped_at_the_given_rate():
    n = 200_000
    phase = Phase("d", 1, None, nn.Identity(), torch.ones(n), torch.zeros(n))
    real_t, fake_t = trick("noisy_labels", flip=0.1).targets(phase, torch.ones(n), torch.zeros(n))
    for kept, flipped in ((real_t >= 0.7, real_t <= 0.3), (fake_t <= 0.3, fake_t >= 0.7)):
        assert bool((kept | flipped).all())  # every target lies in one of the two ranges
        assert flipped.float().mean().item() == pytest.approx(0.1, abs=0.005)
    assert real_t.max().item() <= 1.2 and fake_t.min().item() >= 0.0
    soft_real = real_t[real_t >= 0.7]
    assert soft_real.min().item() < 0.71 and soft_real.max().item() > 1.19
    assert soft_real.mean().item() == pytest.approx(0.95, abs=0.005)  # uniform on [0.7, 1.2]
    assert fake_t[fake_t <= 0.3].mean().item() == pytest.approx(0.15, abs=0.005)


def test_noisy_labels_change_every_call_and_never_flip_with_flip_zero():
    noisy = trick("noisy_labels", flip=0.0, real_low=0.8, real_high=1.0, fake_high=0.1)
    phase = Phase("d", 1, None, nn.Identity(), torch.ones(1000), torch.zeros(1000))
    first, second = (
        noisy.targets(phase, torch.ones(1000), torch.zeros(1000)),
        noisy.targets(phase, torch.ones(1000), torch.zeros(1000)),
    )
    assert not torch.equal(first[0], second[0]) and not torch.equal(first[1], second[1])
    assert first[0].min().item() >= 0.8 and first[1].max().item() <= 0.1


def test_noisy_labels_refuse_losses_without_targets_and_bad_ranges():
    with pytest.raises(GanError, match="noisy_labels needs a loss with targets"):
        TrickSet([trick("noisy_labels")]).check(tiny_mlp(), LOSSES.build({"name": "hinge"}))
    with pytest.raises(GanError, match="fake_high <= real_low"):
        trick("noisy_labels", real_low=0.2, fake_high=0.3)
    with pytest.raises(GanError, match=r"trick 'noisy_labels': flip must be a number in \[0, 0.5\), got 0.5"):
        trick("noisy_labels", flip=0.5)


# --- diffaugment --------------------------------------------------------------------------


def test_diffaugment_refuses_unknown_policies_and_toy_data(tmp_path):
    with pytest.raises(
        GanError, match="unknown diffaugment policy 'colour'; valid: color, translation, cutout"
    ):
        trick("diffaugment", policy="color,colour")
    with pytest.raises(GanError, match="diffaugment needs image data"):
        built(tmp_path, {"diffaugment": {}}, "model=mlp", "dataset=ring8")


def input_gradient(policy: str) -> torch.Tensor:
    x = torch.randn(8, 3, 16, 16, requires_grad=True)
    out = trick("diffaugment", policy=policy).d_input(x)
    (out * torch.randn_like(out)).sum().backward()
    return x.grad


def test_diffaugment_passes_gradients_back_to_its_input():
    grad = input_gradient("color,translation,cutout")
    assert grad.isfinite().all() and (grad.flatten(1).abs().sum(dim=1) > 0).all()
    # Cut-out and translated-away pixels get no gradient (colour's means would reach them all).
    zero = (input_gradient("translation,cutout") == 0).flatten(1).float().mean(dim=1)
    assert ((zero >= 0.25) & (zero < 0.75)).all()


def test_translation_moves_the_image_and_pads_with_zero():
    h = w = 16
    image = torch.arange(1.0, h * w + 1).view(1, 1, h, w)  # every pixel distinct and non-zero
    out = trick("diffaugment", policy="translation").d_input(image.repeat(256, 1, 1, 1))
    shifts = set()
    for sample in out[:, 0]:
        rows, cols = sample.nonzero(as_tuple=True)
        source = sample[rows, cols].long() - 1
        dy, dx = (source // w - rows).unique(), (source % w - cols).unique()
        assert len(dy) == 1 and len(dx) == 1  # one shift for the whole image
        dy, dx = dy.item(), dx.item()
        assert abs(dy) <= 2 and abs(dx) <= 2  # 1/8 of 16 pixels
        # Every pixel whose source is inside the image kept its value; the rest are padding.
        assert len(rows) == (h - abs(dy)) * (w - abs(dx))
        shifts.add((dy, dx))
    assert len(shifts) == 25


def test_cutout_zeroes_one_square_of_half_the_image_size():
    out = trick("diffaugment", policy="cutout").d_input(torch.ones(128, 2, 16, 16))
    corners = set()
    for sample in out:
        assert torch.equal(sample[0], sample[1])  # the same square in every channel
        rows, cols = (sample[0] == 0).nonzero(as_tuple=True)
        assert len(rows) == 8 * 8
        assert rows.max() - rows.min() == 7 and cols.max() - cols.min() == 7
        corners.add((rows.min().item(), cols.min().item()))
    assert len(corners) > 30  # the square moves: 9 x 9 possible corners


def test_color_shifts_the_mean_by_brightness_and_scales_the_std_by_contrast():
    # Grey images: saturation has nothing to act on, so mean and std show brightness and contrast.
    x = torch.randn(512, 1, 8, 8)
    torch.manual_seed(3)
    out = trick("diffaugment", policy="color").d_input(x)
    torch.manual_seed(3)
    assert torch.equal(out, trick("diffaugment", policy="color").d_input(x))  # a fixed seed, fixed output
    shift = out.mean(dim=(1, 2, 3)) - x.mean(dim=(1, 2, 3))
    scale = out.std(dim=(1, 2, 3)) / x.std(dim=(1, 2, 3))
    assert shift.min().item() >= -0.5 - 1e-5 and shift.max().item() <= 0.5 + 1e-5
    assert shift.min().item() < -0.45 and shift.max().item() > 0.45
    assert scale.min().item() >= 0.5 - 1e-5 and scale.max().item() <= 1.5 + 1e-5
    assert scale.min().item() < 0.55 and scale.max().item() > 1.45


def test_saturation_scales_each_pixels_distance_from_its_grey_by_up_to_two():
    x = torch.randn(512, 3, 4, 4)
    out = saturation(x)
    grey = x.mean(dim=1, keepdim=True)
    assert torch.allclose(out.mean(dim=1, keepdim=True), grey, atol=1e-5)
    factor = (out - grey) / (x - grey)
    per_sample = factor.flatten(1)
    assert torch.allclose(per_sample, per_sample[:, :1].expand_as(per_sample), atol=1e-3)
    assert per_sample.min().item() >= 0 and per_sample.max().item() <= 2 + 1e-4
    assert per_sample.min().item() < 0.05 and per_sample.max().item() > 1.95


# --- pacgan -------------------------------------------------------------------------------


def test_pacgan_builds_d_for_m_packed_samples(tmp_path):
    dcgan = built(tmp_path, {"pacgan": {"m": 3}}).model
    assert dcgan.discriminator.body[0].in_channels == 3
    mlp = built(tmp_path / "mlp", {"pacgan": {"m": 3}}, "model=mlp", "dataset=ring8").model
    assert next(m for m in mlp.discriminator.modules() if isinstance(m, nn.Linear)).in_features == 6

    parts = built(tmp_path / "scores", {"pacgan": {"m": 3}})
    assert parts.model.discriminator(parts.tricks.d_input(torch.randn(12, 1, 16, 16))).shape == (4,)


def test_pacgan_packs_consecutive_samples_after_augmentation():
    tricks = TrickSet([trick("pacgan", m=2), trick("diffaugment")])
    assert [type(t).__name__ for t in tricks.tricks] == ["DiffAugment", "PacGAN"]
    x = torch.randn(6, 2, 8, 8)
    packed = trick("pacgan", m=2).d_input(x)
    assert packed.shape == (3, 4, 8, 8)
    assert torch.equal(packed[1], torch.cat([x[2], x[3]]))
    points = torch.randn(6, 2)
    assert torch.equal(trick("pacgan", m=3).d_input(points)[1], torch.cat([points[3], points[4], points[5]]))


def test_pacgan_runs_a_training_step_and_refuses_batches_it_cannot_pack():
    model = MODELS.build(
        {"name": "dcgan", "z_dim": 4, "g_channels": 4, "d_channels": 4},
        data_shape=(1, 16, 16),
        d_input_shape=(2, 16, 16),
    )
    before = [p.clone() for p in model.parameters()]
    run_steps(model, TrickSet([trick("pacgan", m=2)]), batch_size=6)
    assert all(not torch.equal(a, b) for a, b in zip(before, model.parameters()) if a.dim() > 1)
    with pytest.raises(GanError, match="train.batch_size must be a multiple of 2, got a batch of 5"):
        run_steps(model, TrickSet([trick("pacgan", m=2)]), batch_size=5)
    with pytest.raises(GanError, match="m must be an integer >= 2"):
        trick("pacgan", m=1)


# --- experience_replay --------------------------------------------------------------------


def tagged(tag: int, n: int = 10) -> torch.Tensor:
    """A batch whose every value is its tag, so a returned sample tells its batch."""
    return torch.full((n, 1, 2, 2), float(tag))


def test_experience_replay_passes_fakes_until_full_then_replays_half():
    replay = trick("experience_replay", size=20)
    for tag in (1, 2):
        assert torch.equal(replay.fake_for_d(tagged(tag)), tagged(tag))
    old, total = 0, 0
    for tag in range(3, 203):
        before = replay.pool[:, 0, 0, 0].tolist()
        tags = replay.fake_for_d(tagged(tag))[:, 0, 0, 0]
        assert len(replay.pool) == 20
        # Exchanges only: what D gets plus the new pool is what the old pool and the batch held.
        after = replay.pool[:, 0, 0, 0].tolist()
        assert sorted(after + tags.tolist()) == sorted(before + [float(tag)] * 10)
        old += int((tags < tag).sum())
        total += len(tags)
    assert old / total == pytest.approx(0.5, abs=0.03)


def test_experience_replay_fills_within_a_batch_larger_than_its_pool():
    replay = trick("experience_replay", size=4)
    out = replay.fake_for_d(tagged(1))
    assert torch.equal(out, tagged(1)) and len(replay.pool) == 4
    out = replay.fake_for_d(tagged(2, n=25))
    assert len(replay.pool) == 4 and bool((out[:, 0, 0, 0] == 1).any())


def test_experience_replay_pool_survives_a_weights_only_checkpoint():
    replay = trick("experience_replay", size=8)
    assert replay.state_dict() == {}
    replay.fake_for_d(torch.randn(6, 2))
    buffer = io.BytesIO()
    torch.save(replay.state_dict(), buffer)
    buffer.seek(0)
    restored = trick("experience_replay", size=8)
    restored.load_state_dict(torch.load(buffer, weights_only=True))
    assert torch.equal(restored.pool, replay.pool)
    torch.manual_seed(5)
    expected = replay.fake_for_d(torch.randn(6, 2))
    torch.manual_seed(5)
    assert torch.equal(restored.fake_for_d(torch.randn(6, 2)), expected)
    assert torch.equal(restored.pool, replay.pool)


# --- mixed_batches ------------------------------------------------------------------------


@pytest.mark.parametrize("d_norm, same", [("batch", False), ("none", True)])
def test_mixed_batches_share_batch_norm_statistics_only(d_norm, same):
    D = tiny_dcgan(d_norm=d_norm).discriminator.train()
    real, fake = torch.randn(8, 1, 16, 16), torch.randn(8, 1, 16, 16) + 1.0
    separate = TrickSet([]).d_forward(D, real, fake)
    mixed = TrickSet([trick("mixed_batches")]).d_forward(D, real, fake)
    assert [o.shape for o in mixed] == [(8,), (8,)]
    assert all(torch.allclose(a, b, atol=1e-6) for a, b in zip(separate, mixed)) == same


def test_mixed_batches_is_the_one_d_forward_of_a_training_step():
    model = tiny_mlp()
    tricks = TrickSet([trick("mixed_batches")])
    calls = []
    model.discriminator.register_forward_hook(lambda _m, args, _out: calls.append(len(args[0])))
    run_steps(model, tricks, batch_size=4, steps=1)
    assert calls == [8, 4]  # D on real + fake together, then on G's fakes


# --- dropout_g ----------------------------------------------------------------------------


@pytest.mark.parametrize("make", [tiny_mlp, tiny_dcgan])
def test_dropout_g_follows_every_generator_activation(make):
    model = make()
    activations = sum(isinstance(m, (nn.ReLU, nn.LeakyReLU)) for m in model.generator.modules())
    d_modules = len(list(model.discriminator.modules()))
    trick("dropout_g", p=0.5).wrap(model)
    dropouts = [m for m in model.generator.modules() if isinstance(m, nn.Dropout)]
    assert activations > 0 and len(dropouts) == activations and all(d.p == 0.5 for d in dropouts)
    assert len(list(model.discriminator.modules())) == d_modules

    z = torch.randn(4, model.z_dim)
    model.train()
    assert not torch.equal(model.generator(z), model.generator(z))
    model.eval()
    assert torch.equal(model.generator(z), model.generator(z))


# --- a run with all of them ---------------------------------------------------------------


def test_a_run_with_every_input_trick_trains_resumes_exactly_and_samples(tmp_path):
    cfg = tiny_config(tmp_path, "trick=none")
    cfg["trick"].update(
        noisy_labels={},
        diffaugment={},
        pacgan={"m": 2},
        experience_replay={"size": 12},  # full during step 2 of 4 (batches of 8)
        mixed_batches={},
        dropout_g={},
    )
    train(cfg, tmp_path / "whole")
    train(cfg, tmp_path / "resumed", resume=checkpoint.load(tmp_path / "whole/checkpoints/step_0000002.pt"))
    whole, resumed = (checkpoint.load(tmp_path / run / "checkpoints/last.pt") for run in ("whole", "resumed"))
    for net in ("generator", "discriminator"):
        assert all(torch.equal(whole[net][k], resumed[net][k]) for k in whole[net])
    pools = [next(s["pool"] for s in state["tricks"] if "pool" in s) for state in (whole, resumed)]
    assert pools[0].shape == (12, 1, 16, 16) and torch.equal(*pools)

    parts, _ = sampling.load_run(tmp_path / "whole/checkpoints/last.pt")
    assert parts.model.discriminator.body[0].in_channels == 2
    assert sampling.draw(parts, 3, seed=0, device=torch.device("cpu")).shape == (3, 1, 16, 16)
