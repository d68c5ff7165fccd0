"""Stacked MNIST: the dataset's construction and the 1000-mode metric."""

import math

import pytest
import torch

from gan_cli import components
from gan_cli.datasets.base import Batches, Data
from gan_cli.datasets.mnist import mnist
from gan_cli.datasets.stacked_mnist import CLASSES, stacked_mnist
from gan_cli.errors import GanError
from gan_cli.metrics import classifier, stacked_modes
from gan_cli.metrics.base import Evaluation
from gan_cli.metrics.histogram import kl_to_uniform
from gan_cli.metrics.stacked_modes import kl_floor, single_digits
from gan_cli.registry import METRICS, MODELS
from gan_cli.training.loop import load_data
from tests.conftest import tiny_config


@pytest.fixture(scope="module")
def root(tmp_path_factory):
    return str(tmp_path_factory.mktemp("data"))


@pytest.fixture(scope="module")
def stacked(root):
    return stacked_mnist(root, n=2560, download=False)


@pytest.fixture(scope="module")
def modes(root):
    """The metric, with a digit classifier trained briefly (the full schedule takes minutes)."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(stacked_modes, "DIGIT_STEPS", 300)
        metric = METRICS.build({"name": "stacked_modes"}, root=root)
        yield metric


def test_each_channel_is_an_mnist_digit_of_the_label_s_digit(stacked, root):
    digits = mnist(root, resolution=32, download=False)
    assert stacked.samples.shape == (2560, 3, 32, 32) and stacked.num_classes == 1000
    assert stacked.classes == CLASSES and 0 <= int(stacked.labels.min()) and int(stacked.labels.max()) < 1000
    flat = digits.samples.flatten(1)
    for i in range(5):
        for channel, digit in enumerate(
            (stacked.labels[i] // 100, stacked.labels[i] // 10 % 10, stacked.labels[i] % 10)
        ):
            match = (flat == stacked.samples[i, channel].flatten()).all(dim=1)
            assert bool(match.any()) and set(digits.labels[match].tolist()) == {int(digit)}


def test_the_draw_is_seeded_and_covers_the_modes_uniformly(root, stacked):
    assert torch.equal(stacked_mnist(root, n=2560, download=False).samples, stacked.samples)
    assert not torch.equal(stacked_mnist(root, n=2560, seed=1, download=False).labels, stacked.labels)
    # 2560 uniform draws over 1000 modes reach 1000 (1 - e^-2.56) = 923 of them on average.
    assert abs(len(stacked.labels.unique()) - 923) < 30


def test_the_config_builds_with_the_bundled_split(tmp_path):
    data = load_data(tiny_config(tmp_path, "dataset=stacked_mnist"))  # conftest: n=512 at 16x16
    assert data.samples.shape == (512, 3, 16, 16) and data.num_classes == 1000


def test_single_digits_are_each_distinct_digit_once(stacked):
    digits = single_digits(stacked)
    assert digits.num_classes == 10 and digits.samples.shape[1] == 1
    assert len(digits.samples) == len(digits.samples.flatten(1).unique(dim=0)) <= 3 * 2560


@pytest.mark.slow
def test_real_stacked_samples_reach_the_modes_they_hold(stacked, modes):
    result = modes(Evaluation(stacked.samples, stacked))
    assert abs(result["stacked_modes"] - len(stacked.labels.unique())) < 40
    assert result["stacked_kl"] < 0.6


@pytest.mark.slow
def test_the_record_carries_the_classifier_accuracy_and_the_kl_floor(stacked, modes):
    result = modes(Evaluation(stacked.samples[:1000], stacked))
    assert 0.9 < result["digit_accuracy"] <= 1  # 300 steps here; the full schedule reaches 0.99
    assert result["stacked_kl_floor"] == kl_floor(1000)


def test_the_kl_floor_is_what_a_perfect_sampler_scores():
    # For n >> modes the histogram's KL to uniform averages (modes - 1) / 2n.
    assert kl_floor(25_600) == pytest.approx(999 / (2 * 25_600), rel=0.05)
    assert kl_floor(25_600) == kl_floor(25_600)  # seeded
    uniform = torch.randint(1000, (25_600,), generator=torch.Generator().manual_seed(7))
    assert kl_to_uniform(uniform, 1000) == pytest.approx(kl_floor(25_600), rel=0.2)
    assert kl_floor(100, n_modes=10) > kl_floor(10_000, n_modes=10)


def test_training_digits_shift_within_their_frame():
    digit = torch.full((4, 1, 8, 8), -1.0)
    digit[:, :, 3:5, 3:5] = 1.0
    moved = classifier.shifted(digit, 2, torch.Generator().manual_seed(0))
    assert moved.shape == digit.shape and (moved == 1).sum(dim=(1, 2, 3)).tolist() == [4] * 4
    assert not all(torch.equal(m, digit[0]) for m in moved)


def test_a_collapsed_generator_reaches_one_mode(stacked, modes):
    collapsed = stacked.samples[:1].repeat(500, 1, 1, 1)
    result = modes(Evaluation(collapsed, stacked))
    assert result["stacked_modes"] == 1
    assert result["stacked_kl"] == pytest.approx(math.log(1000))


def test_the_metric_applies_only_to_stacked_mnist(root, modes):
    digits = mnist(root, resolution=32, download=False)
    assert modes(Evaluation(digits.samples[:10], digits)) == {}


def test_the_stacked_mnist_dcgan_has_the_paper_s_maps_at_28x28():
    model = MODELS.build({"name": "stacked_dcgan"}, data_shape=(3, 28, 28), d_input_shape=(12, 28, 28))
    g_maps = [
        m.out_channels
        for m in model.generator.modules()
        if isinstance(m, (torch.nn.ConvTranspose2d, torch.nn.Conv2d))
    ]
    d_maps = [m.out_channels for m in model.discriminator.body if isinstance(m, torch.nn.Conv2d)]
    assert g_maps == [32, 16, 8, 3] and d_maps == [2, 4, 8]
    assert model.generator(torch.randn(2, 256)).shape == (2, 3, 28, 28)
    assert model.discriminator(torch.randn(2, 12, 28, 28)).shape == (2,)  # four samples packed


def test_the_stacked_mnist_dcgan_refuses_sizes_that_do_not_halve_to_4():
    with pytest.raises(GanError, match="halves"):
        MODELS.build({"name": "stacked_dcgan"}, data_shape=(3, 24, 24))


@pytest.mark.parametrize(
    "trick", [["trick=pacgan", "trick.pacgan.m=2"], ["trick=unrolled", "trick.unrolled.k=2"]]
)
def test_the_stacked_mnist_dcgan_trains_packed_and_unrolled(trick, tmp_path):
    cfg = tiny_config(
        tmp_path,
        "model=stacked_dcgan",
        "dataset=stacked_mnist",
        "model.z_dim=8",
        "model.g_channels=8",
        *trick,
    )
    parts = components.build(cfg, (3, 16, 16), 1000)
    model = parts.model
    before = {k: v.clone() for k, v in model.state_dict().items()}
    g_opt = torch.optim.Adam(model.generator.parameters(), lr=1e-3)
    d_opt = torch.optim.Adam(model.discriminator.parameters(), lr=1e-3)
    parts.tricks.configure(g_opt, d_opt)  # as training does: unrolling repeats D's Adam
    step = model.step_class(model, parts.loss, parts.tricks, g_opt, d_opt, parts.latent)
    scalars = step(1, Batches(Data(torch.rand(16, 3, 16, 16) * 2 - 1), 8, seed=0))
    assert all(torch.isfinite(v) for v in scalars.values())
    for net in ("generator", "discriminator"):
        assert any(not torch.equal(v, before[k]) for k, v in model.state_dict().items() if k.startswith(net))
