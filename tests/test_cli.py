"""The `gan` program as users run it: bad input is one line and exit 2; the happy paths work."""

import json

import numpy as np
import pytest

from tests.conftest import TINY_CLI_RUN, run_gan

TINY_RUN = [
    *TINY_CLI_RUN,
    "train.steps=4",
    "log.every=2",
    "sample.every=2",
    "sample.n=4",
    "checkpoint.every=2",
]


def assert_one_line_error(result, *fragments):
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr + result.stdout
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    for fragment in fragments:
        assert fragment in lines[0]


@pytest.mark.parametrize(
    "args,fragments",
    [
        (["train", "model=dcgn"], ["unknown model 'dcgn'", "did you mean 'dcgan'"]),
        (["train", "los=hinge"], ["unknown"]),
        (["train", "train.stepz=10"], ["unknown config key 'train.stepz'", "train.steps"]),
        (["train", "train.steps=[1"], ["error:"]),
        (["train", "-m", "trick=none,ganhax"], ["unknown trick 'ganhax'"]),
        (["train", "dataset=image_folder"], ["missing a value for dataset.path"]),
        (["train", "train.steps=abc"], ["train.steps must be an integer >= 1, got 'abc'"]),
        (
            ["train", "-m", "loss=ns,hinge", "trick=salimans2016"],
            ["label_smoothing needs a loss with targets"],
        ),
        (["train", "model.z_dim=big"], ["model 'dcgan': z_dim must be an integer >= 1, got 'big'"]),
        (["resume", "nowhere"], ["checkpoint not found"]),
        (["sample", "--ckpt", "nowhere.pt"], ["checkpoint not found"]),
        (["list", "modle"], ["unknown group 'modle'", "did you mean 'model'"]),
    ],
)
@pytest.mark.slow
def test_bad_input_is_one_clear_line(tmp_path, args, fragments):
    assert_one_line_error(run_gan(*args, cwd=tmp_path), *fragments)
    assert not (tmp_path / "outputs").exists()


@pytest.mark.slow
def test_an_unwritable_output_folder_is_one_line(tmp_path):
    (tmp_path / "outputs").write_text("a file where the runs folder should be")
    assert_one_line_error(run_gan("train", cwd=tmp_path), "cannot create the run folder")
    assert (tmp_path / "outputs").read_text().startswith("a file")


@pytest.mark.slow
def test_errors_found_while_training_are_one_line_too(tmp_path):
    result = run_gan("train", "dataset=image_folder", f"dataset.path={tmp_path / 'missing'}", cwd=tmp_path)
    assert_one_line_error(result, "image folder not found")
    (tmp_path / "not_a_ckpt.pt").write_text("hello")
    assert_one_line_error(run_gan("sample", "--ckpt", "not_a_ckpt.pt", cwd=tmp_path), "not a readable")


@pytest.mark.slow
def test_list_shows_every_group_with_descriptions(tmp_path):
    result = run_gan("list", cwd=tmp_path)
    assert result.returncode == 0
    for option in ("dcgan", "mlp", "wgan_gp", "ring8", "image_folder", "ganhacks", "Radford"):
        assert option in result.stdout


@pytest.mark.slow
def test_cfg_job_prints_the_composed_config_and_trains_nothing(tmp_path):
    result = run_gan("train", "--cfg", "job", "model=mlp", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "name: mlp" in result.stdout and "steps: 4000" in result.stdout
    assert not list(tmp_path.glob("outputs/*/*/checkpoints"))


@pytest.mark.slow
def test_train_then_sample_every_format(tmp_path):
    result = run_gan("train", *TINY_RUN, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    (run,) = tmp_path.glob("outputs/*/*")
    assert {"config.yaml", "overrides.yaml"} <= {p.name for p in (run / ".hydra").iterdir()}
    assert (run / "train.log").read_text().count("done: steps 0 to 4") == 1
    assert len((run / "metrics.jsonl").read_text().splitlines()) == 2
    ckpt = run / "checkpoints" / "last.pt"

    result = run_gan("sample", "--ckpt", str(ckpt), "-n", "6", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert (run / "samples" / "sample_n6_seed0.png").is_file()
    assert_one_line_error(run_gan("sample", "--ckpt", str(ckpt), "-n", "6", cwd=tmp_path), "already exists")

    def sample_npz(seed: str, out: str) -> np.ndarray:
        args = ["--ckpt", str(ckpt), "-n", "5", "--seed", seed, "--format", "npz", "--out", out]
        result = run_gan("sample", *args, cwd=tmp_path)
        assert result.returncode == 0, result.stderr
        return np.load(tmp_path / out)["images"]

    images = sample_npz("3", "s3.npz")
    assert images.shape == (5, 1, 16, 16) and images.dtype == np.float32
    assert -1 <= images.min() and images.max() <= 1
    assert not np.array_equal(images, sample_npz("4", "s4.npz"))
    assert np.array_equal(images, sample_npz("3", "again.npz"))

    assert (
        run_gan(
            "sample", "--ckpt", str(ckpt), "-n", "3", "--format", "png", "--out", "pngs", cwd=tmp_path
        ).returncode
        == 0
    )
    assert sorted(p.name for p in (tmp_path / "pngs").iterdir()) == ["0.png", "1.png", "2.png"]


@pytest.mark.slow
@pytest.mark.parametrize("launcher", ["basic", "joblib"])
def test_multirun_makes_one_folder_per_job(tmp_path, launcher):
    extra = ["hydra/launcher=joblib", "hydra.launcher.n_jobs=2"] if launcher == "joblib" else []
    result = run_gan("train", "-m", "trick=none,ganhacks", *TINY_RUN, *extra, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    (sweep,) = tmp_path.glob("outputs/multirun/*/*")
    jobs = sorted(p for p in sweep.iterdir() if p.is_dir())
    assert [p.name for p in jobs] == ["0", "1"]
    tricks = [(job / ".hydra" / "overrides.yaml").read_text() for job in jobs]
    assert "trick=none" in tricks[0] and "trick=ganhacks" in tricks[1]
    for job in jobs:
        last = json.loads((job / "metrics.jsonl").read_text().splitlines()[-1])
        assert last["step"] == 4 and (job / "checkpoints" / "last.pt").is_file()


def test_the_slurm_launcher_config_composes_onto_submitit():
    from hydra import compose as hydra_compose
    from hydra import initialize_config_dir

    from gan_cli.config import config_dir

    overrides = ["hydra/launcher=slurm", "hydra.launcher.partition=gpu"]
    with initialize_config_dir(config_dir=str(config_dir()), version_base="1.3"):
        cfg = hydra_compose("config", overrides=overrides, return_hydra_config=True)
    launcher = cfg.hydra.launcher
    assert launcher._target_.endswith("submitit_launcher.SlurmLauncher")
    assert (launcher.partition, launcher.timeout_min, launcher.gpus_per_node) == ("gpu", 240, 1)


def test_the_cli_loads_without_torch_so_help_and_refusals_are_instant():
    import subprocess
    import sys

    code = "import sys, gan_cli.cli; print(sorted(m for m in ('torch', 'numpy') if m in sys.modules))"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0 and result.stdout.strip() == "[]", result.stdout + result.stderr
