"""The semi-supervised GAN: partly labelled data, D as a K-class classifier, its test error,
``gan classify``, and a run that learns digits from a few labels."""

import csv
import json

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image

from gan_cli import components
from gan_cli.commands.classify import classify
from gan_cli.commands.evaluate import evaluate_checkpoint
from gan_cli.datasets.base import Data
from gan_cli.datasets.labelled import PartlyLabelledData, keep_labels
from gan_cli.errors import GanError
from gan_cli.metrics.base import Evaluation
from gan_cli.models.ssgan import ClassifierAverage, WeightNormLinear
from gan_cli.registry import METRICS
from gan_cli.sampling import load_run
from gan_cli.training.loop import train
from tests.conftest import split_and_whole_losses, tiny_config

SHAPE = (1, 16, 16)


def labelled_data(n: int = 200, classes: int = 10) -> Data:
    return Data(torch.rand(n, *SHAPE) * 2 - 1, torch.arange(n) % classes, num_classes=classes)


def test_the_kept_labels_are_balanced_seeded_and_the_rest_hidden():
    data = labelled_data()
    kept = keep_labels(data, 30, seed=0)
    assert isinstance(kept, PartlyLabelledData) and kept.labels is None and len(kept) == 200
    assert torch.bincount(kept.labelled_labels, minlength=10).tolist() == [3] * 10
    rows = [(kept.labelled_samples[i] == data.samples).flatten(1).all(1).nonzero().item() for i in range(30)]
    assert (data.labels[rows] == kept.labelled_labels).all()  # each kept image with its own label
    assert torch.equal(keep_labels(data, 30, seed=0).labelled_samples, kept.labelled_samples)
    assert not torch.equal(keep_labels(data, 30, seed=1).labelled_samples, kept.labelled_samples)
    assert keep_labels(data, None, seed=0) is data


def test_too_many_labels_for_a_class_or_no_labels_are_refused():
    with pytest.raises(GanError, match="dataset.labelled=300 needs 30 images of each class; .* has 20"):
        keep_labels(labelled_data(), 300, seed=0)
    with pytest.raises(GanError, match="needs labelled data held in memory"):
        keep_labels(Data(torch.zeros(10, 2)), 10, seed=0)


def test_batches_pair_an_unlabelled_batch_with_a_labelled_one_and_resume_exactly():
    kept = keep_labels(labelled_data(), 20, seed=0)
    stream = kept.batches(8, seed=0)
    batch = stream()
    images, labels = batch.labelled
    assert batch.labels is None and batch.images.shape == images.shape == (8, *SHAPE)
    assert all((image == kept.labelled_samples).flatten(1).all(1).any() for image in images)
    state = stream.state_dict()
    ahead = [stream() for _ in range(5)]
    resumed = kept.batches(8, seed=0)
    resumed.load_state_dict(state)
    for expected, got in zip(ahead, (resumed() for _ in range(5)), strict=True):
        assert torch.equal(expected.images, got.images) and torch.equal(expected.labelled[1], got.labelled[1])


def build(tmp_path, *overrides):
    return components.build(tiny_config(tmp_path, "model=ssgan", *overrides), SHAPE, 10)


def test_d_scores_realness_as_the_log_sum_exp_of_its_class_logits(tmp_path):
    """With the fake logit fixed at 0, D(real) = Z / (Z + 1): the standard loss on log Z is the
    paper's unsupervised loss, twice over (the step halves it)."""
    parts = build(tmp_path)
    D = parts.model.discriminator.eval()
    x = torch.rand(6, *SHAPE) * 2 - 1
    logits = D.logits(x)
    assert torch.allclose(D(x), logits.logsumexp(1))
    real, fake = torch.tensor([2.0, -1.0, 0.5]), torch.tensor([0.3, -2.0, 1.0])
    paper = -0.5 * real.mean() + 0.5 * F.softplus(real).mean() + 0.5 * F.softplus(fake).mean()
    assert parts.loss.d_loss(real, fake, torch.ones(3), torch.zeros(3)).item() == pytest.approx(
        2 * paper.item()
    )


def test_weight_norm_layers_start_at_zero_mean_unit_variance_and_hidden_scales_stay_fixed(tmp_path):
    model = build(tmp_path).model
    x = torch.randn(64, *SHAPE) * 3 + 1
    model.prepare(Data(x), str(tmp_path))
    first = model.discriminator.body[2]
    assert isinstance(first, WeightNormLinear)
    out = first(model.discriminator.body[:2](x))  # the noise of the initialisation pass differs
    assert out.mean(0).abs().max() < 0.5 and (out.std(0) - 1).abs().max() < 0.5
    hidden = [m for m in model.discriminator.body if isinstance(m, WeightNormLinear)]
    assert all(not m.g.requires_grad for m in hidden) and model.discriminator.classes[1].g.requires_grad


def test_the_classifier_average_is_d_after_one_update_then_a_weighted_mean():
    D = torch.nn.Linear(2, 1)
    model = torch.nn.Module()
    model.discriminator = D
    average = ClassifierAverage(rate=0.5)
    average.wrap(model)
    torch.nn.init.constant_(D.weight, 4.0)
    average.after_d_step(model)
    assert torch.equal(model.d_average.weight, D.weight)
    torch.nn.init.constant_(D.weight, 0.0)
    average.after_d_step(model)  # bias-corrected weight 0.5 / (1 - 0.25) = 2/3 on the newest
    assert torch.allclose(model.d_average.weight, torch.full((1, 2), 4.0 / 3))


def test_test_error_counts_the_held_out_images_misclassified():
    images = (torch.arange(10).float() / 10).repeat_interleave(4)[:, None, None, None].expand(-1, *SHAPE)
    held_out = Data(images.contiguous(), torch.arange(10).repeat_interleave(4), num_classes=10)

    def reads(shift: int):
        return lambda x: F.one_hot((x.flatten(1).mean(1) * 10).round().long().add(shift) % 10, 10).float()

    metric = METRICS.build({"name": "test_error"})
    ev = Evaluation(torch.zeros(1, *SHAPE), held_out, held_out=held_out)
    assert metric(Evaluation(**{**ev.__dict__, "classify": reads(0)})) == {"test_error": 0.0}
    assert metric(Evaluation(**{**ev.__dict__, "classify": reads(1)})) == {"test_error": 1.0}
    assert metric(Evaluation(**{**ev.__dict__, "held_out": None, "classify": reads(0)})) == {}


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A small SSGAN on 16x16 digits: 1500 training images, 100 of them labelled, 500 held out."""
    tmp_path = tmp_path_factory.mktemp("ssgan")
    cfg = tiny_config(tmp_path, "model=ssgan", "dataset.limit=1500", "dataset.labelled=100")
    cfg["model"].update(d_widths=[128, 64], g_widths=[64], average_rate=0.05)
    cfg["train"].update(steps=300, batch_size=50, lr_d=3e-3, lr_g=3e-3)
    cfg["log"]["every"], cfg["metrics"] = 100, {"test_error": {}}
    cfg["eval"].update(every=300, n=50)
    run = tmp_path / "run"
    train(cfg, run)
    return run


@pytest.mark.slow  # ~15 s of training
def test_d_learns_the_held_out_digits_from_a_hundred_labels(trained):
    records = [json.loads(line) for line in (trained / "metrics.jsonl").read_text().splitlines()]
    errors = [r["test_error"] for r in records if "test_error" in r]
    assert errors and errors[-1] < 0.5  # chance is 0.9
    steps = [r for r in records if "train_error" in r]
    assert steps[-1]["supervised"] < steps[0]["supervised"]


@pytest.mark.slow
def test_gan_eval_reports_the_test_error_and_gan_classify_agrees(trained, tmp_path):
    record = evaluate_checkpoint(trained, n=10)
    assert 0 <= record["metrics"]["test_error"] < 0.5
    parts, _ = load_run(trained / "checkpoints" / "last.pt")
    folder = tmp_path / "digits"
    folder.mkdir()
    images = torch.rand(5, *SHAPE) * 2 - 1
    for i, image in enumerate(images):
        pixels = ((image[0] + 1) * 127.5).round().byte().numpy()
        Image.fromarray(pixels).save(folder / f"{i}.png")
    out = tmp_path / "predictions.csv"
    rows = classify(trained, folder, out, "cpu")
    read = list(csv.DictReader(out.open()))
    assert [r["class"] for r in read] == [str(c) for _, c, _ in rows]
    stored = torch.stack([torch.from_numpy(np.array(Image.open(folder / f"{i}.png"))) for i in range(5)])
    expected = parts.model.classify(stored[:, None].float() / 127.5 - 1).max(1)  # as the PNGs hold them
    assert [c for _, c, _ in rows] == expected.indices.tolist()
    assert [p for _, _, p in rows] == pytest.approx(expected.values.tolist(), abs=1e-4)
    with pytest.raises(GanError, match="already exists"):
        classify(trained, folder, out, "cpu")


def test_classify_refuses_a_model_that_does_not_classify(tmp_path):
    cfg = tiny_config(tmp_path, "train.steps=2")
    cfg["train"]["steps"] = 2
    train(cfg, tmp_path / "dcgan")
    image = tmp_path / "x.png"
    Image.new("L", (9, 5)).save(image)
    with pytest.raises(GanError, match="holds a dcgan model, which does not classify"):
        classify(tmp_path / "dcgan", image, None, "cpu")
    with pytest.raises(GanError, match="give a name ending in .csv"):
        classify(tmp_path / "dcgan", image, tmp_path / "out.txt", "cpu")


def test_a_partly_labelled_run_resumes_bit_for_bit(tmp_path):
    split, whole = split_and_whole_losses(tmp_path, "ssgan", "supervised")
    assert split == whole and len(whole) == 6
