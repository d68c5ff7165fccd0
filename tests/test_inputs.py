"""Generator inputs as named things: noise families draw latents, translators draw source images
from the data; grids, evaluation and metrics receive them with their labels and targets."""

import pytest
import torch

from gan_cli import components, sampling
from gan_cli.datasets.unpaired import TwoDomainData
from gan_cli.errors import GanError
from gan_cli.models.inputs import Inputs, seeded_positions
from gan_cli.registry import MODELS
from gan_cli.training.loop import Run
from tests.conftest import tiny_config

SHAPE = (1, 16, 16)


def test_inputs_slice_batch_join_and_move_every_named_tensor_with_labels_and_targets():
    inputs = Inputs(
        {"z": torch.arange(10.0)[:, None], "code": torch.arange(10)}, torch.arange(10) % 3, -torch.ones(10)
    )
    parts = inputs.batches(4)
    assert [len(p) for p in parts] == [4, 4, 2]
    assert parts[1]["code"].tolist() == [4, 5, 6, 7] and parts[1].labels.tolist() == [1, 2, 0, 1]
    joined = Inputs.cat(parts)
    for key in ("z", "code"):
        assert torch.equal(joined[key], inputs[key])
    assert torch.equal(joined.labels, inputs.labels) and torch.equal(joined.targets, inputs.targets)
    assert Inputs({"z": torch.zeros(3, 2)}).slice(0, 2).labels is None


def test_seeded_positions_are_distinct_until_the_data_runs_out_and_repeat_with_the_seed():
    first = seeded_positions(5, 8, torch.Generator().manual_seed(0))
    assert len(set(first.tolist())) == 5 and first.max() < 8
    assert torch.equal(first, seeded_positions(5, 8, torch.Generator().manual_seed(0)))
    wrapped = seeded_positions(11, 4, torch.Generator().manual_seed(0))
    assert sorted(wrapped[:4].tolist()) == [0, 1, 2, 3] and torch.equal(wrapped[4:8], wrapped[:4])


def test_a_noise_family_draws_latents_for_its_labels_and_ignores_the_data(tmp_path):
    parts = components.build(tiny_config(tmp_path, "model=dcgan", "model.conditional=true"), SHAPE, 10)
    inputs = sampling.seeded_inputs(parts, 25, seed=3)
    assert set(inputs.named) == {"z"} and inputs["z"].shape == (20, parts.model.z_dim)  # one row per class
    assert inputs.labels.tolist() == [c for c in range(10) for _ in range(2)] and inputs.targets is None
    again = sampling.seeded_inputs(parts, 25, seed=3)
    assert torch.equal(again["z"], inputs["z"])


def paired_digits(n=12):
    a = torch.rand(n, *SHAPE) * 2 - 1
    return TwoDomainData(
        a, torch.arange(n) % 10, num_classes=10, other=-a, other_labels=torch.arange(n) % 10, paired=True
    )


def test_a_translator_is_scored_on_its_outputs_against_the_target_domain_and_its_targets():
    model = MODELS.build(
        {"name": "pix2pix", "g_channels": 4, "g_depth": 4, "d_channels": 4, "d_layers": 1}, data_shape=SHAPE
    )
    data = paired_digits()
    inputs = model.draw_inputs(6, None, torch.Generator().manual_seed(0), data=data)
    assert torch.equal(inputs.targets, -inputs["source"])
    sources = [next(i for i in range(len(data)) if torch.equal(data.samples[i], x)) for x in inputs["source"]]
    assert inputs.labels.tolist() == [data.labels[i].item() for i in sources]  # each source's class
    torch.manual_seed(0)
    outputs = sampling.generate(model, inputs)
    ev = sampling.evaluation(model, inputs, outputs, data)
    assert ev.outputs.shape == (6, *SHAPE)  # the translations only, no sources or targets in them
    assert ev.data.fingerprint() == data.other_domain().fingerprint() != data.fingerprint()
    assert torch.equal(ev.targets, inputs.targets) and torch.equal(ev.labels, inputs.labels)


def test_a_translator_without_two_domain_data_is_one_line():
    model = MODELS.build(
        {"name": "pix2pix", "g_channels": 4, "g_depth": 4, "d_channels": 4, "d_layers": 1}, data_shape=SHAPE
    )
    with pytest.raises(GanError, match="pix2pix translates images.*gan translate"):
        model.draw_inputs(4, None, torch.Generator(), data=None)


def test_a_translator_s_grid_sources_come_from_training_data_and_evaluation_from_held_out(tmp_path):
    cfg = tiny_config(
        tmp_path, "model=cyclegan", "dataset=mnist_domains", "metrics=none", "dataset.limit=500"
    )
    run = Run(cfg, tmp_path / "run")
    with run.folder:  # closes its trackers

        def belongs(images, data):
            rows = {tuple(x.flatten().tolist()) for x in data.samples}
            return all(tuple(x.flatten().tolist()) in rows for x in images)

        assert belongs(run.fixed_inputs["source"], run.train_data)
        assert belongs(run.eval_inputs["source"], run.held_out)
        assert not belongs(run.eval_inputs["source"][:50], run.train_data)
