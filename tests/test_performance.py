"""The speed settings (config ``trainer:``) and ``gan bench``: what each switch does, and that
mixed precision changes results only by rounding noise."""

import contextlib
import json

import pytest
import torch

from gan_cli.commands.bench import flops_per_image
from gan_cli.errors import GanError
from gan_cli.training.loop import train
from gan_cli.training.performance import Performance
from tests.conftest import TINY_CLI_RUN, run_gan, tiny_config, tiny_dcgan

AUTO = {
    "precision": "auto",
    "channels_last": "auto",
    "fused_adam": "auto",
    "compile": False,
    "cudnn_benchmark": True,
}


def test_auto_is_plain_on_the_cpu():
    speed = Performance.from_config(AUTO, torch.device("cpu"))
    assert (speed.precision, speed.channels_last, speed.fused_adam, speed.compile) == (
        "fp32",
        False,
        False,
        False,
    )
    assert isinstance(speed.autocast(), contextlib.nullcontext)
    assert speed.grad_scaler() is None


def test_fp16_needs_a_gpu():
    with pytest.raises(GanError, match="fp16 needs a CUDA device"):
        Performance.from_config({**AUTO, "precision": "fp16"}, torch.device("cpu"))


@pytest.mark.slow
def test_channels_last_and_compile_keep_the_checkpoint_layout():
    model = tiny_dcgan()
    keys = list(model.state_dict())
    Performance(torch.device("cpu"), "fp32", channels_last=True, fused_adam=False, compile=True).prepare(
        model
    )
    assert list(model.state_dict()) == keys  # checkpoints stay loadable either way
    conv = next(m for m in model.discriminator.modules() if isinstance(m, torch.nn.Conv2d))
    assert conv.weight.is_contiguous(memory_format=torch.channels_last)


def test_model_flops_grow_with_the_width_of_the_networks(tmp_path):
    cfg = tiny_config(tmp_path)
    narrow = flops_per_image(cfg)
    cfg["model"].update(g_channels=8, d_channels=8)  # twice the tiny config's 4
    wide = flops_per_image(cfg)
    assert 0 < narrow and 2.5 < wide / narrow < 4.5  # conv FLOPs scale with channels squared


@pytest.mark.parametrize("model", ["stylegan", "progan", "biggan"])
def test_every_family_has_its_flops_counted(tmp_path, model):
    # StyleGAN's constant input once broke PyTorch's FLOP counter (a view of a parameter).
    assert flops_per_image(tiny_config(tmp_path, f"model={model}")) > 0


def losses(tmp_path, name: str, *overrides: str) -> list[float]:
    cfg = tiny_config(tmp_path, "train.steps=6", "log.every=1", *overrides)
    train(cfg, tmp_path / name)
    lines = (tmp_path / name / "metrics.jsonl").read_text().splitlines()
    return [json.loads(line)["d_loss"] for line in lines]


def test_bf16_autocast_changes_losses_only_by_rounding(tmp_path):
    plain = losses(tmp_path, "fp32", "trainer.precision=fp32")
    mixed = losses(tmp_path, "bf16", "trainer.precision=bf16")
    assert plain != mixed  # autocast really ran in bf16
    assert mixed == pytest.approx(plain, rel=0.03)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
@pytest.mark.parametrize("precision", ["bf16", "fp16"])
def test_mixed_precision_on_the_gpu_matches_fp32(tmp_path, precision):
    plain = losses(tmp_path, "fp32", "device=cuda", "trainer.precision=fp32", "trainer.channels_last=off")
    mixed = losses(tmp_path, precision, "device=cuda", f"trainer.precision={precision}")
    assert mixed == pytest.approx(plain, rel=0.05)


@pytest.mark.slow
def test_bench_compares_with_plain_eager_and_writes_json(tmp_path):
    args = ["bench", "--compare", "--steps", "2", "--warmup", "2", "--repeats", "2", "--json", "bench.json"]
    result = run_gan(*args, *TINY_CLI_RUN, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "plain eager fp32" in result.stdout and "speed-up" in result.stdout
    saved = json.loads((tmp_path / "bench.json").read_text())
    assert set(saved["results"]) == {"as configured", "plain eager fp32"}
    for r in saved["results"].values():
        assert r["images_per_sec"] > 0 and r["steps_per_sec"] > 0 and r["peak_memory_mb"] > 0
        assert r["tflops_per_sec"] == pytest.approx(r["gflops_per_image"] * r["images_per_sec"] / 1000)
    assert not list(tmp_path.glob("outputs"))  # benchmark runs leave no run folders
    again = run_gan(*args, *TINY_CLI_RUN, cwd=tmp_path)
    assert again.returncode == 2 and "already exists" in again.stderr


def test_the_unrolled_look_ahead_is_counted(tmp_path):
    # The look-ahead reads D's optimizer, which the counted step must be configured with.
    plain = flops_per_image(tiny_config(tmp_path))
    unrolled = flops_per_image(tiny_config(tmp_path, "trick=unrolled", "trick.unrolled.k=2"))
    assert unrolled > 1.5 * plain


def test_a_step_the_flop_counter_cannot_follow_counts_as_unknown(tmp_path):
    # PyTorch's counter refuses the double backward of a gradient penalty; bench goes on without FLOPs.
    assert flops_per_image(tiny_config(tmp_path, "model=mlp", "dataset=ring8", "trick=wgan_gp")) is None
