"""The data protocol: every kind of dataset is a ``DataSource``, and the metrics and grids ask
nothing more of it, so the default metrics run on a folder streamed from disk."""

import hashlib
import json
import math
import os
from dataclasses import replace

import numpy as np
import pytest
import torch
from PIL import Image

from gan_cli.config import compose, resolve
from gan_cli.datasets.base import Data, DataSource
from gan_cli.datasets.image_folder import image_folder
from gan_cli.datasets.streaming import StreamingData
from gan_cli.datasets.toy_mixtures import ring8
from gan_cli.datasets.unpaired import TwoDomainData
from gan_cli.metrics import classifier
from gan_cli.metrics.base import Evaluation
from gan_cli.registry import METRICS
from gan_cli.training.loop import train
from tests.conftest import tiny_config

CPU = torch.device("cpu")


@pytest.fixture
def folder(tmp_path):
    """48 random RGB images of 20×20 in two classes a classifier tells apart: dark and light."""
    rng = np.random.default_rng(0)
    for cls, low in (("dark", 0), ("light", 128)):
        (tmp_path / "images" / cls).mkdir(parents=True)
        for i in range(24):
            pixels = rng.integers(low, low + 128, (20, 20, 3), dtype=np.uint8)
            Image.fromarray(pixels).save(tmp_path / "images" / cls / f"{i:02d}.png")
    return tmp_path / "images"


def streamed(folder, **params) -> StreamingData:
    data = image_folder(str(folder), resolution=16, in_memory=False, workers=0, **params)
    assert isinstance(data, StreamingData)
    return data


def counting_decodes(data: StreamingData) -> tuple[StreamingData, list]:
    """``data`` with a decoder that records each item it decodes."""
    calls = []
    return replace(data, decode=lambda item: calls.append(item) or data.decode(item)), calls


def test_every_kind_of_data_is_a_data_source(folder):
    two_domain = TwoDomainData(torch.zeros(4, 1, 8, 8), other=torch.ones(4, 1, 8, 8), paired=True)
    in_memory = image_folder(str(folder), resolution=16, in_memory=True)
    for data in (in_memory, streamed(folder), ring8(n=64), two_domain):
        assert isinstance(data, DataSource)
        assert isinstance(data.shard(1, 2), DataSource) and len(data.shard(1, 2)) == len(data) // 2
        part = data.subset(torch.tensor([3, 1]))
        assert isinstance(part, DataSource) and len(part) == 2
        assert torch.equal(part.take(torch.tensor([1, 0])), data.take(torch.tensor([1, 3])))
        assert isinstance(data.to(CPU), DataSource)
        assert data.take(torch.tensor([3, 0])).shape == (2, *data.shape)
        assert data.head(3).shape == (3, *data.shape)
        assert len(data.fingerprint()) == 16
    assert not hasattr(streamed(folder), "modes")  # the mode centres belong to toy mixtures alone
    points = torch.randn(64, 2)
    assert METRICS.build({"name": "toy_modes"})(Evaluation(points, Data(points))) == {}


def test_in_memory_fingerprint_is_the_key_existing_caches_were_written_under():
    samples, labels = torch.randn(6, 1, 4, 4), torch.arange(6) % 2
    digest = hashlib.sha256(b"(6, 1, 4, 4)")
    digest.update(samples.numpy().tobytes())
    assert Data(samples).fingerprint() == digest.hexdigest()[:16]
    digest.update(labels.numpy().astype(np.int64).tobytes())
    assert Data(samples, labels, 2).fingerprint() == digest.hexdigest()[:16]


def test_a_streamed_fingerprint_changes_with_the_files_and_only_with_them(folder):
    data, decoded = counting_decodes(streamed(folder))
    first = data.fingerprint()
    assert len(decoded) == 1  # the files are stated, not decoded (one shows how they decode)
    assert streamed(folder).fingerprint() == first
    touched = folder / "dark" / "03.png"
    stat = touched.stat()
    os.utime(touched, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))  # rewritten, same size
    changed = streamed(folder).fingerprint()
    assert changed != first and streamed(folder).fingerprint() == changed
    touched.unlink()
    assert streamed(folder).fingerprint() not in (first, changed)
    assert streamed(folder, crop="random").fingerprint() != streamed(folder).fingerprint()


@pytest.mark.parametrize("crop", ["center", "random"])
def test_streamed_take_equals_the_in_memory_load_at_the_same_indices(folder, crop):
    indices = torch.tensor([5, 0, 47, 23, 23])
    in_memory = image_folder(str(folder), resolution=16, crop=crop, in_memory=True)
    from_disk = streamed(folder, crop=crop)
    assert torch.equal(from_disk.labels, in_memory.labels)
    assert torch.equal(from_disk.take(indices), in_memory.take(indices))


def test_the_classifier_learns_from_a_seeded_capped_subset_of_streamed_data(folder, monkeypatch):
    monkeypatch.setattr(classifier, "MAX_IMAGES", 20)
    data, decoded = counting_decodes(streamed(folder))
    state = classifier.train(data, CPU, steps=2)
    assert state["train_size"] + state["test_size"] == 20
    assert len(decoded) == 20  # the subset only, each image once
    assert torch.equal(classifier.pool(48), classifier.pool(48)) and len(classifier.pool(48)) == 20


@pytest.mark.slow
def test_the_default_metrics_run_on_a_streamed_folder(folder, tmp_path, monkeypatch):
    monkeypatch.setattr(classifier, "STEPS", 30)
    cfg = tiny_config(
        tmp_path,
        "dataset=image_folder",
        f"dataset.path={folder}",
        "dataset.resolution=16",
        "dataset.in_memory=false",
        "dataset.workers=0",
        "eval.every=2",
        "eval.n=32",
    )
    cfg["metrics"] = resolve(compose([]))["metrics"]  # the default set, whatever tiny_config chose
    train(cfg, tmp_path / "run")
    records = [json.loads(line) for line in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    measured = [r for r in records if "fid_classifier" in r]
    keys = ("fid_classifier", "kid_classifier", "precision_classifier", "recall_classifier", "class_kl")
    assert measured and all(math.isfinite(r[k]) for r in measured for k in keys)
