"""ProGAN: the growth schedule, fade-in blending, reals at the current level, batch per level,
the drift term, exact resume mid-fade and checkpoints that keep the growth state."""

import pytest
import torch

from gan_cli import components, sampling
from gan_cli.config import compose, resolve
from gan_cli.datasets.base import Batches, Data
from gan_cli.errors import GanError
from gan_cli.models.equalized import downsample, pixel_norm, upsample
from gan_cli.models.progan import growth
from gan_cli.registry import MODELS
from gan_cli.training import checkpoint
from gan_cli.training.loop import train
from gan_cli.tricks.base import Phase
from tests.conftest import tiny_config, trick

SHAPE = (1, 16, 16)  # levels 0, 1, 2: 4×4, 8×8, 16×16


def tiny_progan(**params):
    cfg = {"name": "progan", "z_dim": 8, "channel_base": 64, "channel_max": 8, **params}
    return MODELS.build(cfg, data_shape=SHAPE)


def blocky(images: torch.Tensor, factor: int) -> bool:
    """Whether every factor×factor block of pixels holds one value (an upsampled image)."""
    return torch.allclose(upsample(downsample(images, factor), factor), images, atol=1e-6)


def test_schedule_holds_4x4_then_fades_each_level_in_linearly_then_stabilizes():
    # 16 images per phase at batch 4: 4 steps per phase; the last level trains on forever.
    states = [growth(step, [4, 4, 4], 16, 16) for step in range(1, 22)]
    assert states[:4] == [(0, 1.0)] * 4
    assert states[4:8] == [(1, 0.25), (1, 0.5), (1, 0.75), (1, 1.0)]
    assert states[8:12] == [(1, 1.0)] * 4
    assert states[12:16] == [(2, 0.25), (2, 0.5), (2, 0.75), (2, 1.0)]
    assert states[16:] == [(2, 1.0)] * 5


def test_schedule_counts_images_at_each_level_s_own_batch_size():
    # Level 1 at batch 2: its 8-image fade takes 4 steps, where level 0's 8 images took 1.
    states = [growth(step, [8, 2], 8, 8) for step in range(1, 7)]
    assert states == [(0, 1.0), (1, 0.25), (1, 0.5), (1, 0.75), (1, 1.0), (1, 1.0)]


@pytest.mark.parametrize("level", [0, 1, 2])
@pytest.mark.parametrize("alpha", [0.5, 1.0])
def test_every_level_makes_and_scores_full_size_images_at_its_own_resolution(level, alpha):
    model = tiny_progan()
    model.grow(level, alpha if level else 1.0)
    fake = model.generator(torch.randn(6, 8))
    assert fake.shape == (6, *SHAPE)
    assert blocky(fake, 2 ** (2 - level))  # 4×4 at level 0, shown at 16×16
    assert not blocky(fake, 2 ** (3 - level))
    assert model.discriminator(fake).shape == (6,)
    assert model.discriminator(fake[:5]).shape == (5,)  # minibatch stddev groups shrink to fit


@pytest.mark.parametrize("level", [1, 2])
def test_a_fading_level_starts_as_the_level_below_and_ends_as_itself(level):
    model = tiny_progan()
    z, x = torch.randn(4, 8), torch.rand(4, *SHAPE) * 2 - 1
    model.grow(level - 1, 1.0)
    below_g, below_d = model.generator(z), model.discriminator(x)
    model.grow(level, 1.0)
    own_g = model.generator(z)
    model.grow(level, 0.0)
    assert torch.allclose(model.generator(z), below_g, atol=1e-5)
    assert torch.allclose(model.discriminator(x), below_d, atol=1e-5)
    model.grow(level, 0.25)
    assert torch.allclose(model.generator(z), 0.75 * below_g + 0.25 * own_g, atol=1e-5)
    assert not torch.allclose(model.discriminator(x), below_d, atol=1e-5)


def test_reals_are_brought_to_the_current_level_and_blended_as_g_s_output_is():
    model = tiny_progan()
    x = torch.rand(3, *SHAPE) * 2 - 1
    model.grow(2, 1.0)
    assert torch.equal(model.reals_at_level(x), x)
    model.grow(0, 1.0)
    assert torch.allclose(model.reals_at_level(x), upsample(downsample(x, 4), 4))
    model.grow(2, 0.25)
    expected = 0.75 * upsample(downsample(x)) + 0.25 * x
    assert torch.allclose(model.reals_at_level(x), expected, atol=1e-6)


def test_equalized_layers_keep_unit_weights_and_pixel_norm_gives_unit_features():
    model = tiny_progan()
    first = model.generator.first
    assert first.weight.std().item() == pytest.approx(1.0, abs=0.1)  # the scale lives outside
    assert first.weight_scale == pytest.approx(2**0.5 / 8**0.5)
    h = pixel_norm(torch.randn(2, 5, 3, 3) * 7)
    assert torch.allclose(h.pow(2).mean(1), torch.ones(2, 3, 3), atol=1e-5)


def step_once(model, step: int, batches: Batches, parts) -> dict:
    g_opt = torch.optim.Adam(model.generator.parameters(), lr=1e-3, betas=(0.0, 0.99))
    d_opt = torch.optim.Adam(model.discriminator.parameters(), lr=1e-3, betas=(0.0, 0.99))
    return model.step_class(model, parts.loss, parts.tricks, g_opt, d_opt, parts.latent)(step, batches)


def test_the_step_grows_on_schedule_and_trains_only_the_levels_in_use(tmp_path):
    cfg = tiny_config(tmp_path, "model=progan", "trick=progan", "model.batch_sizes=[8,4,4]")
    parts = components.build(cfg, SHAPE, 0)
    model = parts.model
    seen = []
    model.discriminator.register_forward_hook(lambda module, args, out: seen.append(len(args[0])))
    batches = Batches(Data(torch.rand(32, *SHAPE) * 2 - 1), 8, seed=0)
    before = {k: v.clone() for k, v in model.generator.state_dict().items()}
    scalars = step_once(model, 1, batches, parts)
    assert set(scalars) >= {"d_loss", "g_loss", "d_real", "d_fake", "d_grad_norm", "g_grad_norm"}
    assert (model.generator.level, model.discriminator.body.level) == (0, 0)
    assert max(seen) == 8
    moved = {k for k, v in model.generator.state_dict().items() if not torch.equal(v, before[k])}
    assert "first.weight" in moved and not any(k.startswith(("blocks.", "to_rgb.1")) for k in moved)

    seen.clear()
    step_once(model, 3, batches, parts)  # 16 images of 4×4 at batch 8, then level 1 at batch 4
    assert (model.generator.level, model.generator.alpha) == (1, 0.25)
    assert model.ema_generator.level == 1 and model.discriminator.body.alpha == 0.25
    assert max(seen) == 4  # a prefix of each batch at this level
    assert not torch.equal(model.generator.blocks[0].conv1.weight, before["blocks.0.conv1.weight"])


def test_batch_sizes_are_checked(tmp_path):
    with pytest.raises(GanError, match="3 entries for 2 levels"):
        MODELS.build({"name": "progan", "batch_sizes": [4, 4, 4]}, data_shape=(1, 8, 8))
    cfg = tiny_config(tmp_path, "model=progan", "trick=progan", "model.batch_sizes=[16]")
    parts = components.build(cfg, SHAPE, 0)
    with pytest.raises(GanError, match=r"exceed train.batch_size 8"):
        step_once(parts.model, 1, Batches(Data(torch.rand(32, *SHAPE)), 8, seed=0), parts)


@pytest.mark.parametrize("shape,message", [((1, 12, 12), "power-of-two"), ((2,), "square images")])
def test_progan_refuses_shapes_it_cannot_grow_to(shape, message):
    with pytest.raises(GanError, match=message):
        MODELS.build({"name": "progan"}, data_shape=shape)


def test_drift_adds_epsilon_times_the_mean_squared_real_score():
    class Fixed(torch.nn.Module):
        def forward(self, x):
            return x.flatten(1).sum(1)

    real = torch.tensor([[1.0, 2.0], [0.0, -2.0]])  # scores 3 and -2
    # The phase's D(real) as D's phase hands it over; no D to call, so no second forward pass.
    phase = Phase("d", 1, None, None, real, real * 0, {"real": Fixed()(real)})
    assert trick("drift", epsilon=0.01).d_penalty(phase).item() == pytest.approx(0.065)
    with pytest.raises(GanError, match="trick 'drift': epsilon must be a number >= 0, got -1.0"):
        trick("drift", epsilon=-1.0)


def test_trick_set_and_presets_choose_the_paper_s_recipe():
    cfg = resolve(compose(["model=progan", "trick=progan"]))
    assert cfg["loss"]["name"] == "wgan_gp" and set(cfg["trick"]) >= {"drift", "ema"}
    for preset, size in (("progan64", 64), ("progan256", 256)):
        cfg = resolve(compose([f"+experiment={preset}", "dataset.path=/faces"]))
        assert (cfg["model"]["name"], cfg["dataset"]["resolution"], cfg["loss"]["name"]) == (
            "progan",
            size,
            "wgan_gp",
        )
        assert cfg["train"]["betas"] == [0.0, 0.99] and cfg["train"]["lr_g"] == 1e-3
        widths = [
            m.out_channels for m in MODELS.build(cfg["model"], data_shape=(3, size, size)).generator.to_rgb
        ]
        assert len(widths) == len(cfg["model"]["batch_sizes"] or widths)
    mnist = resolve(compose(["+experiment=progan_mnist"]))
    assert mnist["dataset"]["name"] == "mnist" and mnist["model"]["name"] == "progan"


def mid_fade_run(tmp_path, steps: int):
    # 16 images at 4×4 (2 steps), then level 1 fades in over 24 (3 steps: α 1/3, 2/3, 1).
    cfg = tiny_config(tmp_path, "model=progan", "trick=progan")
    cfg["train"]["steps"], cfg["log"]["every"], cfg["model"]["fade_images"] = steps, 1, 24
    return cfg


@pytest.mark.slow
def test_a_run_resumed_mid_fade_matches_the_uninterrupted_one_and_samples_at_its_level(tmp_path):
    full = train(mid_fade_run(tmp_path, 9), tmp_path / "full")
    train(mid_fade_run(tmp_path, 4), tmp_path / "half")
    state = checkpoint.load(tmp_path / "half" / "checkpoints" / "last.pt")
    parts, _ = sampling.load_run(tmp_path / "half" / "checkpoints" / "last.pt")
    for net in (parts.model.generator, parts.model.discriminator.body, parts.model.ema_generator):
        assert (net.level, net.alpha) == (1, pytest.approx(2 / 3))
    samples = sampling.draw(parts, 4, 0, torch.device("cpu"))
    assert samples.shape == (4, *SHAPE) and blocky(samples, 2) and not blocky(samples, 4)

    resumed = train(mid_fade_run(tmp_path, 9), tmp_path / "half", resume=state)
    assert resumed["d_loss"] == full["d_loss"] and resumed["g_loss"] == full["g_loss"]
    a = sampling.load_run(tmp_path / "full" / "checkpoints" / "last.pt")[0]
    b = sampling.load_run(tmp_path / "half" / "checkpoints" / "last.pt")[0]
    assert (a.model.generator.level, a.model.generator.alpha) == (2, pytest.approx(2 / 3))
    inputs = sampling.seeded_inputs(a, 6, 0)
    assert torch.equal(sampling.generate(a.model, inputs), sampling.generate(b.model, inputs))
    grids = sorted(p.name for p in (tmp_path / "full" / "samples").glob("step_*.png"))
    assert grids[0] == "step_0000000.png" and len(grids) >= 4  # growth is visible step by step
