"""SAGAN and BigGAN: self-attention, conditional BN, the hierarchical latent and shared embedding,
their trick sets and presets, and tiny conditional runs that train, resume, checkpoint and sample."""

import pytest
import torch
from torch import nn
from torch.nn.utils import parametrize

from gan_cli import components, sampling
from gan_cli.config import compose, resolve
from gan_cli.errors import GanError
from gan_cli.models.attention import SelfAttention
from gan_cli.models.conditioning import ConditionalBatchNorm2d
from gan_cli.models.inputs import Inputs
from gan_cli.registry import MODELS
from gan_cli.training import checkpoint
from gan_cli.training.loop import train
from gan_cli.tricks.layers import weight_layers
from tests.conftest import tiny_config

FAMILIES = ["sagan", "biggan"]
SHAPE = (1, 16, 16)
TINY = {"g_channels": 4, "d_channels": 4, "max_multiplier": 2}


def build(name, shape=SHAPE, classes=10, **params):
    """Conditional when given classes."""
    cfg = {"name": name, "z_dim": 12, "conditional": classes > 0, **TINY, **params}
    return MODELS.build(cfg, data_shape=shape, num_classes=classes)


def test_self_attention_starts_as_identity_and_then_reaches_across_the_image():
    attention = SelfAttention(16)
    x = torch.randn(2, 16, 8, 8)
    assert torch.equal(attention(x), x)  # gamma = 0: the network starts purely convolutional
    with torch.no_grad():
        attention.gamma.fill_(1.0)
    far = x.clone()
    far[:, :, 0, 0] += 5.0  # a change in one corner...
    assert not torch.allclose(attention(x)[:, :, 7, 7], attention(far)[:, :, 7, 7])  # ...seen in the other


def attention_sides(net: nn.Module, x: torch.Tensor, call) -> list[int]:
    """The feature-map sides at which ``net``'s attention blocks run during ``call(x)``."""
    sides = []
    hooks = [
        m.register_forward_hook(lambda m, inputs, out: sides.append(inputs[0].shape[-1]))
        for m in net.modules()
        if isinstance(m, SelfAttention)
    ]
    call(x)
    for hook in hooks:
        hook.remove()
    return sides


@pytest.mark.parametrize("family", FAMILIES)
@pytest.mark.parametrize("resolution", [8, 16, 0])
def test_attention_sits_at_the_configured_resolution_in_g_and_d(family, resolution):
    model = build(family, (3, 32, 32), 0, attention_resolution=resolution).eval()
    z = torch.randn(2, 12)
    expected = [resolution] if resolution else []
    assert attention_sides(model.generator, z, model.generator) == expected
    assert attention_sides(model.discriminator, torch.randn(2, 3, 32, 32), model.discriminator) == expected


@pytest.mark.parametrize("family", FAMILIES)
def test_unreachable_attention_resolution_is_one_clear_line(family):
    with pytest.raises(GanError, match="attention_resolution must be 0 .none. or one of 8, 16 for 32x32"):
        build(family, (3, 32, 32), attention_resolution=32)
    with pytest.raises(GanError, match="power-of-two"):
        build(family, (1, 28, 28), attention_resolution=0)


def test_conditional_batch_norm_takes_gain_and_bias_from_the_condition():
    norm = ConditionalBatchNorm2d(3, 5).eval()
    x = torch.randn(4, 3, 2, 2)
    c = torch.randn(4, 5)
    expected = norm.norm(x) * (1 + norm.gain(c))[:, :, None, None] + norm.bias(c)[:, :, None, None]
    assert torch.allclose(norm(x, c), expected)
    plain = ConditionalBatchNorm2d(3, 0)
    assert plain.gain is None and plain.norm.affine


def test_sagan_batch_norms_are_per_class_and_its_d_projects():
    model = build("sagan", attention_resolution=8)
    norms = [m for m in model.generator.modules() if isinstance(m, ConditionalBatchNorm2d)]
    assert norms and all(m.gain.in_features == 10 for m in norms)  # one gain vector per class
    assert model.discriminator.projection.in_features == 10


def test_biggan_splits_z_over_its_blocks_and_shares_one_class_embedding():
    model = build("biggan", shared_dim=6, attention_resolution=8)  # 16x16: 2 blocks, 3 chunks of 4
    G = model.generator
    assert G.linear.in_features == 4
    norms = [m for m in G.modules() if isinstance(m, ConditionalBatchNorm2d) and m.gain is not None]
    assert len(norms) == 4 and all(m.gain.in_features == 6 + 4 for m in norms)
    assert len([m for m in G.modules() if isinstance(m, nn.Embedding)]) == 1  # shared by every block
    G.eval()
    labels = torch.tensor([3, 3])
    z = torch.randn(1, 12).repeat(2, 1)
    z[1, 8:] += 1.0  # only the last block's chunk differs
    model.condition(labels)
    coarse = G.blocks[0](G.linear(z[:, :4]).view(2, -1, 4, 4), G.block_inputs(z)[1][0])
    assert torch.allclose(coarse[0], coarse[1], atol=1e-6)  # the first block never sees the last chunk
    out = G(z)
    assert (out[0] - out[1]).abs().max() > 1e-3
    with pytest.raises(GanError, match="z_dim must split evenly into 3 chunks"):
        build("biggan", z_dim=10, attention_resolution=8)


def test_biggan_paper_size_has_the_papers_parameter_counts():
    """Brock et al. 2018, table 4 (128x128, ch = 96): G 70.4M and D 88.0M parameters."""
    cfg = resolve(compose(["+experiment=biggan128", "dataset.path=/nowhere"]))
    with torch.device("meta"):
        model = MODELS.build(cfg["model"], data_shape=(3, 128, 128), num_classes=1000)
    count = lambda net: sum(p.numel() for p in net.parameters())  # noqa: E731
    assert round(count(model.generator) / 1e6, 1) == 70.4
    assert round(count(model.discriminator) / 1e6, 1) == 88.0


@pytest.mark.parametrize("family", FAMILIES)
def test_trick_set_normalises_both_networks_and_chooses_hinge(family, tmp_path):
    cfg = tiny_config(tmp_path, f"model={family}", f"trick={family}", "model.conditional=true")
    assert cfg["loss"]["name"] == "hinge"
    parts = components.build(cfg, SHAPE, 10)
    for net in (parts.model.generator, parts.model.discriminator):
        assert all(parametrize.is_parametrized(layer, "weight") for layer in weight_layers(net))
    names = {t.registered_name for t in parts.tricks.tricks}
    expected = {"spectral_norm", "ttur"} | (
        {"orthogonal_regularization", "ema", "n_critic"} if family == "biggan" else set()
    )
    assert names == expected


def test_presets_are_the_papers_settings():
    sagan = resolve(compose(["+experiment=sagan32"]))
    assert sagan["train"]["betas"] == [0.0, 0.9] and sagan["trick"]["ttur"] == {"g_lr": 1e-4, "d_lr": 4e-4}
    biggan = resolve(compose(["+experiment=biggan32"]))
    assert biggan["trick"]["n_critic"]["n"] == 4 and biggan["train"]["batch_size"] == 50
    assert biggan["model"]["conditional"] and biggan["dataset"]["name"] == "cifar10"
    big = resolve(compose(["+experiment=biggan128", "dataset.path=/nowhere"]))
    assert big["model"]["attention_resolution"] == 64 and big["trick"]["ema"]["decay"] == 0.9999


def tiny_run(tmp_path, family, *extra):
    return tiny_config(tmp_path, f"model={family}", f"trick={family}", "model.conditional=true", *extra)


@pytest.mark.parametrize("family", FAMILIES)
@pytest.mark.slow
def test_conditional_run_trains_checkpoints_and_samples_with_and_without_labels(family, tmp_path):
    cfg = tiny_run(tmp_path, family, "sample.n=20")
    record = train(cfg, tmp_path / "run")
    assert all(torch.isfinite(torch.tensor(v)) for v in record.values())
    ckpt = tmp_path / "run" / "checkpoints" / "last.pt"
    parts, _ = sampling.load_run(ckpt)
    cpu = torch.device("cpu")
    grid = sampling.draw(parts, 20, 0, cpu)
    assert grid.shape == (20, *SHAPE) and parts.model.row_length(20) == 2
    fours = sampling.draw(parts, 3, 0, cpu, truncation=0.5, label=4)
    inputs = sampling.seeded_inputs(parts, 3, 0, label=4, truncation=0.5)
    assert inputs["z"].abs().max() <= 0.5 and inputs.labels.tolist() == [4] * 3
    assert torch.equal(fours, sampling.generate(parts.model, inputs))
    again, _ = sampling.load_run(ckpt)  # the round trip is exact
    assert torch.equal(fours, sampling.draw(again, 3, 0, cpu, truncation=0.5, label=4))
    with pytest.raises(GanError, match="class-conditional"):
        parts.model.generate(Inputs(inputs.named))


@pytest.mark.parametrize("family", FAMILIES)
@pytest.mark.slow
def test_unconditional_run_samples_without_labels(family, tmp_path):
    cfg = tiny_config(tmp_path, f"model={family}", f"trick={family}")
    train(cfg, tmp_path / "run")
    parts, _ = sampling.load_run(tmp_path / "run" / "checkpoints" / "last.pt")
    assert parts.model.num_classes == 0
    assert sampling.draw(parts, 5, 0, torch.device("cpu")).shape == (5, *SHAPE)
    with pytest.raises(GanError, match="unconditional"):
        sampling.draw(parts, 5, 0, torch.device("cpu"), label=1)


@pytest.mark.slow
def test_resumed_biggan_run_matches_the_uninterrupted_one(tmp_path):
    """Spectral norm's power-iteration vectors, the EMA copy and 2 D steps all resume exactly."""
    cfg = tiny_run(tmp_path, "biggan", "trick.ema.start_step=0")
    full = train(cfg, tmp_path / "full")
    train({**cfg, "train": {**cfg["train"], "steps": 2}}, tmp_path / "half")
    resumed = train(
        cfg, tmp_path / "half", resume=checkpoint.load(tmp_path / "half" / "checkpoints" / "last.pt")
    )
    assert resumed["d_loss"] == full["d_loss"] and resumed["g_loss"] == full["g_loss"]
    a = sampling.load_run(tmp_path / "full" / "checkpoints" / "last.pt")[0]
    b = sampling.load_run(tmp_path / "half" / "checkpoints" / "last.pt")[0]
    inputs = sampling.seeded_inputs(a, 10, 0)
    assert torch.equal(sampling.generate(a.model, inputs), sampling.generate(b.model, inputs))
