"""R3GAN: the residual block and its fix-up initialisation, the low-pass resamplers, the stage and
cardinality checks, conditioning, one training step through the real config, and the paper's
parameter counts."""

import math

import pytest
import torch

from gan_cli import components, sampling
from gan_cli.config import compose, resolve
from gan_cli.datasets.base import Batches, Data
from gan_cli.errors import GanError
from gan_cli.models.inputs import Inputs
from gan_cli.models.r3gan import ACTIVATION_GAIN, Resample, ResidualBlock, interpolating_kernel
from gan_cli.registry import MODELS
from gan_cli.training.loop import train
from tests.conftest import tiny_config

SHAPE = (1, 16, 16)
TINY = {"z_dim": 8, "widths": [12, 8, 4], "blocks": 1, "cardinality": [4, 4, 2]}
TINY_OVERRIDES = ["model=r3gan", "model.z_dim=8", "model.widths=[12,8,4]", "model.cardinality=[4,4,2]"]


def build(shape=SHAPE, classes=0, **params):
    """Conditional when given classes."""
    cfg = {"name": "r3gan", **TINY, "conditional": classes > 0, **params}
    return MODELS.build(cfg, data_shape=shape, num_classes=classes)


def count(net: torch.nn.Module) -> int:
    return sum(p.numel() for p in net.parameters())


@pytest.mark.parametrize("shape", [(1, 16, 16), (3, 16, 16)])
@pytest.mark.parametrize("classes", [0, 10])
def test_generator_and_discriminator_shapes(shape, classes):
    model = build(shape, classes)
    z = torch.randn(6, 8)
    labels = torch.arange(6) % 10 if classes else None
    fake = model.generate(Inputs({"z": z}, labels=labels))
    assert fake.shape == (6, *shape) and fake.min() >= -1 and fake.max() <= 1  # clipped when shown
    model.condition(labels)
    assert model.generator(z).shape == (6, *shape)
    assert model.discriminator.body(fake).shape == (6, 12)  # widths[0] (D's last), one vector each
    assert model.discriminator(fake).shape == (6,)


def test_conditional_g_and_d_read_the_label():
    model = build(classes=10)
    model.discriminator.head.embed.weight.data.normal_()  # so that two labels surely score apart
    z, x = torch.randn(1, 8).repeat(2, 1), torch.randn(1, *SHAPE).repeat(2, 1, 1, 1)
    model.condition(torch.tensor([1, 2]))
    fake, score = model.generator(z), model.discriminator(x)
    assert not torch.allclose(fake[0], fake[1]) and not torch.allclose(score[0], score[1])
    assert model.generator.embed.out_features == 8  # the label is embedded to z's size
    assert model.discriminator.head.linear.out_features == 12  # D's features (widths[0]), projected


def test_a_block_starts_as_the_identity_with_fixup_scaled_hidden_layers():
    block = ResidualBlock(64, cardinality=8, expansion=2, kernel_size=3, total_blocks=16)
    assert torch.count_nonzero(block.project.weight) == 0
    x = torch.randn(2, 64, 8, 8)
    assert torch.equal(block(x), x)
    gain = ACTIVATION_GAIN * 16 ** (-1 / 4)  # L^(-1/(2m-2)), m = 3 layers per block
    for layer in (block.expand, block.grouped):
        fan_in = layer.weight[0].numel()  # 64 for the 1x1 conv, 16 maps x 3 x 3 for the grouped one
        assert layer.weight.std().item() == pytest.approx(gain / math.sqrt(fan_in), rel=0.05)
    assert block.grouped.groups == 8 and block.grouped.in_channels == 128


def test_every_block_of_a_model_is_the_identity_at_init():
    model = build(blocks=2)
    blocks = [m for m in model.modules() if isinstance(m, ResidualBlock)]
    assert len(blocks) == 2 * 3 * 2  # 2 per stage, 3 stages, G and D
    assert all(torch.count_nonzero(b.project.weight) == 0 for b in blocks)


def test_the_resampling_kernel_is_the_interpolating_form_of_1_2_1():
    line = torch.tensor([1.0, 3.0, 3.0, 1.0]) / 8  # [1, 2, 1] convolved with [1, 1], normalised
    assert torch.allclose(interpolating_kernel(), line[:, None] * line[None, :])


def test_resamplers_keep_a_constant_image_constant_away_from_the_border():
    up, down = Resample(up=True), Resample(up=False)
    x = torch.full((2, 3, 8, 8), 0.7)
    upsampled = up(x)
    assert upsampled.shape == (2, 3, 16, 16)
    assert torch.allclose(upsampled[..., 1:-1, 1:-1], x[..., :1, :1].expand(-1, -1, 14, 14))
    downsampled = down(x)
    assert downsampled.shape == (2, 3, 4, 4)
    assert torch.allclose(downsampled[..., 1:-1, 1:-1], x[..., :2, :2])
    # The zero padding enters only at the border (as in the authors' code): one ring of pixels.
    assert torch.allclose(downsampled[..., 0, 0], torch.tensor(0.7 * (7 / 8) ** 2))
    assert torch.allclose(upsampled[..., 0, 0], torch.tensor(0.7 * 0.75**2))
    round_trip = down(up(x))
    assert round_trip.shape == x.shape
    assert torch.allclose(round_trip[..., 1:-1, 1:-1], x[..., 1:-1, 1:-1])


def test_resamplers_work_on_each_channel_alone():
    x = torch.zeros(1, 3, 8, 8)
    x[:, 1] = torch.randn(8, 8)
    for resample in (Resample(up=True), Resample(up=False)):
        y = resample(x)
        assert torch.count_nonzero(y[:, 0]) == 0 and torch.count_nonzero(y[:, 2]) == 0


def test_a_stage_count_that_does_not_fit_the_data_is_one_line_at_compose_time(tmp_path):
    with pytest.raises(GanError, match=r"^r3gan widths needs 3 entries for 16x16 images .*got 4"):
        build(widths=[8, 8, 8, 8])
    cfg = resolve(compose(["model=r3gan", "dataset.resolution=16", f"data.root={tmp_path}"]))
    with pytest.raises(GanError, match=r"^r3gan widths needs 3 entries for 16x16 images") as err:
        components.check(cfg)  # the default widths are 32x32's; checked on the meta device
    assert "\n" not in str(err.value)
    with pytest.raises(GanError, match="power-of-two"):
        build((1, 28, 28))
    with pytest.raises(GanError, match="blocks must be one integer or a list of 3"):
        build(blocks=[1, 1])


def test_a_cardinality_that_does_not_divide_the_hidden_width_is_refused():
    with pytest.raises(GanError, match=r"^r3gan cardinality must divide .* 3 does not divide 8 x 2 = 16"):
        build(cardinality=3, widths=[8, 8, 4])
    with pytest.raises(GanError, match="^r3gan cardinality must be one integer or a list of 3"):
        build(cardinality=[4, 4])
    with pytest.raises(GanError, match="kernel_size must be odd"):
        build(kernel_size=4)


def floats(model: torch.nn.Module, prefix: str) -> dict[str, torch.Tensor]:
    return {k: v.clone() for k, v in model.state_dict().items() if k.startswith(prefix)}


@pytest.mark.parametrize("conditional", [False, True])
def test_one_ns_step_through_the_real_config_moves_both_networks(conditional, tmp_path):
    cfg = tiny_config(tmp_path, *TINY_OVERRIDES, "loss=ns", f"model.conditional={str(conditional).lower()}")
    classes = 10 if conditional else 0
    parts = components.build(cfg, SHAPE, classes)
    model = parts.model
    before = {net: floats(model, net) for net in ("generator", "discriminator")}
    g_opt = torch.optim.Adam(model.generator.parameters(), lr=1e-3)
    d_opt = torch.optim.Adam(model.discriminator.parameters(), lr=1e-3)
    step = model.step_class(model, parts.loss, parts.tricks, g_opt, d_opt, parts.latent)
    labels = torch.arange(16) % 10 if conditional else None
    scalars = step(1, Batches(Data(torch.rand(16, *SHAPE) * 2 - 1, labels), 8, seed=0))
    assert all(torch.isfinite(v) for v in scalars.values())
    assert scalars["d_grad_norm"] > 0 and scalars["g_grad_norm"] > 0
    for net, state in before.items():
        after = floats(model, net)
        assert any(not torch.equal(after[k], v) for k, v in state.items()), f"{net} did not change"


def test_a_conditional_run_trains_checkpoints_and_samples_each_class(tmp_path):
    cfg = tiny_config(tmp_path, *TINY_OVERRIDES, "model.conditional=true", "sample.n=10")
    record = train(cfg, tmp_path / "run")
    assert all(math.isfinite(float(v)) for v in record.values())
    parts, _ = sampling.load_run(tmp_path / "run" / "checkpoints" / "last.pt")
    cpu = torch.device("cpu")
    sevens = sampling.draw(parts, 3, 0, cpu, label=7)
    assert sevens.shape == (3, *SHAPE)
    again, _ = sampling.load_run(tmp_path / "run" / "checkpoints" / "last.pt")
    assert torch.equal(sevens, sampling.draw(again, 3, 0, cpu, label=7))  # the round trip is exact


PAPER = {  # Huang et al. 2024, the authors' presets and the paper's parameter counts (millions)
    "cifar10": (
        {"widths": [768] * 4, "cardinality": 96, "conditional": True},
        (3, 32, 32),
        10,
        (20.8, 21.3),
    ),
    "ffhq64": (
        {"widths": [768, 768, 768, 768, 384], "cardinality": [96, 96, 96, 96, 48]},
        (3, 64, 64),
        0,
        (22.4, 22.4),
    ),
}


@pytest.mark.parametrize("preset", PAPER)
def test_the_papers_settings_have_the_papers_parameter_counts(preset):
    params, shape, classes, (g_millions, d_millions) = PAPER[preset]
    cfg = {"name": "r3gan", "z_dim": 64, "blocks": 2, "expansion": 2, **params}
    with torch.device("meta"):
        model = MODELS.build(cfg, data_shape=shape, num_classes=classes)
    assert count(model.generator) / 1e6 == pytest.approx(g_millions, rel=0.02)
    assert count(model.discriminator) / 1e6 == pytest.approx(d_millions, rel=0.02)


def test_the_default_yaml_builds_a_cpu_sized_network_for_32x32(tmp_path):
    cfg = resolve(compose(["model=r3gan", f"data.root={tmp_path}"]))
    components.check(cfg)
    with torch.device("meta"):
        model = MODELS.build(cfg["model"], data_shape=(1, 32, 32), num_classes=0)
    assert 0.9e6 < count(model.generator) + count(model.discriminator) < 3e6
