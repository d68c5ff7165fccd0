"""CycleGAN: shapes, the cycle and identity terms, the image pool, one step, exact resume."""

import json

import pytest
import torch
from torch import nn

from gan_cli import components, sampling
from gan_cli.datasets.base import Batch, Batches, Data
from gan_cli.datasets.unpaired import TwoDomainData
from gan_cli.errors import GanError
from gan_cli.registry import LOSSES, MODELS
from gan_cli.sampling import load_run
from gan_cli.training import checkpoint
from gan_cli.training.loop import train
from gan_cli.tricks.base import TrickSet
from tests.conftest import tiny_config

SHAPE = (1, 16, 16)


def tiny_cyclegan(**params):
    config = {"name": "cyclegan", "g_channels": 4, "g_blocks": 1, "d_channels": 4, "d_layers": 2, **params}
    return MODELS.build(config, data_shape=SHAPE)


def cycle_step(model, lr=1e-3, parts=None):
    parts = parts or components.Components(model, LOSSES.build({"name": "lsgan"}), TrickSet([]), [])
    g_opt = torch.optim.Adam(model.generator.parameters(), lr=lr)
    d_opt = torch.optim.Adam(model.discriminator.parameters(), lr=lr)
    return model.step_class(model, parts.loss, parts.tricks, g_opt, d_opt, parts.latent)


def two_domains(n=8):
    a = torch.rand(n, *SHAPE) * 2 - 1
    return lambda: Batch(a, None, -a)


@pytest.mark.parametrize("generator", ["resnet", "unet"])
def test_generators_keep_the_shape_and_patch_discriminators_score_each_patch(generator):
    model = tiny_cyclegan(generator=generator, g_downsamplings=2)
    x = torch.rand(3, *SHAPE) * 2 - 1
    for g in (model.generator.g_ab, model.generator.g_ba):
        y = g(x)
        assert y.shape == x.shape and y.min() >= -1 and y.max() <= 1
    # 16 -> 8 -> 4 (strided) -> 3 (stride 1) -> 2: a 2×2 map of patch scores per image
    assert model.discriminator.d_a(x).shape == (3 * 2 * 2,)
    assert model.directions == ("AtoB", "BtoA") and not hasattr(model, "z_dim")  # no latent


def identity_translator() -> nn.Module:
    conv = nn.Conv2d(1, 1, 1)
    nn.init.ones_(conv.weight)
    nn.init.zeros_(conv.bias)
    return conv


def test_cycle_and_identity_losses_are_zero_for_identity_generators():
    model = tiny_cyclegan()
    model.generator.g_ab, model.generator.g_ba = identity_translator(), identity_translator()
    scalars = cycle_step(model, lr=0.0)(1, two_domains())
    assert scalars["cycle"] == 0 and scalars["identity"] == 0

    trained = tiny_cyclegan()
    scalars = cycle_step(trained)(1, two_domains())
    assert scalars["cycle"] > 0.05 and scalars["identity"] > 0.05


def test_one_step_moves_all_four_networks_and_fills_the_pools():
    model = tiny_cyclegan(pool_size=50)
    before = {k: v.clone() for k, v in model.state_dict().items() if isinstance(v, torch.Tensor)}
    batches = two_domains()
    scalars = cycle_step(model)(1, batches)
    assert {"d_loss", "g_loss", "d_real", "d_fake", "d_grad_norm", "g_grad_norm", "cycle"} <= set(scalars)
    assert all(torch.isfinite(v) for v in scalars.values())
    for net in ("generator.g_ab", "generator.g_ba", "discriminator.d_a", "discriminator.d_b"):
        assert any(
            not torch.equal(model.state_dict()[k], v) for k, v in before.items() if k.startswith(net)
        ), net
    assert len(model.discriminator.pool_a.replay.pool) == 8


def test_pools_travel_with_the_discriminator_state():
    model = tiny_cyclegan(pool_size=4)
    step = cycle_step(model)
    for i in range(3):
        step(i + 1, two_domains())
    rebuilt = tiny_cyclegan(pool_size=4)
    rebuilt.discriminator.load_state_dict(model.discriminator.state_dict())
    for pool in ("pool_a", "pool_b"):
        kept = getattr(model.discriminator, pool).replay.pool
        assert len(kept) == 4 and torch.equal(getattr(rebuilt.discriminator, pool).replay.pool, kept)


def test_one_domain_data_and_tricks_the_step_cannot_apply_are_refused(tmp_path):
    model = tiny_cyclegan()
    with pytest.raises(GanError, match="needs two-domain data"):
        cycle_step(model)(1, Batches(Data(torch.rand(8, *SHAPE)), 4, seed=0))
    cfg = tiny_config(tmp_path, "model=cyclegan", "dataset=mnist_domains", "trick=unrolled", "metrics=none")
    with pytest.raises(GanError, match="unrolled cannot act on cyclegan: it works through g_discriminator"):
        components.build(cfg, SHAPE, 0)


def losses(run_dir):
    return [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]


def test_training_writes_translation_grids_and_resumes_bit_for_bit(tmp_path):
    overrides = ["model=cyclegan", "dataset=mnist_domains", "loss=lsgan", "metrics=none", "model.pool_size=4"]
    cfg = tiny_config(tmp_path, *overrides, "train.steps=6", "checkpoint.every=3")
    train(cfg, tmp_path / "whole")
    assert (tmp_path / "whole" / "samples" / "final.png").is_file()
    parts, state = load_run(tmp_path / "whole" / "checkpoints" / "last.pt")
    a, b = torch.rand(10, *SHAPE) * 2 - 1, torch.rand(7, *SHAPE) * 2 - 1
    inputs = parts.inputs(4, torch.Generator().manual_seed(0), data=TwoDomainData(a, other=b))
    assert all(any(torch.equal(x, row) for row in a) for x in inputs["source"])  # drawn from domain A
    assert all(any(torch.equal(x, row) for row in b) for x in inputs["other"])
    assert len({tuple(x.flatten().tolist()) for x in inputs["source"]}) == 4  # distinct sources
    images, nrow = parts.model.picture(inputs)
    assert images.shape == (6 * 4, *SHAPE) and nrow == 4
    assert torch.equal(images[:4], inputs["source"]) and torch.equal(images[12:16], inputs["other"])
    assert torch.equal(parts.model.generate(inputs), parts.model.translate(inputs["source"], "AtoB"))
    with pytest.raises(GanError, match="cyclegan translates images"):  # gan sample has no data to translate
        sampling.draw(parts, 4, 0, torch.device("cpu"))
    # Checkpoints from when the grid's sources were buffers of G still load.
    legacy = {
        **parts.model.generator.state_dict(),
        "grid.a": a[:8],
        "grid.b": b[:7],
        "grid.filled": torch.tensor(True),
    }
    parts.model.generator.load_state_dict(legacy)

    half = tiny_config(tmp_path, *overrides, "train.steps=3", "checkpoint.every=3")
    train(half, tmp_path / "split")
    train(cfg, tmp_path / "split", resume=checkpoint.load(tmp_path / "split" / "checkpoints" / "last.pt"))
    keys = ("step", "d_loss", "g_loss", "cycle")
    assert [[r[k] for k in keys] for r in losses(tmp_path / "split")] == [
        [r[k] for k in keys] for r in losses(tmp_path / "whole")
    ]
