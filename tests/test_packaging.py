"""A non-editable install carries every module, the config tree and the bundled MNIST split.

The wheel is built as ``pip install .`` builds it and imported from where it was unpacked, in a
process that cannot see the source checkout, so a module or sub-package the build leaves out
fails here (``.ci/run`` also installs it into a fresh virtual environment and runs it).
"""

import subprocess
import sys
import zipfile

import pytest

from tests.conftest import REPO

# Imports every module of the package it finds on disk and prints where the package lives.
IMPORT_ALL = """
import importlib, pkgutil, gan_cli
names = [m.name for m in pkgutil.walk_packages(gan_cli.__path__, 'gan_cli.') if not m.name.endswith('__main__')]
for name in names:
    importlib.import_module(name)
print(gan_cli.__file__)
print(len(names))
"""


@pytest.fixture(scope="module")
def unpacked_wheel(tmp_path_factory):
    out = tmp_path_factory.mktemp("wheel")
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
            str(out),
            str(REPO),
        ],
        check=True,
        capture_output=True,
    )
    (wheel,) = out.glob("gan_cli-*.whl")
    site = out / "site"
    zipfile.ZipFile(wheel).extractall(site)
    return wheel, site


def python_from(site, code: str, cwd) -> subprocess.CompletedProcess:
    """``python -c code`` in ``cwd`` seeing only ``site`` (the unpacked wheel) on its path."""
    return subprocess.run(
        [sys.executable, "-c", code], cwd=cwd, env={"PYTHONPATH": str(site)}, capture_output=True, text=True
    )


def source_modules() -> set[str]:
    """Every module of the source tree, as a wheel path."""
    return {
        str(p.relative_to(REPO)) for p in (REPO / "gan_cli").rglob("*.py") if "__pycache__" not in p.parts
    }


@pytest.mark.slow
def test_the_wheel_holds_every_module_conf_and_asset(unpacked_wheel):
    wheel, _ = unpacked_wheel
    names = set(zipfile.ZipFile(wheel).namelist())
    assert source_modules() <= names
    conf = {f"gan_cli/{p.relative_to(REPO)}" for p in (REPO / "conf").rglob("*.yaml")}
    assert conf <= names
    assets = {str(p.relative_to(REPO)) for p in (REPO / "gan_cli" / "assets").rglob("*") if p.is_file()}
    assert assets and assets <= names


@pytest.mark.slow
def test_every_module_imports_from_the_unpacked_wheel_alone(unpacked_wheel, tmp_path):
    _, site = unpacked_wheel
    result = python_from(site, IMPORT_ALL, tmp_path)
    assert result.returncode == 0, result.stderr
    location, count = result.stdout.split()
    assert location == str(site / "gan_cli" / "__init__.py")  # not the source checkout
    assert int(count) == len(source_modules()) - 2  # all but gan_cli/__init__ and __main__


@pytest.mark.slow
def test_the_installed_package_finds_its_config_tree(unpacked_wheel, tmp_path):
    _, site = unpacked_wheel
    probe = "from gan_cli.config import config_dir, compose; print(config_dir()); print(compose([])['model']['name'])"
    result = python_from(site, probe, tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == [str(site / "gan_cli" / "conf"), "dcgan"]


def test_ci_runs_the_readme_quickstart_commands_as_written():
    """The README's install and test commands are exactly what CI runs (a promise in the README
    is a test)."""
    readme = (REPO / "README.md").read_text()
    quickstart = readme[readme.index("## Quickstart") : readme.index("## Using it")]
    commands = [line for line in quickstart.splitlines() if line.startswith("pip install")]
    ci = {line.strip() for line in (REPO / ".ci" / "run").read_text().splitlines()}
    assert len(commands) == 2
    assert {c.removesuffix(" && gan train") for c in commands} <= ci
