"""``gan attack``: FGSM and PGD against the shipped MNIST classifier (on its held-out digits)
and against a tiny trained D, the pictures and CSV, and the refusals."""

import csv

import pytest
import torch
from PIL import Image

from gan_cli.commands import attack
from gan_cli.metrics import classifier
from gan_cli.training.loop import train
from tests.conftest import run_gan, tiny_config

CPU = torch.device("cpu")
N = 128  # held-out digits attacked


@pytest.fixture(scope="module")
def target(digits, root):
    net = classifier.trained_classifier(digits, root, CPU)
    return attack.ClassifierTarget(net, [str(i) for i in range(10)], "MNIST classifier")


@pytest.fixture(scope="module")
def held(digits):
    """The first N held-out digits and their labels."""
    indices = classifier.held_out(len(digits))[:N]
    return digits.take(indices), digits.labels[indices]


@pytest.fixture(autouse=True)
def _in_tmp(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("GAN_DATA", str(tmp_path / "data"))


def test_the_held_out_digits_are_the_ones_the_shipped_classifier_was_tested_on(digits, target):
    chosen, test, fit, _ = classifier.split(len(digits))
    held = classifier.held_out(len(digits))
    assert set(held.tolist()) == set(chosen[test].tolist())
    assert not set(held.tolist()) & set(chosen[fit].tolist())
    assert len(held) + len(fit) == len(digits)
    # The split train() drew the shipped weights' test set with: its recorded size and accuracy.
    state = torch.load(
        classifier.SHIPPED / f"classifier-{digits.fingerprint()}.pt", map_location="cpu", weights_only=True
    )
    assert len(held) == state["test_size"] and len(fit) == state["train_size"]
    measured = classifier.accuracy(target.extractor.network, digits.take(held), digits.labels[held])
    assert measured == state["test_accuracy"]


@pytest.mark.parametrize("eps", [0.05, 0.3])
def test_perturbations_stay_within_2_eps_and_images_within_minus_1_to_1(target, held, eps):
    images, labels = held[0][:32], held[1][:32]
    generator = torch.Generator().manual_seed(0)
    adversarial = {
        "fgsm": attack.fgsm(target.loss_of, images, labels, eps),
        "pgd": attack.pgd(target.loss_of, images, labels, eps, 5, attack.madry_alpha(eps, 5), generator),
    }
    for method, adv in adversarial.items():
        assert (adv - images).abs().max() <= 2 * eps + 1e-6, method
        assert adv.min() >= -1 and adv.max() <= 1, method
        assert (adv != images).any(), method
    again = attack.pgd(
        target.loss_of, images, labels, eps, 5, attack.madry_alpha(eps, 5), torch.Generator().manual_seed(0)
    )
    assert torch.equal(again, adversarial["pgd"])  # the random start comes from the generator


def test_fgsm_at_0_3_fools_the_classifier_and_pgd_at_least_as_much(target, held):
    fgsm = attack.run_attack(target, *held, [0.3], "fgsm", 10, seed=0)
    pgd = attack.run_attack(target, *held, [0.3], "pgd", 10, seed=0)
    assert fgsm.clean == pgd.clean >= 0.9
    assert fgsm.attacked[0.3] < 0.5 * fgsm.clean
    assert pgd.attacked[0.3] <= fgsm.attacked[0.3]


def test_a_tiny_eps_changes_no_decision(target, held):
    for method in attack.METHODS:
        results = attack.run_attack(target, *held, [1e-4], method, 3, seed=0)
        assert results.attacked[1e-4] == results.clean, method
        assert results.originals.captions[0].split()[0] == results.adversarial[1e-4].captions[0].split()[0]


@pytest.mark.slow
def test_the_command_writes_pictures_and_csv_and_refuses_to_write_them_again(tmp_path):
    args = ["attack", "dataset.split=test", "dataset.download=false", "-n", "64", "--eps", "0.1,0.3"]
    args += ["--out", "att", "--device", "cpu"]
    result = run_gan(*args, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    out = tmp_path / "att"
    assert sorted(p.name for p in out.iterdir()) == ["accuracy.csv", "eps_0.1.png", "eps_0.3.png"]
    rows = list(csv.DictReader((out / "accuracy.csv").open()))
    assert [r["eps"] for r in rows] == ["0", "0.1", "0.3"]
    assert {(r["method"], r["target"], r["n"]) for r in rows} == {("fgsm", "classifier", "64")}
    accuracies = [float(r["accuracy"]) for r in rows]
    assert accuracies[0] >= 0.9 and accuracies[2] < accuracies[0]
    assert "ε (pixel units)" in result.stdout and "0 (clean)" in result.stdout
    assert f"{accuracies[2]:.3f}" in result.stdout
    picture = Image.open(out / "eps_0.3.png")
    assert picture.mode == "RGB" and picture.width > 8 * 128 and picture.height > 3 * 128  # upscaled

    before = {p.name: p.read_bytes() for p in out.iterdir()}
    again = run_gan(*args, cwd=tmp_path)
    assert again.returncode == 2 and again.stdout == ""
    assert again.stderr.strip().count("\n") == 0 and "already exists" in again.stderr
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before


@pytest.mark.parametrize(
    "args, message",
    [
        (["--eps", "0"], "values in (0, 1]"),
        (["--eps", "1.5"], "values in (0, 1]"),
        (["--eps", "0.1,,0.2"], "values in (0, 1]"),
        (["--eps", "a lot"], "values in (0, 1]"),
        (["--steps", "0"], "--steps must be at least 1"),
        (["-n", "0"], "-n must be at least 1"),
        (["--method", "fsgm"], "did you mean 'fgsm'"),
        (["--target", "D"], "unknown --target 'D'"),
        (["--target", "d"], "--target d attacks a trained D: name its checkpoint"),
        (["--ckpt", "run"], "add --target d"),
        (["dataset=ring8"], "needs images"),
    ],
)
def test_bad_options_are_one_line_and_write_nothing(gan, tmp_path, args, message):
    result = gan("attack", "--out", "att", *args)
    assert result.exit_code == 2
    assert message in result.err and result.err.strip().count("\n") == 0
    assert "Traceback" not in result.output
    assert not (tmp_path / "att").exists()


def test_data_without_labels_is_refused_for_the_classifier(gan, tmp_path):
    (tmp_path / "pics").mkdir()
    for i in range(3):
        Image.new("L", (16, 16), 60 * i).save(tmp_path / "pics" / f"{i}.png")
    result = gan("attack", "dataset=image_folder", f"dataset.path={tmp_path / 'pics'}", "--out", "att")
    assert result.exit_code == 2 and "has no class labels" in result.err
    assert not (tmp_path / "att").exists()


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    """A tiny DCGAN trained for 20 steps on MNIST at 16 px."""
    tmp = tmp_path_factory.mktemp("d")
    cfg = tiny_config(tmp, "log.d_monitor=false")
    cfg["train"]["steps"] = cfg["checkpoint"]["every"] = 20  # tiny_config's own 4 steps win over an override
    train(cfg, tmp / "run")
    return tmp / "run"


def test_the_d_target_attacks_a_trained_discriminator(run_dir):
    target, images, labels = attack.d_target(run_dir, 64, CPU)
    assert len(images) == 64 and labels is None and target.threshold == 0.0
    assert "(step 20)" in target.description
    for method in attack.METHODS:
        results = attack.run_attack(target, images, labels, [1e-6, 0.3], method, 5, seed=0)
        assert 0 <= results.clean <= 1 and 0 <= results.attacked[0.3] <= 1
        assert results.attacked[1e-6] == results.clean, method
        assert results.attacked[0.3] < results.clean, method  # D calls fewer reals real


def test_the_d_target_through_the_command(gan, run_dir, tmp_path):
    result = gan("attack", "--target", "d", "--ckpt", str(run_dir), "-n", "16", "--eps", "0.2", "--out", "a")
    assert result.exit_code == 0, result.output
    assert "called real" in result.out
    rows = list(csv.DictReader((tmp_path / "a" / "accuracy.csv").open()))
    assert [(r["eps"], r["target"], r["n"]) for r in rows] == [("0", "d", "16"), ("0.2", "d", "16")]
    refused = gan("attack", "dataset=cifar10", "--target", "d", "--ckpt", str(run_dir), "--out", "b")
    assert refused.exit_code == 2 and "leave out the overrides" in refused.err
