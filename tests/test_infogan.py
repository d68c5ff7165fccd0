"""InfoGAN: codes as named inputs, Q's loss, the code agreement metric, and `gan sample --vary`."""

import itertools

import pytest
import torch
from PIL import Image

from gan_cli import components
from gan_cli.commands.sample import sample
from gan_cli.datasets.base import Batches, Data
from gan_cli.errors import GanError
from gan_cli.metrics.base import Evaluation
from gan_cli.metrics.code_agreement import best_assignment
from gan_cli.models.inputs import Inputs
from gan_cli.registry import METRICS
from gan_cli.training.loop import train
from tests.conftest import split_and_whole_losses, tiny_config

SHAPE = (1, 16, 16)


def tiny(tmp_path, *overrides):
    return components.build(tiny_config(tmp_path, "model=infogan", *overrides), SHAPE, 0)


def test_g_reads_noise_a_one_hot_category_and_the_continuous_codes(tmp_path):
    model = tiny(tmp_path).model
    inputs = Inputs(
        {
            "z": torch.zeros(2, 8),
            "category": torch.tensor([3, 9]),
            "continuous": torch.tensor([[0.5, -1.0]] * 2),
        }
    )
    x = model.g_input(inputs)
    assert x.shape == (2, 8 + 10 + 2)
    assert x[0, 8:18].tolist() == [0, 0, 0, 1, 0, 0, 0, 0, 0, 0] and x[1, 17] == 1
    assert x[:, 18:].tolist() == [[0.5, -1.0]] * 2


def test_fixed_inputs_give_a_grid_row_per_category_and_seeded_codes(tmp_path):
    parts = tiny(tmp_path)
    inputs = parts.inputs(20, torch.Generator().manual_seed(1))
    assert inputs["category"].tolist() == [c for c in range(10) for _ in range(2)]
    rows = parts.inputs(64, torch.Generator().manual_seed(1))["category"]  # rows of 6, one category each
    assert rows[:60].tolist() == [c for c in range(10) for _ in range(6)] and rows[60:].tolist() == [0] * 4
    assert inputs["continuous"].abs().max() <= 1 and inputs["continuous"].std() > 0.2
    again = parts.inputs(20, torch.Generator().manual_seed(1))
    assert torch.equal(again["continuous"], inputs["continuous"]) and torch.equal(again["z"], inputs["z"])
    assert parts.model.row_length(20) == 2 and inputs.labels is None  # unsupervised: no classes asked for


def test_q_loss_is_the_codes_cross_entropy_plus_half_the_squared_error(tmp_path):
    model = tiny(tmp_path).model.eval()
    images = torch.rand(4, *SHAPE) * 2 - 1
    logits, continuous = model.read_codes(images)
    inputs = Inputs({"category": torch.tensor([0, 1, 2, 3]), "continuous": torch.zeros(4, 2)})
    expected = (
        torch.nn.functional.cross_entropy(logits, inputs["category"]) + 0.5 * continuous.pow(2).sum(1).mean()
    )
    assert torch.allclose(model.info_loss(images, inputs), expected)
    better = Inputs({"category": logits.argmax(1), "continuous": continuous.detach()})
    assert model.info_loss(images, better) < model.info_loss(images, inputs)  # Q's own answers score best


def test_the_info_term_moves_g_and_q(tmp_path):
    parts = tiny(tmp_path, "model.info_weight=1.0")
    model = parts.model
    q_before = [p.clone() for p in model.discriminator.q.parameters()]
    g_opt = torch.optim.Adam(model.generator.parameters(), lr=1e-3)
    d_opt = torch.optim.Adam(model.discriminator.parameters(), lr=1e-3)
    step = model.step_class(model, parts.loss, parts.tricks, g_opt, d_opt, parts.latent)
    scalars = step(1, Batches(Data(torch.rand(16, *SHAPE) * 2 - 1), 8, seed=0))
    assert scalars["info"] > 0
    assert any(not torch.equal(a, b) for a, b in zip(q_before, model.discriminator.q.parameters()))


@pytest.mark.parametrize("shape", [(3, 3), (4, 6), (5, 5)])
def test_best_assignment_is_the_best_one_to_one_map(shape):
    counts = torch.randint(0, 20, shape).float()
    categories, classes = shape
    brute = max(
        sum(counts[i, c].item() for i, c in enumerate(chosen))
        for chosen in itertools.permutations(range(classes), categories)
    )
    assert best_assignment(counts) == brute


def test_code_agreement_is_one_for_classes_under_any_names_and_a_tenth_for_noise(digits, root):
    metric = METRICS.build({"name": "code_agreement"}, root=root)
    images, labels = digits.samples[:500], digits.labels[:500]
    renamed = (labels * 3 + 1) % 10  # a permutation of the ten classes
    agreement = metric(Evaluation(images, digits, inputs=Inputs({"category": renamed})))["code_agreement"]
    assert agreement > 0.97
    shuffled = renamed[torch.randperm(500, generator=torch.Generator().manual_seed(0))]
    noise = metric(Evaluation(images, digits, inputs=Inputs({"category": shuffled})))["code_agreement"]
    assert noise < 0.3
    assert metric(Evaluation(images, digits)) == {}  # no codes: not InfoGAN's


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("infogan")
    train(tiny_config(tmp, "model=infogan"), tmp / "run")
    return tmp / "run"


def test_vary_writes_a_row_per_category_with_the_code_swept_along_it(run, tmp_path):
    line = sample(run, 30, 0, tmp_path / "c1.png", "grid", "cpu", None, True, None, False, "c1")
    assert "traversal of c1" in line
    with Image.open(tmp_path / "c1.png") as grid:
        assert grid.size == (2 + 3 * 18, 2 + 10 * 18)  # 30 / 10 = 3 values of c1 (-2, 0, 2), 10 categories
    with pytest.raises(GanError, match="unknown code 'c3'; this model's continuous codes: c1, c2"):
        sample(run, 30, 0, tmp_path / "c3.png", "grid", "cpu", None, True, None, False, "c3")
    with pytest.raises(GanError, match="--vary writes one grid"):
        sample(run, 30, 0, tmp_path / "x.npz", "npz", "cpu", None, True, None, False, "c1")


def test_vary_refuses_a_model_without_codes(tmp_path):
    train(tiny_config(tmp_path), tmp_path / "dcgan")
    with pytest.raises(GanError, match="--vary needs a model with latent codes"):
        sample(tmp_path / "dcgan", 30, 0, tmp_path / "v.png", "grid", "cpu", None, True, None, False, "c1")


def test_a_resumed_run_matches_the_uninterrupted_one(tmp_path):
    split, whole = split_and_whole_losses(tmp_path, "infogan", "info")
    assert split == whole and len(whole) == 6


def test_the_readme_s_vary_command_writes_its_grid(run, tmp_path, gan):
    done = gan("sample", "--ckpt", str(run), "--vary", "c2", "-n", "20", "--out", str(tmp_path / "c2.png"))
    assert done.exit_code == 0 and "traversal of c2" in done.out, done.output
    bad = gan("sample", "--ckpt", str(run), "--vary", "x/y", "--out", str(tmp_path / "bad.png"))
    assert (
        bad.exit_code == 2
        and "--vary names a continuous code" in bad.err
        and not (tmp_path / "bad.png").exists()
    )


@pytest.mark.parametrize("prior,uniform", [("uniform", True), ("gaussian", False)])
def test_the_noise_is_uniform_on_minus_one_to_one_as_the_authors_draw_it(tmp_path, prior, uniform):
    parts = tiny(tmp_path, f"model.prior={prior}")
    z = parts.inputs(2000, torch.Generator().manual_seed(0))["z"]
    assert (z.abs().max() <= 1) == uniform
    if uniform:
        assert z.std().item() == pytest.approx(1 / 3**0.5, abs=0.01)  # U[-1, 1]
