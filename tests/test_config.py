"""Every option of every config group composes and builds; names match files one to one."""

import functools
from pathlib import Path

import pytest
import yaml
from omegaconf import OmegaConf

from gan_cli import components
from gan_cli.config import compose, config_dir, group_options, resolve
from gan_cli.errors import GanError
from gan_cli.registry import DATASETS, LOSSES, MODELS, TRICKS
from gan_cli.training.loop import load_data
from tests.conftest import tiny_config
from tests.test_fashion_cifar import TINY_OFFICIAL

PACKAGE = Path(__file__).resolve().parent.parent / "gan_cli"


@pytest.mark.parametrize("group,registry", [("model", MODELS), ("loss", LOSSES), ("dataset", DATASETS)])
def test_yaml_files_and_registered_names_match_one_to_one(group, registry):
    names = {
        yaml.safe_load((config_dir() / group / f"{o}.yaml").read_text())["name"]: o
        for o in group_options(group)
    }
    assert all(name == stem for name, stem in names.items())
    assert sorted(names) == registry.names()


def test_every_trick_has_a_file_named_after_it_and_sets_use_registered_tricks():
    for name in TRICKS.names():
        assert (PACKAGE / "tricks" / f"{name}.py").is_file()
    for option in group_options("trick"):
        cfg = resolve(compose([f"trick={option}"]))
        assert all(t["name"] in TRICKS.names() for t in components.named_configs(cfg["trick"]))


@pytest.mark.parametrize("option", group_options("dataset"))
def test_every_dataset_builds(option, tmp_path, monkeypatch):
    extra = []
    if option in TINY_OFFICIAL:
        TINY_OFFICIAL[option](tmp_path, monkeypatch)
    if option == "image_folder":
        from PIL import Image

        for i in range(3):
            Image.new("RGB", (40, 30), (i * 80, 0, 0)).save(tmp_path / f"{i}.png")
        extra = [f"dataset.path={tmp_path}", "dataset.resolution=16"]
    if option in ("unpaired", "paired"):  # two domains: A/ and B/ with one same-named image each
        from PIL import Image

        for domain in ("A", "B"):
            (tmp_path / domain).mkdir()
            Image.new("RGB", (20, 20), (0, 90, 0)).save(tmp_path / domain / "0.png")
        extra = [f"dataset.path={tmp_path}", "dataset.resolution=16"]
    data = load_data(tiny_config(tmp_path, f"dataset={option}", *extra))
    assert len(data.samples) > 0
    assert data.samples.min() >= -1.0 - 1e-6 or data.samples.dim() == 2
    if data.samples.dim() == 4:
        assert data.samples.max() <= 1.0 + 1e-6


# The refusals the shipped options may give, each a documented incompatibility.
KNOWN_REFUSALS = (
    "label_smoothing needs a loss with targets",
    "noisy_labels needs a loss with targets",
    "without batch norm",  # gradient penalties, R1
    "needs batch norm in the generator",  # virtual batch norm on the mlp
    "rebuilds D's head",  # minibatch tricks on cyclegan/pix2pix (no single D head)
    "cannot act on",  # a trick working through a hook the two-domain steps do not call
    "energy discriminator",  # BEGAN's energies read by another loss, or loss=began on a scoring D
)


@functools.cache
def composed(group: str, option: str) -> dict:
    """The tiny run config with one group option chosen, composed once for the whole matrix."""
    return tiny_config(Path("/nonexistent"), f"{group}={option}")


@pytest.mark.slow  # ~1900 builds: about a minute on 2 cores
@pytest.mark.parametrize("loss", group_options("loss"))
@pytest.mark.parametrize("trick", group_options("trick"))
@pytest.mark.parametrize("model", group_options("model"))
def test_every_model_loss_trick_combination_builds_or_refuses_clearly(model, loss, trick):
    # A trick set touches only its own section (and the loss, which the command line's wins
    # over), so the sections composed one group at a time are what composing all three gives.
    cfg = {
        **composed("model", model),
        "loss": composed("loss", loss)["loss"],
        "trick": composed("trick", trick)["trick"],
    }
    try:
        parts = components.build(cfg, (1, 16, 16), 10)
    except GanError as err:
        assert any(known in str(err) for known in KNOWN_REFUSALS), str(err)
        assert "\n" not in str(err)
        return
    # Image-to-image translators have no latent.
    assert getattr(parts.model, "z_dim", 0) == cfg["model"].get("z_dim", 0)


def test_trick_sets_choose_their_loss_unless_the_command_line_does():
    assert resolve(compose(["trick=sngan"]))["loss"]["name"] == "hinge"
    assert resolve(compose(["trick=sngan", "loss=ns"]))["loss"]["name"] == "ns"
    assert resolve(compose(["trick=wgan_gp"]))["loss"]["name"] == "wgan_gp"


@pytest.mark.parametrize(
    "overrides,message",
    [
        (["model=dcgn"], "unknown model 'dcgn' (did you mean 'dcgan'?)"),
        (["train.stepz=3"], "unknown config key 'train.stepz' (did you mean 'train.steps'?)"),
        (["trick=none,ganhacks"], "sweeps need -m"),
        (["dataset=image_folder"], "missing a value for dataset.path"),
        (["model.z_dimm=3"], "did you mean 'model.z_dim'"),
        (["los=hinge"], "unknown config key 'los' (did you mean 'loss'?)"),
        (["train.steps=[1"], "bad override syntax"),
        (["model=null"], "Config group override must be a string"),
        (["train.betas=3"], "train.betas must be two numbers in [0, 1), got 3"),
        (["log.every=0"], "log.every must be an integer >= 1, got 0"),
        (["train.on_nan=maybe"], "train.on_nan must be stop or rollback, got 'maybe'"),
        (["experiment=ring"], "use +experiment=ring"),
        (["+trian.steps=5000"], "unknown config key 'trian.steps' (did you mean 'train.steps'?)"),
        (["train.foo=1"], "unknown config key 'train.foo'; valid: steps, batch_size"),
        (["metrics.fid.k=5"], "to add a new key use +metrics.fid.k=..."),  # fid takes k; its YAML omits it
    ],
)
def test_bad_overrides_are_one_clear_line(overrides, message):
    with pytest.raises(GanError) as err:
        resolve(compose(overrides))
    assert message in str(err.value) and "\n" not in str(err.value)


@pytest.mark.parametrize("preset", group_options("experiment"))
def test_every_experiment_preset_sets_only_known_keys_to_valid_values(preset, tmp_path):
    overrides = [f"+experiment={preset}"]
    if OmegaConf.is_missing(compose(overrides).dataset, "path"):  # presets for a folder of images
        from PIL import Image

        for label in ("cats", "dogs"):  # labelled: class-conditional presets need two classes
            (tmp_path / label).mkdir()
            Image.new("RGB", (8, 8)).save(tmp_path / label / "0.png")
        overrides.append(f"dataset.path={tmp_path}")
    components.check(resolve(compose(overrides)))


def test_experiment_preset_overrides_groups_and_keys():
    cfg = resolve(compose(["+experiment=ring"]))
    assert cfg["model"]["name"] == "mlp" and cfg["dataset"]["name"] == "ring8"
    assert cfg["train"]["batch_size"] == 256


def test_user_config_dir_adds_options(tmp_path):
    (tmp_path / "loss").mkdir()
    (tmp_path / "loss" / "my_hinge.yaml").write_text("name: hinge\ndescription: mine\n")
    cfg = resolve(compose(["loss=my_hinge"], extra_dirs=(str(tmp_path),)))
    assert cfg["loss"]["name"] == "hinge"
