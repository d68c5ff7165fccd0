"""Class-conditional MLP and DCGAN (concat, projection, AC-GAN): labels reach G and D, the step
trains on them, and conditional runs sample, checkpoint and grid per class."""

import pytest
import torch

from gan_cli import components, sampling
from gan_cli.datasets.base import Batches, Data
from gan_cli.errors import GanError
from gan_cli.models.conditioning import LabelConcat, LabelReader
from gan_cli.models.inputs import Inputs
from gan_cli.registry import MODELS
from gan_cli.training import checkpoint
from gan_cli.training.loop import train
from gan_cli.tricks.base import Phase
from tests.conftest import run_gan, tiny_config

METHODS = ["concat", "projection", "auxiliary"]
FAMILIES = ["mlp", "dcgan"]
SHAPE = (1, 16, 16)


def conditional_parts(tmp_path, model="dcgan", method="concat", *overrides, classes=10):
    cfg = tiny_config(
        tmp_path, f"model={model}", "model.conditional=true", f"model.conditioning={method}", *overrides
    )
    return components.build(cfg, SHAPE, classes)


def labelled_batches(n=16, batch=8, classes=10):
    data = Data(torch.rand(n, *SHAPE) * 2 - 1, torch.arange(n) % classes, num_classes=classes)
    return Batches(data, batch, seed=0)


def one_step(parts, batches, step=1):
    model = parts.model
    g_opt = torch.optim.Adam(model.generator.parameters(), lr=1e-3)
    d_opt = torch.optim.Adam(model.discriminator.parameters(), lr=1e-3)
    parts.tricks.configure(g_opt, d_opt)
    return model.step_class(model, parts.loss, parts.tricks, g_opt, d_opt, parts.latent)(step, batches)


def test_label_concat_repeats_labels_for_a_mixed_batch_and_refuses_a_mismatch():
    concat = LabelConcat(3)
    concat.labels = torch.tensor([0, 2])
    out = concat(torch.zeros(4, 1, 2, 2))  # real and fake of 2 labels, concatenated
    assert out.shape == (4, 4, 2, 2)
    assert out[:, 1:, 0, 0].argmax(1).tolist() == [0, 2, 0, 2]
    assert torch.equal(out[:, 1:], out[:, 1:, :1, :1].expand(-1, -1, 2, 2))  # constant maps
    with pytest.raises(GanError, match="batch of 3 for 2 labels"):
        concat(torch.zeros(3, 1, 2, 2))
    with pytest.raises(GanError, match="before its labels were set"):
        LabelConcat(3)(torch.zeros(2, 4))


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("family", FAMILIES)
def test_labels_steer_both_networks(family, method, tmp_path):
    model = conditional_parts(tmp_path, family, method).model.eval()
    assert model.num_classes == 10
    z = torch.randn(4, model.z_dim)
    first, second = torch.tensor([0, 1, 2, 3]), torch.tensor([5, 6, 7, 8])
    fake = model.generate(Inputs({"z": z}, labels=first))
    assert fake.shape == (4, *SHAPE)
    assert not torch.allclose(fake, model.generate(Inputs({"z": z}, labels=second)))
    with pytest.raises(GanError, match="class-conditional"):
        model.generate(Inputs({"z": z}))
    model.condition(first)
    scores = model.discriminator(fake)
    assert scores.shape == (4,)
    model.condition(second)
    # AC-GAN's D scores real/fake without the label; its classifier reads it instead.
    assert torch.allclose(scores, model.discriminator(fake)) == (method == "auxiliary")


def test_projection_adds_the_label_embedding_dotted_with_pooled_features(tmp_path):
    model = conditional_parts(tmp_path, "dcgan", "projection").model.eval()
    D = model.discriminator
    x = torch.rand(2, *SHAPE) * 2 - 1
    model.condition(torch.tensor([3, 3]))
    with_3 = D(x)
    model.condition(torch.tensor([7, 7]))
    with_7 = D(x)
    features = D.body(x).sum((2, 3))
    embed = D.projection.weight.T  # classes × width
    assert torch.allclose(with_3 - with_7, features @ (embed[3] - embed[7]), atol=1e-5)


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("family", FAMILIES)
def test_a_train_step_conditions_fakes_on_the_real_batch_labels(family, method, tmp_path):
    parts = conditional_parts(tmp_path, family, method)
    model, batches = parts.model, labelled_batches()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    scalars = one_step(parts, batches)
    assert all(torch.isfinite(v) for v in scalars.values())
    assert scalars["g_grad_norm"] > 0 and scalars["d_grad_norm"] > 0
    order = batches.state_dict()["order"]
    readers = [m for m in model.modules() if isinstance(m, LabelReader)]
    assert readers and all(torch.equal(m.labels, order[:8] % 10) for m in readers)  # the batch's own
    moved = [
        k for k, v in model.state_dict().items() if v.is_floating_point() and not torch.equal(v, before[k])
    ]
    assert any(k.startswith("generator") for k in moved) and any(k.startswith("discriminator") for k in moved)
    if method == "auxiliary":
        assert "discriminator.classifier.weight" in moved


def test_auxiliary_classifier_loss_is_implied_and_trains_d_to_classify(tmp_path):
    parts = conditional_parts(tmp_path, "mlp", "auxiliary")
    assert [type(t).__name__ for t in parts.tricks.tricks] == ["AuxiliaryClassifier"]
    D = parts.model.discriminator
    x = torch.rand(20, *SHAPE) * 2 - 1
    labels = torch.arange(20) % 2
    x[labels == 1] *= -1  # two classes a classifier can tell apart
    parts.model.condition(labels)
    optimizer = torch.optim.Adam(D.parameters(), lr=1e-2)
    first = D.class_loss(x).item()
    for _ in range(30):
        optimizer.zero_grad()
        parts.tricks.d_penalty(
            Phase("d", 1, parts.model, D, x, x)
        ).backward()  # the class loss on real and fake alike
        optimizer.step()
    assert D.class_loss(x).item() < 0.2 * first
    g_phase = Phase("g", 1, parts.model, D, x, x)
    assert parts.tricks.g_penalty(g_phase).item() == pytest.approx(D.class_loss(x).item())


def test_unconditional_models_stay_as_they_were(tmp_path):
    first_layer = {"mlp": "body.1.weight", "dcgan": "body.0.weight"}  # mlp's body starts with Flatten
    for family in FAMILIES:
        parts = components.build(tiny_config(tmp_path, f"model={family}"), SHAPE, 10)  # labelled data
        model = parts.model
        assert model.num_classes == 0 and model.implied_tricks() == []
        assert not any(isinstance(m, LabelReader) and m.labels is not None for m in model.modules())
        model.condition(torch.zeros(4, dtype=torch.long))  # ignored
        assert model.generate(Inputs({"z": parts.latent(4)})).shape == (4, *SHAPE)
        assert list(model.discriminator.state_dict())[0] == first_layer[family]
        assert not any("projection" in k or "classifier" in k for k in model.state_dict())


@pytest.mark.parametrize(
    "overrides,classes,message",
    [
        ([], 0, "needs a dataset with class labels"),
        (
            ["model.conditioning=both"],
            10,
            "model 'dcgan': conditioning must be one of concat, projection, auxiliary, got 'both'",
        ),
        (["trick=pacgan"], 10, "cannot have its samples packed"),
        (["+trick.experience_replay.size=8"], 10, "experience_replay keeps past fakes without the labels"),
        (["+trick.virtual_batch_norm.reference_size=8"], 10, "reference batch has no labels"),
    ],
)
def test_impossible_conditional_setups_are_one_clear_line(overrides, classes, message, tmp_path):
    with pytest.raises(GanError, match=message) as err:
        conditional_parts(tmp_path, "dcgan", "concat", *overrides, classes=classes)
    assert "\n" not in str(err.value)


def test_the_auxiliary_loss_refuses_a_model_without_a_classifier():
    from gan_cli.tricks.auxiliary_classifier import AuxiliaryClassifier

    model = MODELS.build({"name": "mlp", "hidden": 8, "depth": 1}, data_shape=(2,))
    with pytest.raises(GanError, match="conditioning=auxiliary"):
        AuxiliaryClassifier().check(model, None)


@pytest.mark.parametrize(
    "overrides",
    [
        ["+trick.mixed_batches={}"],  # D sees real and fake in one batch: labels repeated
        ["+trick.unrolled.k=1"],  # D evaluated at look-ahead weights
        ["loss=wgan_gp", "model.d_norm=none"],  # the penalty calls D on interpolates
        ["+trick.ema.decay=0.5"],  # the EMA copy of G reads the labels too
    ],
)
def test_tricks_that_call_the_networks_work_with_labels(overrides, tmp_path):
    parts = conditional_parts(tmp_path, "dcgan", "projection", *overrides)
    scalars = one_step(parts, labelled_batches())
    assert all(torch.isfinite(v) for v in scalars.values())
    ema = getattr(parts.model, "ema_generator", None)
    if ema is not None:
        labels = torch.tensor([1, 2])
        sampling.generate(parts.model, Inputs({"z": torch.randn(2, 8)}, labels=labels))
        assert all(torch.equal(m.labels, labels) for m in ema.modules() if isinstance(m, LabelReader))


@pytest.mark.parametrize("family", FAMILIES)
def test_conditional_run_samples_each_class_and_round_trips_its_checkpoint(family, tmp_path):
    cfg = tiny_config(tmp_path, f"model={family}", "model.conditional=true", "sample.n=20")
    train(cfg, tmp_path / "run")
    parts, state = sampling.load_run(tmp_path / "run" / "checkpoints" / "last.pt")
    assert parts.model.num_classes == 10 and state["num_classes"] == 10
    grid = sampling.draw(parts, 20, seed=0, device=torch.device("cpu"))
    assert grid.shape == (20, *SHAPE) and parts.model.row_length(20) == 2  # one row per class
    sevens = sampling.draw(parts, 4, seed=0, device=torch.device("cpu"), label=7)
    inputs = sampling.seeded_inputs(parts, 4, 0, label=7)
    assert inputs.labels.tolist() == [7] * 4
    assert torch.equal(sevens, sampling.generate(parts.model, inputs))
    # The same latents for another class give other images: the label matters after training too.
    assert not torch.equal(
        sevens, sampling.generate(parts.model, Inputs(inputs.named, labels=torch.full((4,), 1)))
    )


def test_resumed_conditional_run_matches_the_uninterrupted_one(tmp_path):
    cfg = tiny_config(tmp_path, "model=dcgan", "model.conditional=true", "model.conditioning=auxiliary")
    full = train(cfg, tmp_path / "full")
    half = {**cfg, "train": {**cfg["train"], "steps": 2}}
    train(half, tmp_path / "half")
    resumed = train(
        cfg, tmp_path / "half", resume=checkpoint.load(tmp_path / "half" / "checkpoints" / "last.pt")
    )
    assert resumed["d_loss"] == full["d_loss"] and resumed["g_loss"] == full["g_loss"]


@pytest.mark.slow
def test_gan_sample_label_through_the_cli(tmp_path):
    result = run_gan(
        "train",
        "device=cpu",
        "metrics=none",
        "+experiment=cdcgan_mnist",
        "model.z_dim=8",
        "model.g_channels=4",
        "model.d_channels=4",
        "dataset.resolution=16",
        "dataset.download=false",
        "train.steps=2",
        "train.batch_size=8",
        "log.progress=false",
        f"hydra.run.dir={tmp_path / 'run'}",
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    ckpt = tmp_path / "run" / "checkpoints" / "last.pt"
    result = run_gan(
        "sample", "--ckpt", str(ckpt), "--label", "3", "-n", "8", "--out", "three.png", cwd=tmp_path
    )
    assert result.returncode == 0 and (tmp_path / "three.png").is_file(), result.stderr
    result = run_gan("sample", "--ckpt", str(ckpt), "--label", "12", "--out", "x.png", cwd=tmp_path)
    assert result.returncode == 2 and "label 12 out of range" in result.stderr
    assert not (tmp_path / "x.png").exists()
