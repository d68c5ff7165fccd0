"""Feature-space metrics on real MNIST digits: the shipped classifier, classifier FID/KID/PR,
the reference-statistics cache, IS, per-class accuracy and the Inception-v3 path."""

import math
from pathlib import Path

import pytest
import torch

from gan_cli.datasets.base import Data
from gan_cli.errors import GanError
from gan_cli.metrics import classifier, extractors, features
from gan_cli.metrics.base import Evaluation
from gan_cli.metrics.frechet import frechet_distance, gaussian_stats
from gan_cli.metrics.inception import InceptionExtractor, InceptionV3, inception_weights
from gan_cli.registry import METRICS

CPU = torch.device("cpu")


def metric(name, root, **params):
    return METRICS.build({"name": name, **params}, root=root)


def noisy(images, std, seed=0):
    g = torch.Generator().manual_seed(seed)
    return (images + std * torch.randn(images.shape, generator=g)).clamp(-1, 1)


def test_the_shipped_classifier_fits_the_bundled_split_and_is_accurate(digits, root):
    net = extractors.extractor("classifier", digits, root, None, CPU)
    assert (classifier.SHIPPED / f"classifier-{digits.fingerprint()}.pt").is_file()
    assert not (Path(root) / "classifiers").exists()  # shipped: nothing trained
    assert net.test_accuracy >= 0.975
    held_in = net.predict(digits.samples[:2000])
    assert float((held_in == digits.labels[:2000]).double().mean()) > 0.97


@pytest.mark.slow
def test_real_vs_real_fid_of_two_halves_is_near_zero_and_noise_raises_it_monotonically(digits, root):
    net = extractors.extractor("classifier", digits, root, None, CPU)
    first, second = net.features(digits.samples[:5000]), net.features(digits.samples[5000:])
    halves = frechet_distance(*gaussian_stats(first), *gaussian_stats(second))
    fid = metric("fid", root, reference_n=5000, kid_subsets=20)
    sample = digits.samples[5000:7500]
    fids = [
        fid(Evaluation(noisy(sample, std), digits))["fid_classifier"] for std in (0.05, 0.1, 0.2, 0.4, 0.8)
    ]
    assert halves < 2.0
    assert halves < fids[0] / 5
    assert all(a < b for a, b in zip(fids, fids[1:])), fids


@pytest.mark.slow
def test_fid_record_names_its_feature_space_and_real_samples_score_well(digits, root):
    fid = metric("fid", root, reference_n=5000, kid_subsets=20)
    real = fid(Evaluation(digits.samples[5000:7500], digits))
    bad = fid(Evaluation(noisy(digits.samples[5000:7500], 0.5), digits))
    assert set(real) == {f"{k}_classifier" for k in ("fid", "kid", "kid_std", "precision", "recall")}
    assert real["precision_classifier"] > 0.8 and real["recall_classifier"] > 0.8
    assert bad["precision_classifier"] < 0.1 and bad["kid_classifier"] > 100 * abs(real["kid_classifier"])
    assert fid.protocol["features"] == "classifier" and fid.protocol["reference_n"] == 5000
    assert fid.protocol["classifier_test_accuracy"] >= 0.975


def test_reference_statistics_are_computed_once_and_cached_by_content(digits, root, monkeypatch):
    fid = metric("fid", root, reference_n=3000, kid_subsets=5)
    first = fid(Evaluation(digits.samples[:500], digits))
    cache = Path(root) / "stats" / f"{fid.protocol['reference_key']}.pt"
    assert cache.is_file()
    net = extractors.extractor("classifier", digits, root, None, CPU)
    calls = []
    monkeypatch.setattr(
        type(net), "features", lambda self, x: calls.append(len(x)) or features.Extractor.features(self, x)
    )
    again = metric("fid", root, reference_n=3000, kid_subsets=5)(Evaluation(digits.samples[:500], digits))
    assert again == first
    assert calls == [500]  # only the samples: the real features came from the cache
    other = Data(digits.samples[:4000], digits.labels[:4000], 10, "first 4000")
    assert other.fingerprint() != digits.fingerprint()


def test_metrics_leave_the_global_rng_alone(digits, root):
    state = torch.get_rng_state()
    metric("fid", root, reference_n=2000, kid_subsets=5)(Evaluation(digits.samples[:300], digits))
    metric("inception_score", root, features="classifier")(Evaluation(digits.samples[:300], digits))
    assert torch.equal(state, torch.get_rng_state())


def test_classifier_metrics_skip_unlabelled_data_and_points(digits, root):
    unlabelled = Data(digits.samples[:100], None, 0, "no labels")
    for name in ("fid", "class_accuracy"):
        assert (
            metric(name, root)(Evaluation(digits.samples[:50], unlabelled, torch.zeros(50, dtype=torch.long)))
            == {}
        )
    points = Data(torch.randn(100, 2), torch.zeros(100, dtype=torch.long), 1, "points")
    assert metric("fid", root)(Evaluation(torch.randn(50, 2), points)) == {}
    assert metric("class_accuracy", root)(Evaluation(digits.samples[:50], digits, None)) == {}


def test_class_accuracy_is_high_for_the_right_labels_and_low_for_wrong_ones(digits, root):
    acc = metric("class_accuracy", root)
    images, labels = digits.samples[:1000], digits.labels[:1000]
    right, wrong = acc(Evaluation(images, digits, labels)), acc(Evaluation(images, digits, (labels + 1) % 10))
    assert {f"class_acc_{c}" for c in range(10)} <= set(right)
    assert right["class_acc_mean"] > 0.97 and right["class_acc_min"] > 0.9
    assert wrong["class_acc_mean"] < 0.05


def test_class_modes_count_the_digits_an_unconditional_generator_reaches(digits, root):
    modes = metric("class_modes", root)
    real = modes(Evaluation(digits.samples[:2000], digits))
    assert real["class_modes"] == 10 and real["class_kl"] < 0.01
    threes = digits.samples[digits.labels == 3][:500]
    collapsed = modes(Evaluation(threes, digits))
    assert collapsed["class_modes"] == 1 and collapsed["class_kl"] == pytest.approx(math.log(10), abs=0.05)
    assert modes(Evaluation(threes, digits, torch.full((500,), 3))) == {}  # conditional: class_accuracy's job


def test_classifier_score_is_near_the_class_count_for_real_digits_and_1_for_one_digit(digits, root):
    score = metric("inception_score", root, features="classifier")
    assert score(Evaluation(digits.samples[:2000], digits))["is_classifier"] > 8.5
    ones = digits.samples[digits.labels == 1][:500]
    assert score(Evaluation(ones, digits))["is_classifier"] < 1.3


@pytest.mark.slow
def test_a_classifier_is_trained_seeded_cached_and_leaves_the_rng_alone(digits, tmp_path, monkeypatch):
    monkeypatch.setattr(classifier, "STEPS", 60)
    small = Data(digits.samples[:1500], digits.labels[:1500], 10, "1500 digits")
    state = torch.get_rng_state()
    net = classifier.trained_classifier(small, str(tmp_path), CPU)
    assert torch.equal(state, torch.get_rng_state())
    cached = tmp_path / "classifiers" / f"{small.fingerprint()}.pt"
    saved = torch.load(cached, weights_only=True)
    assert saved["test_size"] == 150 and saved["test_accuracy"] == net.test_accuracy > 0.5
    again = classifier.train(small, CPU)
    assert all(torch.equal(again["weights"][k], saved["weights"][k]) for k in saved["weights"])
    monkeypatch.setattr(classifier, "train", lambda *a: pytest.fail("the cached classifier was retrained"))
    assert classifier.trained_classifier(small, str(tmp_path), CPU).test_accuracy == net.test_accuracy


def test_missing_inception_weights_are_one_clear_line(tmp_path):
    with pytest.raises(GanError) as err:
        inception_weights(str(tmp_path / "nowhere.pth"))
    assert "\n" not in str(err.value) and "pt_inception-2015-12-05-6726825d.pth" in str(err.value)
    fid = metric("fid", str(tmp_path), features="inception", weights=str(tmp_path / "nowhere.pth"))
    images = torch.zeros(4, 1, 16, 16)
    with pytest.raises(GanError, match="Inception-v3 weights not found"):
        fid(Evaluation(images, Data(images, None, 0, "four")))


@pytest.mark.slow
def test_inception_features_and_probabilities_with_a_weights_file(tmp_path):
    weights = tmp_path / "inception.pth"
    torch.save(InceptionV3().state_dict(), weights)
    net = InceptionExtractor(weights, CPU)
    images = torch.rand(2, 1, 16, 16) * 2 - 1
    assert net.features(images).shape == (2, 2048)
    probabilities = net.probabilities(images)
    assert probabilities.shape == (2, 1008)
    assert torch.allclose(probabilities.sum(1), torch.ones(2))
    assert net.key.startswith("inception-")
    (tmp_path / "foreign.pth").write_bytes(b"not weights")
    with pytest.raises(GanError, match="not the FID Inception-v3 weights"):
        InceptionExtractor(tmp_path / "foreign.pth", CPU)
