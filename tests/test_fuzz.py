"""Property tests: whatever a user types or points gan-cli at, the answer is a GanError
(one line, exit 2) or success — never another exception (which the CLI would show as a traceback)."""

import gzip
import io
import tempfile
from pathlib import Path

import pytest
import torch
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from gan_cli import sampling
from gan_cli.config import validate
from gan_cli.datasets.image_folder import image_folder
from gan_cli.datasets.mnist import read_idx
from gan_cli.errors import GanError
from gan_cli.training import checkpoint

KEYS = [
    "model",
    "loss",
    "dataset",
    "trick",
    "train.steps",
    "train.lr_g",
    "log.every",
    "model.z_dim",
    "trick.label_smoothing.real",
    "dataset.resolution",
    "seed",
    "device",
    "hydra/launcher",
    "experiment",
]
VALUES = st.one_of(
    st.sampled_from(
        ["dcgan", "mlp", "hinge", "ring8", "ganhacks", "none", "null", "true", "[1,2]", "{a: 1}"]
    ),
    st.integers(-5, 10**6).map(str),
    st.floats(allow_nan=True).map(str),
    st.text(max_size=12),
)
OVERRIDE = st.one_of(
    st.builds(
        lambda p, k, v: f"{p}{k}={v}", st.sampled_from(["", "+", "++", "~"]), st.sampled_from(KEYS), VALUES
    ),
    st.builds(lambda k, v: f"{k}={v}", st.text(max_size=10), st.text(max_size=10)),
    st.text(max_size=20),
)


def succeeds_or_says_one_line(action) -> None:
    """Run ``action``: success, or a GanError of one line; any other exception fails the test."""
    try:
        action()
    except GanError as err:
        assert str(err) and "\n" not in str(err)


FUZZ = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@pytest.mark.slow  # ~3 minutes of composing
@FUZZ
@given(overrides=st.lists(OVERRIDE, max_size=3), multirun=st.booleans())
@example(overrides=["model=dcgan", "dataset=", "~dataset="], multirun=False)  # found by this test
def test_any_overrides_compose_or_fail_with_one_gan_error(overrides, multirun):
    succeeds_or_says_one_line(lambda: validate(overrides, multirun))


@pytest.mark.parametrize("removed", ["~dataset", "~model", "~loss"])
def test_a_removed_group_is_one_line_naming_it(removed):
    with pytest.raises(GanError, match=f"{removed[1:]} .*choose one with {removed[1:]}=NAME"):
        validate([removed], False)


def random_checkpoints():
    valid = io.BytesIO()
    torch.save(
        {
            "format_version": 1,
            "config": {},
            "data_shape": [2],
            "step": 1,
            "generator": {},
            "discriminator": {},
        },
        valid,
    )
    good = valid.getvalue()
    return st.one_of(
        st.binary(max_size=2048),
        st.integers(0, len(good)).map(lambda n: good[:n]),
        st.tuples(st.integers(0, len(good) - 1), st.integers(0, 255)).map(
            lambda p: good[: p[0]] + bytes([p[1]]) + good[p[0] + 1 :]
        ),
    )


@FUZZ
@given(content=random_checkpoints())
def test_any_file_given_as_a_checkpoint_loads_or_fails_with_one_gan_error(content):
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "x.pt"
        path.write_bytes(content)
        succeeds_or_says_one_line(lambda: sampling.load_run(path))
        succeeds_or_says_one_line(lambda: checkpoint.load(path))


@FUZZ
@given(content=st.binary(max_size=4096), compressed=st.booleans())
def test_any_file_given_as_idx_parses_or_fails_with_one_gan_error(content, compressed):
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / ("x.gz" if compressed else "x")
        path.write_bytes(gzip.compress(content) if compressed else content)
        succeeds_or_says_one_line(lambda: read_idx(path))


@FUZZ
@given(
    files=st.lists(st.binary(max_size=512), min_size=1, max_size=3),
    suffix=st.sampled_from([".png", ".jpg", ".gif", ".webp"]),
)
def test_any_image_folder_loads_or_fails_with_one_gan_error(files, suffix):
    with tempfile.TemporaryDirectory() as folder:
        for i, content in enumerate(files):
            (Path(folder) / f"{i}{suffix}").write_bytes(content)
        succeeds_or_says_one_line(lambda: image_folder(folder, resolution=8))
