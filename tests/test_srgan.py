"""SRGAN: the networks, the content losses, PSNR/SSIM, a training run, and `gan upscale`."""

import json
import math

import numpy as np
import pytest
import torch
from PIL import Image

from gan_cli import components, sampling
from gan_cli.commands.upscale import tiled, upscale
from gan_cli.datasets.base import Batches, Data
from gan_cli.errors import GanError
from gan_cli.metrics import classifier
from gan_cli.metrics.base import Evaluation
from gan_cli.metrics.psnr_ssim import luminance, psnr, ssim
from gan_cli.models.inputs import Inputs
from gan_cli.models.srgan import VGG19_LAYERS, downsample, vgg19_features
from gan_cli.registry import METRICS, MODELS
from gan_cli.training.loop import train
from tests.conftest import split_and_whole_losses, tiny_config

TINY = {"name": "srgan", "g_channels": 4, "g_blocks": 1, "d_channels": 4, "d_dense": 8, "content": "l1"}


def tiny_srgan(shape=(1, 16, 16), **params):
    return MODELS.build({**TINY, **params}, data_shape=shape, num_classes=10)


@pytest.mark.parametrize("scale", [2, 4, 8])
def test_g_upscales_by_its_scale_and_d_scores_each_image(scale):
    model = tiny_srgan((3, 32, 32), scale=scale)
    low = torch.rand(2, 3, 32 // scale, 32 // scale) * 2 - 1
    high = model.generator(low)
    assert high.shape == (2, 3, 32, 32) and high.abs().max() <= 1
    assert model.discriminator(high).shape == (2,)
    assert sum(isinstance(m, torch.nn.PixelShuffle) for m in model.generator.modules()) == int(
        math.log2(scale)
    )


def test_downsampling_is_antialiased_bicubic_and_keeps_flat_images_flat():
    flat = torch.full((1, 1, 16, 16), 0.3)
    assert torch.allclose(downsample(flat, 4), torch.full((1, 1, 4, 4), 0.3), atol=1e-6)
    stripes = torch.ones(1, 1, 16, 16)
    stripes[..., ::2] = -1  # the highest frequency: antialiasing averages it away, sampling would not
    assert downsample(stripes, 4).abs().max() < 0.1


def test_settings_that_cannot_work_are_refused_in_one_line(tmp_path):
    with pytest.raises(GanError, match="divides by scale=8"):
        tiny_srgan((1, 28, 28), scale=8)
    with pytest.raises(GanError, match="needs labelled data"):
        MODELS.build({**TINY, "content": "classifier"}, data_shape=(1, 16, 16), num_classes=0)
    with pytest.raises(GanError, match="needs model.vgg_weights.*nothing is downloaded"):
        tiny_srgan(content="vgg19", vgg_weights=str(tmp_path / "missing.pth"))
    bad = tmp_path / "bad.pth"
    torch.save({"features.0.weight": torch.zeros(3)}, bad)
    with pytest.raises(GanError, match="not torchvision's VGG19 weights"):
        vgg19_features(str(bad))


def vgg_weights_file(path):
    """A file laid out as torchvision's vgg19 state dict (random weights), classifier included."""
    state, index, c_in = {}, 0, 3
    for spec in VGG19_LAYERS:
        if spec != "M":
            state[f"features.{index}.weight"] = torch.randn(spec, c_in, 3, 3) * 0.05
            state[f"features.{index}.bias"] = torch.zeros(spec)
            c_in, index = spec, index + 1
        index += 1
    state["classifier.0.weight"] = torch.zeros(4, 4)
    torch.save(state, path)
    return str(path)


@pytest.mark.parametrize("content", ["l1", "l2", "vgg19", "classifier"])
def test_each_content_loss_is_zero_on_the_target_and_moves_g_towards_it(
    content, tmp_path, digits, root, monkeypatch
):
    monkeypatch.setattr(classifier, "STEPS", 30)
    params = {"content": content}
    if content == "vgg19":
        params["vgg_weights"] = vgg_weights_file(tmp_path / "vgg19.pth")
    model = tiny_srgan((1, 32, 32), **params)
    model.prepare(Data(digits.samples[:600], digits.labels[:600], 10, "600 digits"), root)
    target = digits.samples[:4]
    fake = (target + 0.3 * torch.randn_like(target)).clamp(-1, 1).requires_grad_()
    assert model.content_loss(target, target).item() == pytest.approx(0.0, abs=1e-6)
    loss = model.content_loss(fake, target)
    assert loss.item() > 1e-4
    loss.backward()
    assert fake.grad.abs().sum() > 0
    if content == "l1":
        assert loss.item() == pytest.approx((fake - target).abs().mean().item())
    assert not [k for k in model.state_dict() if "content" in k]  # the feature network is not saved


def test_one_step_trains_d_and_g_on_content_plus_weighted_adversarial(tmp_path):
    for weight in (1e-3, 0.0):
        parts = components.build(
            tiny_config(tmp_path, "model=srgan", f"model.adversarial_weight={weight}"), (1, 16, 16), 0
        )
        model = parts.model
        g_opt = torch.optim.Adam(model.generator.parameters(), lr=1e-3)
        d_opt = torch.optim.Adam(model.discriminator.parameters(), lr=1e-3)
        step = model.step_class(model, parts.loss, parts.tricks, g_opt, d_opt, parts.latent)
        scalars = step(1, Batches(Data(torch.rand(16, 1, 16, 16) * 2 - 1), 8, seed=0))
        g_minus_content = (scalars["g_loss"] - scalars["content"]).item()
        if weight:
            assert g_minus_content > 0  # the non-saturating adversarial term, weighted
        else:
            assert g_minus_content == 0  # SRResNet: the content loss alone


def test_psnr_and_ssim_match_their_definitions():
    a = torch.zeros(2, 1, 16, 16)
    b = a + 0.2  # in [-1, 1]: 0.1 in [0, 1]
    assert psnr(luminance(a), luminance(b)).tolist() == pytest.approx(
        [20.0, 20.0], abs=1e-4
    )  # 10 log10(1 / 0.01)
    x = luminance(torch.rand(3, 1, 24, 24) * 2 - 1)
    assert ssim(x, x).tolist() == pytest.approx([1.0] * 3, abs=1e-5)
    noisy = (x + 0.2 * torch.randn_like(x)).clamp(0, 1)
    assert (ssim(x, noisy) < 0.9).all()
    grey = torch.full((1, 3, 4, 4), 0.2)
    tinted = grey.clone()
    # Equal luminance, other chroma: +R, and the G change that cancels it in Y.
    tinted[:, 0] += 0.1
    tinted[:, 1] -= 0.1 * 65.481 / 128.553
    assert torch.allclose(luminance(grey), luminance(tinted), atol=1e-6)


def test_the_metric_scores_against_targets_with_bicubic_beside_and_applies_only_with_targets():
    metric = METRICS.build({"name": "psnr_ssim"})
    targets = torch.rand(6, 1, 16, 16) * 2 - 1
    low = downsample(targets, 2)
    record = metric(Evaluation(targets, Data(targets), inputs=Inputs({"low_res": low}), targets=targets))
    assert record["psnr"] > 100 and record["ssim"] == pytest.approx(1.0)
    assert 0 < record["psnr_bicubic"] < 30 and record["ssim_bicubic"] < 1
    assert set(metric(Evaluation(targets, Data(targets), targets=targets.flip(0)))) == {"psnr", "ssim"}
    assert metric(Evaluation(targets, Data(targets))) == {}


def test_tiles_upscale_as_the_whole_image_does():
    model = tiny_srgan((1, 16, 16), scale=2).eval()
    x = torch.rand(1, 1, 37, 23) * 2 - 1
    with torch.no_grad():
        whole = model.generator(x)
        parts = tiled(model.generator, x, scale=2, tile=10, overlap=16)
    assert parts.shape == (1, 1, 74, 46)
    assert torch.allclose(parts, whole, atol=1e-5)


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("srgan")
    cfg = tiny_config(tmp, "model=srgan", "dataset.limit=9000", "eval.n=64", "eval.every=4")
    cfg["metrics"] = {"psnr_ssim": {}}
    train(cfg, tmp / "run")
    return tmp / "run"


def test_training_scores_held_out_images_and_grids_show_input_output_target(run):
    records = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    scored = [r for r in records if "psnr" in r]
    assert scored and {"psnr", "ssim", "psnr_bicubic", "ssim_bicubic"} <= set(scored[-1])
    with Image.open(run / "samples" / "final.png") as grid:
        assert grid.size == (2 + 4 * 18, 2 + 3 * 18)  # sample.n=4 columns; rows: input, output, target
    parts, _ = sampling.load_run(run / "checkpoints" / "last.pt")
    with pytest.raises(GanError, match="srgan upscales images.*gan upscale"):
        sampling.draw(parts, 4, 0, torch.device("cpu"))


def test_upscale_writes_each_image_scale_times_larger_and_refuses_what_it_cannot_do(run, tmp_path):
    src = tmp_path / "in"
    (src / "sub").mkdir(parents=True)
    Image.fromarray(np.full((5, 7), 200, np.uint8)).save(src / "a.png")
    Image.fromarray(np.zeros((9, 3, 3), np.uint8)).save(src / "sub" / "b.jpg")
    written = upscale(run, src, tmp_path / "out", "cpu", True, tile=4)
    assert sorted(p.relative_to(tmp_path / "out").as_posix() for p in written) == ["a.png", "sub/b.png"]
    with Image.open(tmp_path / "out" / "a.png") as a, Image.open(tmp_path / "out" / "sub" / "b.png") as b:
        assert a.size == (28, 20) and b.size == (12, 36) and a.mode == "L"
    with pytest.raises(GanError, match="already exists"):
        upscale(run, src, tmp_path / "out", "cpu", True, tile=4)
    (tmp_path / "broken").mkdir()
    (tmp_path / "broken" / "x.png").write_bytes(b"not an image")
    with pytest.raises(GanError, match="cannot read .*x.png"):
        upscale(run, tmp_path / "broken", tmp_path / "out2", "cpu", True, tile=4)
    assert not (tmp_path / "out2").exists()  # nothing written when an input is unreadable
    with pytest.raises(GanError, match="--tile must be a positive"):
        upscale(run, src, tmp_path / "out3", "cpu", True, tile=0)


def test_upscale_refuses_a_model_that_does_not_upscale(tmp_path):
    cfg = tiny_config(tmp_path)
    train(cfg, tmp_path / "dcgan")
    Image.fromarray(np.zeros((8, 8), np.uint8)).save(tmp_path / "x.png")
    with pytest.raises(GanError, match="holds a dcgan model, which does not upscale"):
        upscale(tmp_path / "dcgan", tmp_path / "x.png", tmp_path / "out", "cpu", True, tile=64)


def test_esrgan_s_relativistic_d_trains_through_the_same_step(tmp_path):
    parts = components.build(tiny_config(tmp_path, "model=srgan", "loss=ragan"), (1, 16, 16), 0)
    model = parts.model
    g_opt = torch.optim.Adam(model.generator.parameters(), lr=1e-3)
    d_opt = torch.optim.Adam(model.discriminator.parameters(), lr=1e-3)
    step = model.step_class(model, parts.loss, parts.tricks, g_opt, d_opt, parts.latent)
    scalars = step(1, Batches(Data(torch.rand(16, 1, 16, 16) * 2 - 1), 8, seed=0))
    assert parts.loss.g_uses_real and torch.isfinite(scalars["g_loss"]) and scalars["g_grad_norm"] > 0


def test_a_resumed_run_matches_the_uninterrupted_one(tmp_path):
    split, whole = split_and_whole_losses(tmp_path, "srgan", "content")
    assert split == whole and len(whole) == 6


def test_the_readme_s_upscale_command_works_and_refuses_in_one_line(run, tmp_path, gan):
    Image.fromarray(np.full((6, 6), 90, np.uint8)).save(tmp_path / "small.png")
    done = gan(
        "upscale", "--ckpt", str(run), "--input", str(tmp_path / "small.png"), "--out", str(tmp_path / "big")
    )
    assert done.exit_code == 0 and "upscaled 1 image(s)" in done.out, done.output
    with Image.open(tmp_path / "big" / "small.png") as big:
        assert big.size == (24, 24)
    missing = gan(
        "upscale", "--ckpt", str(run), "--input", str(tmp_path / "nowhere"), "--out", str(tmp_path / "x")
    )
    assert missing.exit_code == 2 and missing.err.count("\n") == 1 and "input not found" in missing.err
