"""The contract every registered component inherits: a new loss, trick, dataset or metric gets
these checks by registering, and fails here until its author says how to make it CPU-sized.

Each test is parametrized over a registry's names, so nothing is listed by hand twice: the
tables below hold only what a component needs to be small (tiny parameters, a few files, the
data a metric is called on). Models meet their shape, train-step and state contract in
tests/test_models.py (the two-domain families in tests/test_<family>.py); here they share the
refusal check, and the two-domain families get the state round trip test_models.py leaves out.
"""

from __future__ import annotations

import copy
import inspect
import io
import math
import typing
from typing import Any, NamedTuple

import pytest
import torch
import yaml
from omegaconf import OmegaConf

from gan_cli import components, schema
from gan_cli.config import config_dir, group_options
from gan_cli.datasets.base import DataSource, data_spec
from gan_cli.datasets.unpaired import TwoDomainData
from gan_cli.errors import GanError
from gan_cli.metrics.base import Evaluation
from gan_cli.models.inputs import Inputs
from gan_cli.registry import DATASETS, LOSSES, METRICS, TRICKS
from tests.conftest import tiny_config
from tests.test_compat import image_folder
from tests.test_fashion_cifar import TINY_OFFICIAL
from tests.test_models import TWO_DOMAIN
from tests.test_values import INJECTED, REGISTRIES


def entry(table: dict[str, Any], table_name: str, group: str, name: str) -> Any:
    """``table[name]``, or a failure telling the component's author what to add."""
    if name not in table:
        pytest.fail(
            f"{group} '{name}' is registered but has no entry in {table_name} (tests/test_contracts.py): "
            "add how to make it CPU-sized there, and it gets every contract test"
        )
    return table[name]


def set_entries(group: str, option: str) -> list[dict[str, Any]]:
    """The components a set YAML (``conf/trick/``, ``conf/metrics/``) names, as registry configs
    (Hydra's ``defaults`` list, which only picks a loss, left out; interpolations such as
    r3gan's one gamma resolved)."""
    text = OmegaConf.to_container(OmegaConf.load(config_dir() / group / f"{option}.yaml"), resolve=True) or {}
    text.pop("defaults", None)
    return components.named_configs(text)


def same(a: Any, b: Any) -> bool:
    """Equal state: tensors exactly, containers entry by entry."""
    if isinstance(a, torch.Tensor) or isinstance(b, torch.Tensor):
        return isinstance(a, torch.Tensor) and isinstance(b, torch.Tensor) and torch.equal(a, b)
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    return a == b


def floats(module: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in module.state_dict().items() if v.is_floating_point()}


def all_finite(record: dict[str, Any]) -> bool:
    return all(math.isfinite(float(v)) for v in record.values())


# ---- every component: a bad parameter is refused, by name -----------------------------------


def outside(annotation: Any) -> Any:
    """A value ``annotation`` refuses: -1 where no negative number is allowed, else a value of
    another type; ``...`` when it refuses all of them."""
    return next((v for v in (-1, 0.5, "no-such-choice", None) if not schema.fits(v, annotation)), ...)


@pytest.mark.parametrize(
    "registry,name", [pytest.param(r, n, id=f"{r.group}-{n}") for r in REGISTRIES for n in r.names()]
)
def test_an_unknown_key_and_a_value_outside_each_annotation_are_refused_by_name(registry, name):
    cls = registry.get(name)
    with pytest.raises(GanError, match=f"^{registry.group} '{name}' has no parameter 'no_such_key'"):
        registry.check({"name": name, "no_such_key": 1}, INJECTED)
    hints = typing.get_type_hints(cls.__init__ if inspect.isclass(cls) else cls, include_extras=True)
    for param in inspect.signature(cls).parameters:
        if param in INJECTED:
            continue
        bad = outside(hints.get(param))
        assert bad is not ..., f"{registry.group} '{name}': nothing refuses a bad value of {param}"
        with pytest.raises(GanError, match=f"^{registry.group} '{name}': {param} must be "):
            registry.check({"name": name, param: bad}, INJECTED)


# ---- models: the two-domain families' state round trip ----------------------------------------


@pytest.mark.parametrize("model_name", TWO_DOMAIN)
def test_a_two_domain_model_loaded_into_another_build_generates_alike(model_name, tmp_path):
    cfg = tiny_config(tmp_path, f"model={model_name}", "dataset=mnist_domains")
    built = []
    for seed in (0, 1):
        torch.manual_seed(seed)
        parts = components.build(cfg, (1, 16, 16), 0)
        built.append(parts.model.eval())
    x = torch.rand(4, 1, 16, 16) * 2 - 1
    inputs = parts.inputs(4, torch.Generator().manual_seed(0), data=TwoDomainData(x, other=-x))

    def outputs():
        """What `gan sample` and, for translators, `gan translate` show of each build."""
        results = []
        for model in built:
            torch.manual_seed(2)  # pix2pix's dropout is its noise, in eval mode too
            shown = [model.generate(inputs)]
            if hasattr(model, "translate"):
                shown.append(model.translate(x, "AtoB"))
            results.append(torch.cat([s.flatten() for s in shown]))
        return results

    assert not torch.equal(*outputs())
    built[1].load_state_dict(built[0].state_dict())
    assert torch.equal(*outputs())


# ---- losses -------------------------------------------------------------------------------------

# Losses whose D term leaves the fakes out at the start by design: BEGAN's k_0 = 0 weighs their
# energy by nothing until G's fakes are reconstructed better than gamma times the reals.
D_STARTS_WITHOUT_FAKES = ("began",)


@pytest.mark.parametrize("name", LOSSES.names())
def test_a_loss_builds_from_its_yaml_and_gives_finite_scalars_with_gradients(name):
    path = config_dir() / "loss" / f"{name}.yaml"
    assert path.is_file(), f"loss '{name}' is registered but has no conf/loss/{name}.yaml: add one"
    loss = LOSSES.build(yaml.safe_load(path.read_text()))
    real, fake = (0.5 * torch.randn(6)).requires_grad_(), (0.5 * torch.randn(6)).requires_grad_()
    d_loss = loss.d_loss(real, fake, torch.ones(6), torch.zeros(6))
    g_loss = loss.g_loss(fake, real if loss.g_uses_real else None)
    d_inputs = (real,) if name in D_STARTS_WITHOUT_FAKES else (real, fake)
    for value, inputs in ((d_loss, d_inputs), (g_loss, (fake,))):
        assert value.dim() == 0 and torch.isfinite(value)
        for grad in torch.autograd.grad(value, inputs):
            assert torch.isfinite(grad).all() and grad.abs().sum() > 0


# ---- tricks -------------------------------------------------------------------------------------

# Each trick's parameters for its tiny step ({}: its defaults are small enough). Chosen so the
# step exercises its state: a replay pool that is full after one batch, a short schedule.
TINY_TRICKS: dict[str, dict[str, Any]] = {
    "ada": {"p": 0.2, "interval": 1, "speed_images": 1000},
    "bcr": {},
    "diffaugment": {},
    "drift": {},
    "dropout_g": {},
    "ema": {"decay": 0.5},
    "experience_replay": {"size": 4},
    "feature_matching": {},
    "gradient_penalty": {},
    "historical_averaging": {},
    "instance_noise": {"anneal_steps": 4},
    "label_smoothing": {},
    "lecam": {},
    "minibatch_discrimination": {"num_kernels": 4, "kernel_dim": 4},
    "minibatch_stddev": {},
    "mixed_batches": {},
    "n_critic": {"n": 2},
    "noisy_labels": {},
    "orthogonal_regularization": {},
    "pacgan": {},
    "r1": {},
    "r2": {},
    "spectral_norm": {"generator": True},
    "simultaneous": {},
    "sphere_latent": {},
    "top_k": {"anneal_steps": 1},
    "ttur": {},
    "unrolled": {"k": 2},
    "virtual_batch_norm": {"reference_size": 8},
    "weight_clipping": {},
    "zcr": {},
}
# Where a trick trains: the first setting whose compatibility check accepts it.
SETTINGS = {"points": ("model=mlp", "dataset=ring8"), "images": ("model=dcgan", "dataset=mnist")}


def trick_cases() -> list:
    """Every trick with its tiny parameters, and with each set YAML's parameters for it (once
    where several sets give the same)."""
    cases = [pytest.param(name, None, id=name) for name in TRICKS.names()]
    seen = set()
    for option in group_options("trick"):
        for t in set_entries("trick", option):
            if repr(sorted(t.items())) not in seen:
                seen.add(repr(sorted(t.items())))
                cases.append(pytest.param(t["name"], t, id=f"{t['name']}@{option}"))
    return cases


@pytest.fixture(scope="module")
def settings(tmp_path_factory):
    """Each setting's run config (no tricks) and its data, loaded once."""
    root = tmp_path_factory.mktemp("tricks")
    loaded = {}
    for setting, overrides in SETTINGS.items():
        cfg = tiny_config(root, *overrides, "trick=none")
        loaded[setting] = cfg, DATASETS.build(cfg["dataset"], root=cfg["data"]["root"])
    return loaded


class Trainer(NamedTuple):
    parts: components.Components
    step: Any
    optimizers: tuple[torch.optim.Optimizer, torch.optim.Optimizer]

    @classmethod
    def build(cls, cfg: dict, data: DataSource, seed: int) -> Trainer:
        """The run's components, optimizers and step, as the training loop makes them."""
        torch.manual_seed(seed)
        parts, tcfg = components.build(cfg, data.shape, data.num_classes), cfg["train"]
        model, betas = parts.model, tuple(tcfg["betas"])
        g_opt = torch.optim.Adam(model.generator.parameters(), lr=tcfg["lr_g"], betas=betas)
        d_opt = torch.optim.Adam(model.discriminator.parameters(), lr=tcfg["lr_d"], betas=betas)
        parts.tricks.configure(g_opt, d_opt)
        step = model.step_class(model, parts.loss, parts.tricks, g_opt, d_opt, parts.latent)
        return cls(parts, step, (g_opt, d_opt))

    def train(self, step: int, data: DataSource) -> dict[str, torch.Tensor]:
        torch.manual_seed(100 + step)  # both copies of a run draw the same latents and noise
        return self.step(step, data.batches(8, seed=step))

    def state(self) -> dict[str, Any]:
        """What a checkpoint keeps of the run, written and read back as checkpoints are."""
        g_opt, d_opt = self.optimizers
        state = {
            "model": self.parts.model.state_dict(),
            "g_optimizer": g_opt.state_dict(),
            "d_optimizer": d_opt.state_dict(),
            "tricks": self.parts.tricks.state_dict(),
        }
        buffer = io.BytesIO()
        torch.save(state, buffer)
        buffer.seek(0)
        return torch.load(buffer, weights_only=True)

    def load(self, state: dict[str, Any]) -> None:
        g_opt, d_opt = self.optimizers
        self.parts.model.load_state_dict(state["model"])
        g_opt.load_state_dict(state["g_optimizer"])
        d_opt.load_state_dict(state["d_optimizer"])
        self.parts.tricks.load_state_dict(state["tricks"])


def setting_for(name: str, params: dict[str, Any], settings: dict) -> tuple[dict, DataSource]:
    """The first setting (run config with this trick, its data) the compatibility check accepts."""
    refusals = []
    for base, data in settings.values():
        cfg = copy.deepcopy(base)
        cfg["trick"] = {name: params}
        try:
            components.check(cfg)
            return cfg, data
        except GanError as err:
            refusals.append(str(err))
    pytest.skip(f"no tiny setting accepts {name}: {'; '.join(refusals)}")


@pytest.mark.parametrize("name,from_set", trick_cases())
def test_a_trick_trains_one_step_and_a_copy_resumed_from_its_state_trains_alike(name, from_set, settings):
    if from_set is None:
        params = entry(TINY_TRICKS, "TINY_TRICKS", "trick", name)
    else:
        params = {k: v for k, v in from_set.items() if k != "name"}
    cfg, data = setting_for(name, params, settings)

    run = Trainer.build(cfg, data, seed=0)
    before = floats(run.parts.model.generator)
    scalars = run.train(1, data)
    assert all(torch.isfinite(v) for v in scalars.values()), scalars
    after = floats(run.parts.model.generator)
    assert any(not torch.equal(after[k], v) for k, v in before.items()), "G's weights did not change"

    resumed = Trainer.build(cfg, data, seed=1)
    resumed.load(run.state())
    assert same(resumed.parts.tricks.state_dict(), run.parts.tricks.state_dict())
    run.train(2, data)
    resumed.train(2, data)
    assert same(resumed.parts.model.state_dict(), run.parts.model.state_dict()), (
        "the resumed copy trained differently"
    )
    assert same(resumed.parts.tricks.state_dict(), run.parts.tricks.state_dict())


# ---- datasets -----------------------------------------------------------------------------------


def bundled(tmp_path, monkeypatch) -> list[str]:
    """Shipped or generated: tests/conftest.py's TINY_DATASETS shrinks it."""
    return []


def served(name: str):
    def setup(tmp_path, monkeypatch) -> list[str]:
        TINY_OFFICIAL[name](tmp_path, monkeypatch)  # tiny official files behind a file:// mirror
        return []

    return setup


def one_folder(tmp_path, monkeypatch) -> list[str]:
    return image_folder(tmp_path / "images")


def two_folders(tmp_path, monkeypatch) -> list[str]:
    from PIL import Image

    for domain, shade in (("A", 40), ("B", 200)):
        (tmp_path / domain).mkdir()
        for i in range(2):
            Image.new("RGB", (12, 12), (shade, i * 90, 0)).save(tmp_path / domain / f"{i}.png")
    return [f"dataset.path={tmp_path}", "dataset.resolution=8"]


# How each dataset is made available offline, as overrides to the tiny config.
DATA_SETUPS = {
    "cifar10": served("cifar10"),
    "fashion_mnist": served("fashion_mnist"),
    "grid25": bundled,
    "image_folder": one_folder,
    "mnist": bundled,
    "mnist_domains": bundled,
    "paired": two_folders,
    "ring8": bundled,
    "stacked_mnist": bundled,
    "unpaired": two_folders,
}


@pytest.mark.parametrize("name", DATASETS.names())
def test_a_dataset_loads_offline_as_promised_in_range_with_a_stable_fingerprint(name, tmp_path, monkeypatch):
    setup = entry(DATA_SETUPS, "DATA_SETUPS", "dataset", name)
    cfg = tiny_config(tmp_path, f"dataset={name}", *setup(tmp_path, monkeypatch))
    root = cfg["data"]["root"]
    data, again = (DATASETS.build(cfg["dataset"], root=root) for _ in range(2))
    assert isinstance(data, DataSource)
    assert data_spec(cfg["dataset"], root) == (tuple(data.shape), data.num_classes)
    n = min(4, len(data))
    head = data.head(n)
    assert n > 0 and head.shape == (n, *data.shape) and torch.isfinite(head).all()
    if len(data.shape) == 3:
        assert head.min() >= -1 and head.max() <= 1
    assert data.fingerprint() == again.fingerprint()


# ---- metrics ------------------------------------------------------------------------------------


class Probe(NamedTuple):
    """The data a metric is called on (where it applies), its tiny parameters, whether it
    scores generated labels, and module constants that make it quick."""

    data: str  # a key of probe_data
    params: dict[str, Any] = {}
    conditional: bool = False
    quick: dict[str, Any] = {}
    targets: bool = False  # scores outputs against targets (here: the same images in another order)
    codes: bool = False  # reads the inputs' categorical code (here: the images' own classes)
    classifier: bool = False  # scores the model's classifier on held-out data (here: the probe data)
    split: bool = False  # compares the run's training and held-out data (here: the probe data as both)


PROBES = {
    "class_accuracy": Probe("digits", conditional=True),
    "cas": Probe("digits", {"real_labels": [20], "steps": 5}, conditional=True),
    "class_modes": Probe("digits"),
    "copying": Probe("digits", split=True),
    "code_agreement": Probe("digits", codes=True),
    "fid": Probe("digits", {"reference_n": 256, "kid_subsets": 2, "kid_subset_size": 16}),
    # Inception-v3's weights are not shipped: the classifier's feature space stands in.
    "inception_score": Probe("digits", {"features": "classifier", "splits": 2}),
    "psnr_ssim": Probe("digits", targets=True),
    "stacked_modes": Probe("stacked", quick={"gan_cli.metrics.stacked_modes.DIGIT_STEPS": 10}),
    "test_error": Probe("digits", classifier=True),
    "toy_modes": Probe("points"),
}


def brightness_classes(images: torch.Tensor) -> torch.Tensor:
    """A stand-in classifier: ten classes by mean brightness."""
    brightness = images.flatten(1).mean(1, keepdim=True)
    return (-(brightness - torch.linspace(-1, 1, 10)).abs()).softmax(1)


@pytest.fixture(scope="module")
def probe_data(tmp_path_factory):
    """The bundled MNIST split at 32x32 (the shipped classifier's data), Stacked MNIST, 2-D points."""
    root = str(tmp_path_factory.mktemp("metrics"))
    configs = {
        "digits": {"name": "mnist", "resolution": 32, "download": False, "split": "test"},
        "stacked": {"name": "stacked_mnist", "n": 256, "resolution": 16, "download": False},
        "points": {"name": "ring8", "n": 512},
    }
    return root, {kind: DATASETS.build(cfg, root=root) for kind, cfg in configs.items()}


@pytest.mark.parametrize("name", METRICS.names())
def test_a_metric_builds_from_its_yamls_and_gives_finite_numbers_or_nothing(name, probe_data, monkeypatch):
    probe = entry(PROBES, "PROBES", "metric", name)
    root, data = probe_data
    shipped = [
        m for option in group_options("metrics") for m in set_entries("metrics", option) if m["name"] == name
    ]
    for cfg in shipped:
        METRICS.build(cfg, root=root)
    for target, value in probe.quick.items():
        monkeypatch.setattr(target, value)
    metric = METRICS.build({"name": name, **probe.params}, root=root)
    other = "digits" if probe.data == "points" else "points"
    for kind in (probe.data, other):
        labels = data[kind].labels[:64] if probe.conditional else None
        outputs = data[kind].head(64)
        targets = outputs.flip(0) if probe.targets else None
        codes = None
        if probe.codes and data[kind].labels is not None:
            codes = Inputs({"category": data[kind].labels[:64]})
        real = {"held_out": data[kind], "classify": brightness_classes} if probe.classifier else {}
        if probe.split:
            real = {"held_out": data[kind], "train": data[kind]}
        record = metric(Evaluation(outputs, data[kind], labels, inputs=codes, targets=targets, **real))
        assert isinstance(record, dict) and all_finite(record), (kind, record)
        assert record or kind == other, f"{name} gave nothing on the data it is probed with"


@pytest.mark.parametrize(
    "table,registry", [(TINY_TRICKS, TRICKS), (DATA_SETUPS, DATASETS), (PROBES, METRICS)]
)
def test_the_tables_name_only_registered_components(table, registry):
    stale = sorted(set(table) - set(registry.names()))
    assert not stale, f"no {registry.group} is registered as {', '.join(stale)}: remove its entry"
