"""Every config value is checked for null, type, range and shape before a run starts: one line,
exit 2, no run folder. Hostile values go through the real ``gan`` entry point in-process (its
``main`` prints the error and exits as the installed program does, in a fraction of a
subprocess's time); the checking function itself is tested on known values at its bounds."""

import inspect
import math
import subprocess
import sys
import typing
from typing import Literal

import pytest
import torch
import yaml

from gan_cli import schema
from gan_cli.config import SETTINGS, config_dir
from gan_cli.errors import GanError
from gan_cli.registry import DATASETS, LOSSES, METRICS, MODELS, TRICKS
from gan_cli.schema import (
    AtLeastTwo,
    Fraction,
    NonNegativeFloat,
    NonNegativeInt,
    PositiveFloat,
    PositiveInt,
    Probability,
    Seed,
)
from tests.conftest import TINY_CLI_RUN, tiny_config

REGISTRIES = (MODELS, LOSSES, DATASETS, TRICKS, METRICS)
# Supplied by the caller from the data, never written in YAML.
INJECTED = ("data_shape", "d_input_shape", "num_classes", "root")


@pytest.fixture
def run_main(gan, monkeypatch):
    """``gan ARGS`` through its entry point; (exit code, stderr). Training is never reached:
    a config that passes the checks fails the test instead of starting a run."""

    def no_training() -> None:
        raise AssertionError("the config passed every check and training was about to start")

    monkeypatch.setattr("gan_cli.training.task.main", no_training)

    def run(*args: str) -> tuple[int, str]:
        outcome = gan(*args)
        return outcome.exit_code, outcome.err

    return run


def assert_refused(code: int, err: str, fragment: str, folder) -> None:
    assert code == 2, err
    assert "Traceback" not in err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("error: ") and fragment in lines[0], lines[0]
    assert not (folder / "outputs").exists()


HOSTILE = [
    (["train.steps=null"], "train.steps must be an integer >= 1, got null"),
    (["train.batch_size=null"], "train.batch_size must be an integer >= 1, got null"),
    (["log.every=null"], "log.every must be an integer >= 1, got null"),
    (["train.lr_decay_start=null"], "train.lr_decay_start must be a number in [0, 1), got null"),
    (["train.betas=[0.5]"], "train.betas must be two numbers in [0, 1), got [0.5]"),
    (["train.betas=[2,3]"], "train.betas must be two numbers in [0, 1), got [2, 3]"),
    (["seed=99999999999999999999999"], "seed must be an integer in [0, 2**63), got 99999999999999999999999"),
    (["model=mlp", "model.hidden=-4"], "model 'mlp': hidden must be an integer >= 1, got -4"),
    (["model=mlp", "model.depth=0"], "model 'mlp': depth must be an integer >= 1, got 0"),
    (["dataset=ring8", "dataset.n=0"], "dataset 'ring8': n must be an integer >= 1, got 0"),
    (["model.z_dim=0"], "model 'dcgan': z_dim must be an integer >= 1, got 0"),
    (["dataset=ring8", "dataset.std=-1"], "dataset 'ring8': std must be a number >= 0, got -1"),
    # a string, a bool, nan where a number goes; a negative rate; a seed below 0
    (["train.steps=abc"], "train.steps must be an integer >= 1, got 'abc'"),
    (["model.g_channels=true"], "model 'dcgan': g_channels must be an integer >= 1, got true"),
    (["train.lr_d=nan"], "train.lr_d must be a number > 0, got nan"),
    (["train.lr_g=-0.001"], "train.lr_g must be a number > 0, got -0.001"),
    (["seed=-1"], "seed must be an integer in [0, 2**63), got -1"),
    (["train.nan_lr_factor=1.5"], "train.nan_lr_factor must be a number in (0, 1), got 1.5"),
    (["trainer.precision=fp64"], "trainer.precision must be one of auto, fp32, bf16, fp16, got 'fp64'"),
    (["train=3"], "train must be a section of keys"),
    (["~train.steps"], "missing a value for train.steps"),
    # group options: trick parameters, list shapes, choices among numbers, metrics, losses
    (["+trick.ema.decay=1.5"], "trick 'ema': decay must be a number in [0, 1), got 1.5"),
    (["+trick.ema.decy=0.9"], "trick 'ema' has no parameter 'decy' (did you mean 'decay'?)"),
    (
        ["trick=ganhacks", "trick.instance_noise.std=-0.1"],
        "trick 'instance_noise': std must be a number >= 0",
    ),
    (["loss=wgan_gp", "loss.gp_weight=-10"], "loss 'wgan_gp': gp_weight must be a number >= 0, got -10"),
    (
        ["model=progan", "model.batch_sizes=[16,0]"],
        "batch_sizes must be a list of integers >= 1, got [16, 0]",
    ),
    (["model=stylegan", "model.mixing_prob=1.1"], "mixing_prob must be a number in [0, 1], got 1.1"),
    (["dataset=image_folder", "dataset.path=x", "dataset.channels=4"], "channels must be 1 or 3, got 4"),
    (["+metrics.fid.kid_subset_size=1"], "metric 'fid': kid_subset_size must be an integer >= 2, got 1"),
    (["metrics.fid.kid_subset_size=2"], "to add a new key use +metrics.fid.kid_subset_size=..."),
    # schedules (gan_cli/training/schedules.py): their own keys, and start/end held to the value's range
    (["train.lr_g={schedule:cosine}"], "train.lr_g is a schedule without a start value"),
    (["train.lr_g={schedule:cosin,start:1}"], "train.lr_g.schedule must be one of constant, linear, cosine"),
    (["train.lr_g={schedule:linear,start:1,edn:0}"], "train.lr_g has no schedule key 'edn'"),
    (["train.lr_g={schedule:linear,start:-1,end:0}"], "train.lr_g.start must be a number > 0, got -1"),
    (
        ["train.betas=[0.5,{schedule:linear,start:0.9,end:1.5}]"],
        "train.betas.1.end must be a number in [0, 1)",
    ),
    (["train.lr_d={schedule:linear,start:1,warmup:-2}"], "train.lr_d.warmup must be an integer >= 0"),
    (
        ["train.lr_d={schedule:linear,start:1,warmup:5,until:3}"],
        "train.lr_d.until (3) must come after warmup + hold (5)",
    ),
    (
        ["train.lr_decay=linear", "train.lr_g={schedule:cosine,start:1}"],
        "train.lr_decay=linear and a schedule for train.lr_g",
    ),
    (
        ["train.steps=10", "train.lr_g={schedule:cosine,start:1,hold:10}"],
        "train.lr_g: warmup + hold (10 steps) leave no steps",
    ),
    (
        ["+trick.r1.gamma={schedule:linear,start:1,end:-1}"],
        "trick 'r1': gamma.end must be a number >= 0, got -1",
    ),
    (
        ["+trick.r1.every={schedule:linear,start:16,end:1}"],
        "trick 'r1': every cannot follow a schedule: it is not a real number",
    ),
    (["model.z_dim={schedule:linear,start:1}"], "model 'dcgan': z_dim must be an integer >= 1"),
    # counts only the data can refuse: it is loaded to check them, before any folder
    (
        ["dataset.split=test", "dataset.limit=20000"],
        "dataset.limit=20000 leaves nothing held out: the data holds 10000",
    ),
    (
        ["dataset.split=test", "model=ssgan", "dataset.labelled=9000"],
        "dataset.labelled=9000 needs 900 images of each class",
    ),
    (["model=ssgan", "dataset.labelled=-3"], "dataset.labelled must be an integer >= 1 or null, got -3"),
    # keys no component reads, with or without +, and a preset without its +
    (["+trian.steps=5000"], "unknown config key 'trian.steps' (did you mean 'train.steps'?)"),
    (["+trik.ema.decay=0.9"], "unknown config key 'trik.ema.decay' (did you mean 'trick.ema.decay'?)"),
    (["+train.stepz=5"], "unknown config key 'train.stepz' (did you mean 'train.steps'?)"),
    (["+log.evry=5"], "unknown config key 'log.evry' (did you mean 'log.every'?)"),
    (["+model.foo=1"], "model 'dcgan' has no parameter 'foo'"),
    (["+trick.emaa.decay=0.9"], "unknown trick 'emaa' (did you mean 'ema'?)"),
    (["+dataset.x=1"], "dataset 'mnist' has no parameter 'x'"),
    (["+loss.x=1"], "loss 'ns' has no parameter 'x'; it takes none"),
    (["experiment=ring"], "use +experiment=ring"),
    # a sweep is refused when any one of its jobs is
    (["-m", "seed=0,-1"], "seed must be an integer in [0, 2**63), got -1"),
]


@pytest.mark.parametrize("overrides,message", HOSTILE, ids=[" ".join(o) for o, _ in HOSTILE])
def test_hostile_values_are_refused_in_one_line_before_any_folder(
    overrides, message, tmp_path, monkeypatch, run_main
):
    monkeypatch.chdir(tmp_path)
    code, err = run_main("train", *overrides)
    assert_refused(code, err, message, tmp_path)


# One bad choice of a fixed set per group: refused by the argument's Literal annotation before
# any data is loaded or model built (a trick, built up front, refuses its own).
BAD_CHOICES = [
    (["model.d_norm=foo"], "model 'dcgan': d_norm must be batch or none, got 'foo'"),
    (
        ["model.conditioning=both"],
        "model 'dcgan': conditioning must be one of concat, projection, auxiliary, got 'both'",
    ),
    (
        ["model=stylegan", "model.style=adaptive"],
        "model 'stylegan': style must be one of adain, modulated, demodulated, got 'adaptive'",
    ),
    (["model=cyclegan", "model.norm=layer"], "model 'cyclegan': norm must be instance or batch, got 'layer'"),
    (
        ["model=cyclegan", "model.generator=vgg"],
        "model 'cyclegan': generator must be resnet or unet, got 'vgg'",
    ),
    (["dataset.split=val"], "dataset 'mnist': split must be one of auto, train, test, got 'val'"),
    (["dataset=cifar10", "dataset.split=auto"], "dataset 'cifar10': split must be train or test, got 'auto'"),
    (
        ["dataset=image_folder", "dataset.path=x", "dataset.crop=corner"],
        "dataset 'image_folder': crop must be center or random, got 'corner'",
    ),
    (
        ["dataset=image_folder", "dataset.path=x", "dataset.in_memory=yes"],
        "dataset 'image_folder': in_memory must be one of true, false, auto, got 'yes'",
    ),
    (
        ["dataset=mnist_domains", "dataset.domain=mirrored"],
        "dataset 'mnist_domains': domain must be one of edges, rotated, inverted, got 'mirrored'",
    ),
    (
        ["dataset=paired", "dataset.path=x", "dataset.layout=grid"],
        "dataset 'paired': layout must be folders or side_by_side, got 'grid'",
    ),
    (["metrics.fid.features=vgg"], "metric 'fid': features must be classifier or inception, got 'vgg'"),
    (
        ["metrics=inception", "metrics.inception_score.features=vgg"],
        "metric 'inception_score': features must be classifier or inception, got 'vgg'",
    ),
    (["+trick.diffaugment.policy=colour"], "unknown diffaugment policy 'colour'"),
]


@pytest.mark.parametrize("overrides,message", BAD_CHOICES, ids=[" ".join(o) for o, _ in BAD_CHOICES])
def test_a_bad_choice_is_refused_in_one_line_naming_the_valid_ones(
    overrides, message, tmp_path, monkeypatch, run_main
):
    monkeypatch.chdir(tmp_path)
    code, err = run_main("train", *overrides)
    assert_refused(code, err, message, tmp_path)


def test_a_preset_with_its_plus_passes_the_checks(tmp_path, monkeypatch, run_main):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(AssertionError, match="training was about to start"):
        run_main("train", "+experiment=ring", "train.steps=5")


@pytest.mark.slow
def test_the_installed_program_refuses_a_null_in_one_line(tmp_path):
    from tests.conftest import run_gan

    result = run_gan("train", "train.steps=null", *TINY_CLI_RUN, cwd=tmp_path)
    assert result.returncode == 2, result.stderr
    assert result.stderr.strip() == "error: train.steps must be an integer >= 1, got null"
    assert not (tmp_path / "outputs").exists()


@pytest.mark.parametrize(
    "override,message",
    [
        ("train.steps=null", "train.steps must be an integer >= 1, got null"),
        ("log.every=0", "log.every must be an integer >= 1, got 0"),
        ("checkpoint.keep=-1", "checkpoint.keep must be an integer >= 1, got -1"),
        ("device=null", "device must be a string, got null"),
    ],
)
def test_resume_overrides_get_the_same_checks(override, message, tmp_path, monkeypatch, run_main):
    run = tmp_path / "run"
    (run / "checkpoints").mkdir(parents=True)
    state = {"config": tiny_config(tmp_path), "data_shape": [1, 16, 16], "step": 2}
    torch.save(
        {"format_version": 1, **state, "generator": {}, "discriminator": {}}, run / "checkpoints" / "last.pt"
    )
    monkeypatch.chdir(tmp_path)
    code, err = run_main("resume", str(run), override)
    assert_refused(code, err, message, tmp_path)
    # a valid override passes the checks and reaches the step test
    code, err = run_main("resume", str(run), "train.steps=2")
    assert_refused(code, err, "nothing to do", tmp_path)


# --- the checking function on known values -------------------------------------------------

BOUNDS = [
    (PositiveInt, 1, 0),
    (NonNegativeInt, 0, -1),
    (AtLeastTwo, 2, 1),
    (PositiveFloat, 1e-12, 0.0),
    (NonNegativeFloat, 0.0, -1e-12),
    (Probability, 0.0, -1e-12),
    (Probability, 1.0, 1.0 + 1e-9),
    (Fraction, 0.0, -1e-12),
    (Fraction, 0.999999, 1.0),
    (Seed, 0, -1),
    (Seed, 2**63 - 1, 2**63),
]


@pytest.mark.parametrize("annotation,inside,outside", BOUNDS)
def test_a_value_at_each_bound_passes_and_one_past_it_fails(annotation, inside, outside):
    assert schema.fits(inside, annotation)
    assert not schema.fits(outside, annotation)
    with pytest.raises(GanError, match=r"^x must be .*, got "):
        schema.check(outside, annotation, "x")


@pytest.mark.parametrize(
    "value,annotation,fits",
    [
        (None, PositiveInt, False),
        (None, PositiveInt | None, True),
        (None, str | None, True),
        (True, int, False),  # YAML's true is not 1
        (1, float, True),  # an int stands for a float
        (1.0, int, False),
        ("3", int, False),
        (math.nan, float, False),
        (math.inf, NonNegativeFloat, False),
        ([0.5, 0.999], tuple[Fraction, Fraction], True),
        ([0.5], tuple[Fraction, Fraction], False),
        ([0.5, 0.9, 0.1], tuple[Fraction, Fraction], False),
        ([0.5, 1], tuple[Fraction, Fraction], False),
        (0.5, tuple[Fraction, Fraction], False),
        ([], tuple[PositiveInt, ...], True),
        ([4, 8], tuple[PositiveInt, ...], True),
        ([4, 0], tuple[PositiveInt, ...], False),
        (3, Literal[1, 3], True),
        (True, Literal[1, 3], False),
        (3.0, Literal[1, 3], False),
        ("stop", Literal["stop", "rollback"], True),
        ("Stop", Literal["stop", "rollback"], False),
        ("auto", bool | str, True),
        ({"a": 1}, int, False),
    ],
)
def test_null_type_and_shape(value, annotation, fits):
    assert schema.fits(value, annotation) is fits


@pytest.mark.parametrize(
    "annotation,words",
    [
        (PositiveInt, "an integer >= 1"),
        (PositiveFloat, "a number > 0"),
        (Probability, "a number in [0, 1]"),
        (Fraction, "a number in [0, 1)"),
        (Seed, "an integer in [0, 2**63)"),
        (tuple[Fraction, Fraction], "two numbers in [0, 1)"),
        (tuple[PositiveInt, ...], "a list of integers >= 1"),
        (str | None, "a string or null"),
        (Literal["stop", "rollback"], "stop or rollback"),
        (Literal["auto", "on", "off"], "one of auto, on, off"),
        (Literal[1, 3], "1 or 3"),
        (bool, "true or false"),
        (bool | Literal["auto"], "one of true, false, auto"),
        (Literal["a", "b"] | None, "one of a, b, null"),
        (PositiveInt | None, "an integer >= 1 or null"),
    ],
)
def test_what_an_annotation_admits_reads_as_words(annotation, words):
    assert schema.describe(annotation) == words


def test_the_message_names_the_key_and_shows_the_value_as_yaml():
    with pytest.raises(GanError) as err:
        schema.check([0.5, None, True, "a"], tuple[Fraction, Fraction], "train.betas")
    assert str(err.value) == "train.betas must be two numbers in [0, 1), got [0.5, null, true, 'a']"


# --- the declarations themselves -----------------------------------------------------------


def constructor_arguments():
    for registry in REGISTRIES:
        for name in registry.names():
            cls = registry.get(name)
            hints = typing.get_type_hints(cls.__init__ if inspect.isclass(cls) else cls, include_extras=True)
            for param in inspect.signature(cls).parameters.values():
                if param.name not in INJECTED:
                    yield f"{registry.group} '{name}': {param.name}", hints.get(param.name), param.default


def bare_numbers(annotation) -> list:
    """The int and float types in ``annotation`` that carry no range (nor a list of choices)."""
    if annotation in (int, float):
        return [annotation]
    if typing.get_origin(annotation) in (typing.Annotated, Literal):
        return []
    return [t for arg in typing.get_args(annotation) for t in bare_numbers(arg)]


@pytest.mark.parametrize("where,annotation,default", list(constructor_arguments()))
def test_every_numeric_argument_declares_its_range_and_its_default_fits(where, annotation, default):
    assert annotation is not None, f"{where} has no annotation"
    assert not bare_numbers(annotation), f"{where} is a number without a declared range"
    if default is not inspect.Parameter.empty:
        schema.check(list(default) if isinstance(default, tuple) else default, annotation, where)


def choices_and_tables():
    from gan_cli.datasets import cifar10, fashion_mnist, mnist_domains
    from gan_cli.models import dcgan, image_to_image

    def hint(function, name):
        return typing.get_type_hints(function)[name]

    yield "dcgan d_norm", dcgan.DNorm, dcgan.D_NORMS
    yield "dcgan g_activation", hint(dcgan.DCGAN.__init__, "g_activation"), dcgan.G_ACTIVATIONS
    yield "cyclegan/pix2pix norm", image_to_image.Norm, image_to_image.NORMS
    yield "mnist_domains domain", hint(mnist_domains.mnist_domains, "domain"), mnist_domains.TRANSFORMS
    yield "cifar10 split", hint(cifar10.cifar10, "split"), cifar10.BATCHES
    yield "fashion_mnist split", hint(fashion_mnist.fashion_mnist, "split"), fashion_mnist.FILES


def test_every_choice_an_annotation_admits_has_an_entry_in_the_table_it_selects():
    # the constructors index these tables with the checked value and no check of their own
    for where, annotation, table in choices_and_tables():
        assert set(typing.get_args(annotation)) == set(table), where


def test_the_settings_schema_declares_exactly_the_keys_of_config_yaml():
    defaults = yaml.safe_load((config_dir() / "config.yaml").read_text())
    settings = {k: v for k, v in defaults.items() if k not in ("defaults", "hydra", "dataset")}
    assert settings.keys() == SETTINGS.keys()
    # config.yaml gives the keys every dataset takes their defaults; the registry checks them
    assert defaults["dataset"].keys() == DATASETS.common.keys()
    for section, keys in SETTINGS.items():
        if isinstance(keys, dict):
            assert settings[section].keys() == keys.keys(), section


def test_schema_imports_nothing_heavy():
    # every component module imports gan_cli.schema; `gan --help` must stay instant
    probe = "import sys, gan_cli.schema; print('torch' in sys.modules)"
    assert (
        subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True).stdout.strip()
        == "False"
    )
