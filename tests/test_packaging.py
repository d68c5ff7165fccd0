"""A non-editable install carries the config tree and the bundled MNIST split."""

import subprocess
import sys
import zipfile

import pytest

from tests.conftest import REPO


@pytest.mark.slow
def test_wheel_ships_conf_and_assets_and_finds_them_when_installed(tmp_path):
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "-w",
            str(tmp_path),
            str(REPO),
        ],
        check=True,
        capture_output=True,
    )
    (wheel,) = tmp_path.glob("gan_cli-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    for path in (
        "gan_cli/conf/config.yaml",
        "gan_cli/conf/model/dcgan.yaml",
        "gan_cli/conf/hydra/job_logging/rich.yaml",
        "gan_cli/assets/mnist/t10k-images-idx3-ubyte.gz",
    ):
        assert path in names
    target = tmp_path / "site"
    zipfile.ZipFile(wheel).extractall(target)
    probe = "from gan_cli.config import config_dir, compose; print(config_dir()); print(compose([])['model']['name'])"
    result = subprocess.run(
        [sys.executable, "-c", probe],
        cwd=tmp_path,
        env={"PYTHONPATH": str(target)},
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == [str(target / "gan_cli" / "conf"), "dcgan"]
