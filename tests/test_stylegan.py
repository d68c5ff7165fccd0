"""StyleGAN: mapping network and tracked mean w, styles per layer (AdaIN, modulated and
demodulated convolutions), noise inputs, style mixing, truncation in W, the mixing grid and
checkpoints that keep the mean w."""

import pytest
import torch
import torch.nn.functional as F
from PIL import Image

from gan_cli import components, sampling
from gan_cli.config import compose, resolve
from gan_cli.errors import GanError
from gan_cli.models.inputs import Inputs
from gan_cli.models.stylegan import StyleLayer, modulated_conv
from gan_cli.registry import MODELS
from gan_cli.training.loop import train
from tests.conftest import TINY_CLI_RUN, run_gan, tiny_config

SHAPE = (1, 16, 16)  # 3 levels: 6 styles


def tiny_stylegan(shape=SHAPE, **params):
    cfg = {
        "name": "stylegan",
        "z_dim": 8,
        "w_dim": 8,
        "mapping_layers": 2,
        "channel_base": 64,
        "channel_max": 8,
    }
    return MODELS.build({**cfg, **params}, data_shape=shape)


@pytest.mark.parametrize("style", ["adain", "modulated", "demodulated"])
@pytest.mark.parametrize("shape", [(1, 8, 8), (3, 16, 16)])
def test_every_style_makes_and_scores_images_of_the_data_s_shape(style, shape):
    model = tiny_stylegan(shape, style=style)
    fake = model.generator(torch.randn(5, 8))
    assert fake.shape == (5, *shape)
    assert model.discriminator(fake).shape == (5,)
    assert model.generator.synthesis.num_styles == 2 * (shape[1].bit_length() - 2)
    fake.mean().backward()
    assert all(p.grad is not None for p in model.generator.synthesis.layers.parameters())


def test_mapping_network_tracks_the_mean_w_while_training_only():
    model = tiny_stylegan(w_avg_beta=0.5)
    mapping = model.generator.mapping
    z = torch.randn(64, 8)
    w = mapping(z)
    assert torch.allclose(mapping.w_avg, 0.5 * w.detach().mean(0))
    mapping.eval()
    mapping(torch.randn(64, 8))
    assert torch.allclose(mapping.w_avg, 0.5 * w.detach().mean(0))  # unchanged while sampling
    assert mapping.layers[0].lr_mul == 0.01 and mapping.layers[0].weight.std() > 10  # 1/100 learning rate


def test_truncation_pulls_w_to_the_tracked_mean_and_leaves_z_alone(tmp_path):
    parts = components.build(tiny_config(tmp_path, "model=stylegan"), SHAPE, 0)
    model = parts.model
    model.generator.mapping.w_avg.normal_()
    z = parts.latent(6, "cpu", torch.Generator().manual_seed(1), truncation=0.5)
    assert torch.equal(z, parts.latent(6, "cpu", torch.Generator().manual_seed(1)))  # not redrawn
    assert z.abs().max() > 0.5
    model.eval()
    w, mean = model.generator.mapping(z), model.generator.mapping.w_avg
    styles = model.generator.styles(z, truncation=0.7)
    assert torch.allclose(styles[:, 3], mean + 0.7 * (w - mean), atol=1e-6)
    at_mean = sampling.generate(model, Inputs({"z": z}), truncation=1e-6)
    assert torch.allclose(at_mean, at_mean[:1].expand_as(at_mean), atol=1e-4)  # ψ -> 0: the mean image
    assert torch.equal(
        sampling.generate(model, Inputs({"z": z}), truncation=1.0), sampling.generate(model, Inputs({"z": z}))
    )
    assert not torch.allclose(
        sampling.generate(model, Inputs({"z": z}), truncation=0.5), sampling.generate(model, Inputs({"z": z}))
    )


def test_style_mixing_switches_latents_at_one_random_layer_per_sample_while_training():
    model = tiny_stylegan(mixing_prob=1.0)
    G = model.generator
    styles = G.styles(torch.randn(200, 8))
    changes = (styles[:, 1:] != styles[:, :-1]).any(-1).sum(1)
    assert (changes == 1).all()  # every sample: one crossover, from its own w to the other's
    cut = (styles[:, 1:] != styles[:, :-1]).any(-1).float().argmax(1) + 1
    assert set(cut.tolist()) == set(range(1, G.synthesis.num_styles))
    G.mixing_prob = 0.0
    styles = G.styles(torch.randn(10, 8))
    assert (styles == styles[:, :1]).all()
    G.mixing_prob = 1.0
    G.eval()
    styles = G.styles(torch.randn(10, 8))
    assert (styles == styles[:, :1]).all()  # never when sampling


def test_noise_varies_in_training_and_is_fixed_for_sampling():
    model = tiny_stylegan(mixing_prob=0.0)
    for layer in model.generator.synthesis.layers:
        layer.noise_strength.data.fill_(1.0)
    z = torch.randn(3, 8)
    assert not torch.equal(model.generator(z), model.generator(z))
    model.eval()
    assert torch.equal(model.generator(z), model.generator(z))
    assert torch.allclose(model.generator(z[:1]), model.generator(z)[:1], atol=1e-5)  # per sample


def test_modulated_convolution_equals_per_sample_weights_and_demodulation_unit_norms():
    x, weight, styles = torch.randn(3, 5, 6, 6), torch.randn(4, 5, 3, 3), torch.randn(3, 5)
    for demodulate in (False, True):
        expected = []
        for xi, si in zip(x, styles):
            w = weight * si[None, :, None, None]
            if demodulate:
                w = w / w.pow(2).sum((1, 2, 3), keepdim=True).sqrt()
            expected.append(F.conv2d(xi[None], w, padding=1))
        assert torch.allclose(modulated_conv(x, weight, styles, demodulate), torch.cat(expected), atol=1e-5)


def test_adain_gives_each_map_the_style_s_mean_and_scale():
    layer = StyleLayer(4, 6, 8, resolution=8, up=False, style="adain")
    layer.affine.bias.data.normal_()
    w = torch.randn(2, 8)
    out = layer(torch.randn(2, 4, 8, 8), w)
    scale, shift = layer.affine(w).chunk(2, dim=1)
    assert torch.allclose(out.mean((2, 3)), shift, atol=1e-4)
    assert torch.allclose(out.std((2, 3), unbiased=False), (1 + scale).abs(), atol=1e-3)


def test_mixing_a_latent_with_itself_is_that_latent_s_image():
    model = tiny_stylegan()
    model.eval()
    z = torch.randn(3, 8)
    with torch.no_grad():
        mixes = model.mix(z, z).view(3, 3, *SHAPE)
        images = model.generate(Inputs({"z": z}))
        assert torch.allclose(mixes.diagonal(dim1=0, dim2=1).movedim(-1, 0), images, atol=1e-5)
        other = torch.randn(2, 8)
        coarse_from_z = model.mix(z, other).view(3, 2, *SHAPE)
        assert not torch.allclose(coarse_from_z[:, 0], images, atol=1e-3)


def test_bad_options_are_refused():
    with pytest.raises(
        GanError,
        match="^model 'stylegan': style must be one of adain, modulated, demodulated, got 'adaptive'$",
    ):
        tiny_stylegan(style="adaptive")
    with pytest.raises(GanError, match="power-of-two"):
        tiny_stylegan((1, 24, 24))


@pytest.mark.slow
def test_trick_set_and_presets_choose_the_paper_s_recipe():
    cfg = resolve(compose(["model=stylegan", "trick=stylegan"]))
    assert cfg["loss"]["name"] == "ns" and cfg["trick"]["r1"]["every"] == 16 and "ema" in cfg["trick"]
    for preset, size in (("stylegan64", 64), ("stylegan256", 256)):
        cfg = resolve(compose([f"+experiment={preset}", "dataset.path=/faces"]))
        assert (cfg["model"]["name"], cfg["dataset"]["resolution"]) == ("stylegan", size)
        assert cfg["model"]["mapping_layers"] == 8 and cfg["train"]["betas"] == [0.0, 0.99]
    assert resolve(compose(["+experiment=stylegan_mnist"]))["model"]["name"] == "stylegan"


@pytest.mark.slow
def test_a_trained_checkpoint_keeps_the_mean_w_and_samples_truncated_and_mixed(tmp_path):
    cfg = tiny_config(tmp_path, "model=stylegan", "trick=stylegan")
    train(cfg, tmp_path / "run")
    ckpt = tmp_path / "run" / "checkpoints" / "last.pt"
    parts, state = sampling.load_run(ckpt)
    w_avg = parts.model.generator.mapping.w_avg
    assert w_avg.abs().sum() > 0 and torch.equal(w_avg, state["generator"]["mapping.w_avg"])
    assert torch.equal(parts.model.ema_generator.mapping.w_avg, w_avg)
    device = torch.device("cpu")
    assert torch.equal(sampling.draw(parts, 4, 0, device, 0.7), sampling.draw(parts, 4, 0, device, 0.7))
    grid, side = sampling.mixing_grid(parts, 9, 0, device)
    assert (grid.shape, side) == ((16, *SHAPE), 4)
    assert torch.equal(grid[0], torch.ones(SHAPE))  # the blank corner
    assert torch.equal(grid[1:4], sampling.draw(parts, 3, 1, device))  # column sources: seed + 1
    assert torch.equal(grid[4::4], sampling.draw(parts, 3, 0, device))  # row sources: seed


def test_mixing_grid_needs_a_style_based_model(tmp_path):
    parts = components.build(tiny_config(tmp_path, "model=dcgan"), SHAPE, 0)
    with pytest.raises(GanError, match="--mix needs a style-based model"):
        sampling.mixing_grid(parts, 4, 0, torch.device("cpu"))


@pytest.mark.slow
def test_gan_sample_mix_and_truncation_through_the_cli(tmp_path):
    small = ["model.w_dim=8", "model.mapping_layers=2", "model.channel_base=64", "model.channel_max=8"]
    tiny = [o for o in TINY_CLI_RUN if not o.startswith("model.")] + ["model.z_dim=8", *small]
    trained = run_gan(
        "train", "model=stylegan", "trick=stylegan", *tiny, "train.steps=2", "metrics=none",
        "log.progress=false", "hydra.run.dir=run", cwd=tmp_path,
    )  # fmt: skip
    assert trained.returncode == 0, trained.stderr
    ckpt = str(tmp_path / "run" / "checkpoints" / "last.pt")
    mixed = run_gan("sample", "--ckpt", ckpt, "--mix", "-n", "4", "--truncation", "0.7", cwd=tmp_path)
    assert mixed.returncode == 0, mixed.stderr
    picture = Image.open(tmp_path / "run" / "samples" / "mix_n4_seed0.png")
    assert picture.size[0] == picture.size[1] > 3 * 16  # 3 × 3 tiles: corner, 2 sources, 2 × 2 mixes
    refused = run_gan("sample", "--ckpt", ckpt, "--mix", "--format", "npz", cwd=tmp_path)
    assert refused.returncode == 2 and "--mix writes one grid" in refused.stderr
    assert run_gan("sample", "--ckpt", ckpt, "--truncation", "0.7", cwd=tmp_path).returncode == 0
