"""Whether a model, a loss and a trick set can train together is decided once, at compose time:
``components.check`` builds them on the meta device for the shape the dataset's parameters
promise (``promises`` beside each loader, ``gan_cli/datasets/base.py``), so ``gan train`` refuses a combination in one line, exit 2,
before any run folder exists — and training builds through the same function."""

import numpy as np
import pytest
from PIL import Image

from gan_cli.datasets.base import data_spec
from gan_cli.registry import DATASETS
from gan_cli.training.loop import load_data
from tests.conftest import TINY_DATASETS, tiny_config
from tests.test_values import assert_refused

# Each was refused only once training had built its model (the two-domain step's constructor,
# a trick's check of the built model, the model's own shape check): after the run folder existed.
REFUSED = [
    (
        ["model=cyclegan", "dataset=mnist_domains", "trick=ganhacks"],
        "experience_replay cannot act on cyclegan",
    ),
    (["model=cyclegan", "dataset=mnist_domains", "trick=unrolled"], "it works through g_discriminator"),
    (["model=cogan", "dataset=mnist_domains", "trick=wgan"], "n_critic cannot act on cogan"),
    (["model=dcgan", "model.conditional=true", "trick=ganhacks"], "experience_replay keeps past fakes"),
    (["model=dcgan", "trick=wgan_gp"], "needs a discriminator without batch norm"),
    (["model=dcgan", "dataset=ring8"], "dcgan needs square images, got data of shape (2,)"),
    (["model=pix2pix", "dataset=mnist_domains"], "multiple of 256, got data of shape (1, 32, 32)"),
    (["dataset.labelled=100"], "model=dcgan does not"),
    (["model=ssgan", "dataset.labelled=105"], "must be a multiple of the dataset's 10 classes"),
]
ACCEPTED = [
    ["model=cyclegan", "dataset=mnist_domains", "trick=sngan"],
    ["model=pix2pix", "dataset=mnist_domains", "dataset.paired=true", "model.g_depth=5"],
    ["model=dcgan", "model.conditional=true", "model.conditioning=auxiliary"],
    ["model=mlp", "dataset=ring8", "trick=unrolled"],
]


@pytest.fixture
def train_args(gan, monkeypatch, tmp_path):
    """``gan train ARGS`` in-process from ``tmp_path``; (exit code, stderr). Training itself is
    replaced by an error: a combination that passes every check fails loudly instead of running."""

    def no_training() -> None:
        raise AssertionError("the config passed every check and training was about to start")

    monkeypatch.setattr("gan_cli.training.task.main", no_training)
    monkeypatch.chdir(tmp_path)

    def run(*args: str) -> tuple[int, str]:
        outcome = gan("train", *args)
        return outcome.exit_code, outcome.err

    return run


@pytest.mark.parametrize("overrides,message", REFUSED, ids=[" ".join(o) for o, _ in REFUSED])
def test_an_incompatible_combination_is_refused_before_any_folder(overrides, message, train_args, tmp_path):
    code, err = train_args(*overrides)
    assert_refused(code, err, message, tmp_path)


@pytest.mark.parametrize("overrides", ACCEPTED, ids=[" ".join(o) for o in ACCEPTED])
def test_a_compatible_combination_passes_the_checks(overrides, train_args):
    with pytest.raises(AssertionError, match="training was about to start"):
        train_args(*overrides)


def test_every_shipped_dataset_promises_its_shape():
    assert [n for n in DATASETS.names() if not hasattr(DATASETS.get(n), "promise")] == []


def test_a_loader_that_promises_nothing_is_loaded_to_find_its_shape(monkeypatch, tmp_path):
    monkeypatch.delattr(DATASETS.get("grid25"), "promise")
    assert data_spec({"name": "grid25", "n": 30}, str(tmp_path)) == ((2,), 25)


def image_folder(root):
    """Two class sub-folders of two 12×12 RGB images each."""
    rng = np.random.default_rng(0)
    for label in ("cats", "dogs"):
        (root / label).mkdir(parents=True)
        for i in range(2):
            Image.fromarray(rng.integers(0, 256, (12, 12, 3), dtype=np.uint8)).save(root / label / f"{i}.png")
    return [f"dataset.path={root}", "dataset.resolution=8", "dataset.in_memory=true", "dataset.workers=0"]


@pytest.mark.parametrize("dataset", [*TINY_DATASETS, "image_folder"])
def test_the_promised_shape_is_what_the_loader_returns(dataset, tmp_path):
    extra = image_folder(tmp_path / "images") if dataset == "image_folder" else []
    cfg = tiny_config(tmp_path, f"dataset={dataset}", *extra)
    data = load_data(cfg)
    assert data_spec(cfg["dataset"], cfg["data"]["root"]) == (tuple(data.shape), data.num_classes)
