"""Where the config tree lives, and composing it with overrides checked up front.

``gan train`` hands its arguments to Hydra (``train_task``), but first composes the config for
every job here, so a typo'd key, an unknown group option or a missing required value is one
clear line before any run folder is created.
"""

from __future__ import annotations

import difflib
import inspect
import re
from pathlib import Path
from typing import Annotated, Any, Literal

from omegaconf import DictConfig, OmegaConf

from gan_cli.errors import GanError
from gan_cli.registry import META_KEYS, did_you_mean
from gan_cli.schema import Fraction, PositiveFloat, PositiveInt, Range, Seed, check, show
from gan_cli.training.schedules import Scheduled

GROUPS = ("model", "loss", "dataset", "trick", "metrics", "experiment", "hparams_search")


def config_dir() -> Path:
    """``conf/`` ships inside the wheel as ``gan_cli/conf``; a source checkout has it at the top."""
    packaged = Path(__file__).resolve().parent / "conf"
    return packaged if packaged.is_dir() else Path(__file__).resolve().parent.parent / "conf"


def group_options(group: str) -> list[str]:
    return sorted(p.stem for p in (config_dir() / group).glob("*.yaml"))


def description(group: str, option: str) -> str:
    """A YAML's ``description`` key, else its first comment line."""
    path = config_dir() / group / f"{option}.yaml"
    cfg = OmegaConf.load(path)
    if isinstance(cfg, DictConfig) and "description" in cfg:
        return str(cfg.description)
    comments = [line.lstrip("# ").strip() for line in path.read_text().splitlines() if line.startswith("#")]
    return next((c for c in comments if c and not c.startswith("@package")), "")


def compose(
    overrides: list[str], extra_dirs: tuple[str, ...] = (), config_name: str = "config", hydra: bool = False
) -> DictConfig:
    """The composed config for one job (Hydra's compose API), with its ``hydra`` node if
    ``hydra``; raises ``GanError`` on bad input."""
    from hydra import compose as hydra_compose
    from hydra import initialize_config_dir
    from hydra.errors import HydraException

    search = overrides
    if extra_dirs:
        dirs = ",".join(f"file://{Path(d).resolve()}" for d in extra_dirs)
        search = [*overrides, f"hydra.searchpath=[{dirs}]"]
    try:
        with initialize_config_dir(config_dir=str(config_dir()), version_base="1.3"):
            return hydra_compose(config_name, overrides=search, return_hydra_config=hydra)
    # Hydra raises its own exceptions, but also ValueError/TypeError/KeyError, on bad overrides.
    except (HydraException, ValueError, TypeError, KeyError) as err:
        raise GanError(explain(err, overrides, extra_dirs, config_name)) from err


def resolve(cfg: DictConfig) -> dict[str, Any]:
    """The config as plain containers, interpolations resolved, the ``hydra`` node dropped."""
    from omegaconf.errors import MissingMandatoryValue, OmegaConfBaseException

    try:
        plain = OmegaConf.to_container(cfg, resolve=True, throw_on_missing=True)
    except MissingMandatoryValue as err:
        raise GanError(
            f"missing a value for {err.full_key} (set it on the command line: {err.full_key}=...)"
        ) from err
    except OmegaConfBaseException as err:
        raise GanError(
            f"bad config value at {getattr(err, 'full_key', '?')}: {str(err).splitlines()[0]}"
        ) from err
    plain.pop("hydra", None)
    check_settings(plain)
    return plain


# The top-level settings of conf/config.yaml, each with what it may be (gan_cli/schema.py); the
# group sections (model, loss, dataset, trick, metrics) are checked by their registries instead.
SETTINGS: dict[str, Any] = {
    "resume": str | None,  # a checkpoint path
    "seed": Seed,
    "device": str,  # auto, cpu, cuda, cuda:1, ...: checked when the run picks it
    "train": {
        "steps": PositiveInt,
        "batch_size": PositiveInt,
        "lr_g": Scheduled(PositiveFloat),  # each may follow a schedule (gan_cli/training/schedules.py)
        "lr_d": Scheduled(PositiveFloat),
        "betas": Scheduled(tuple[Fraction, Fraction]),  # Adam refuses a beta outside [0, 1)
        "lr_decay": Literal["none", "linear"],
        "lr_decay_start": Fraction,
        "on_nan": Literal["stop", "rollback"],
        "nan_lr_factor": Annotated[float, Range(0, 1, min_open=True, max_open=True)],  # a lower lr
    },
    "log": {
        "every": PositiveInt,
        "d_monitor": bool,  # D on fixed training, held-out and fake batches (gan_cli/training/monitor.py)
        "progress": bool,
        "tensorboard": bool,  # the trackers (gan_cli/trackers/), each an optional extra
        "wandb": bool,
        "mlflow": bool,
        "project": str | None,  # W&B project, MLflow experiment
    },
    "trainer": {
        "precision": Literal["auto", "fp32", "bf16", "fp16"],
        "channels_last": Literal["auto", "on", "off"],
        "fused_adam": Literal["auto", "on", "off"],
        "compile": bool,
        "cudnn_benchmark": bool,
        "threads": PositiveInt | None,
    },
    "sample": {"every": PositiveInt, "n": PositiveInt},
    "eval": {"every": PositiveInt, "n": PositiveInt},
    "checkpoint": {"every": PositiveInt, "keep": PositiveInt},
    "sweep": {"objective": str, "direction": Literal["minimize", "maximize"]},  # gan_cli/search.py
    "data": {"root": str},
    "reproduce": {"protocol": str | None, "row": str | None, "budget": str | None},  # gan_cli/protocols.py
}
GROUP_SECTIONS = ("model", "loss", "dataset", "trick", "metrics")


def check_settings(cfg: dict[str, Any]) -> None:
    """Every key of the resolved config is known, every setting fits ``SETTINGS`` (null, type,
    range, shape) and every group section has the shape its registry reads; the group options'
    own parameters are checked against their constructors by ``components.check``."""
    for section in GROUP_SECTIONS:
        options = cfg.get(section)
        if not isinstance(options, dict):
            raise GanError(
                f"{section} must be a config section (choose one with {section}=NAME), got {show(options)}"
            )
        if section in ("trick", "metrics"):  # sets: {name: {parameters}}
            for name, params in options.items():
                if name not in META_KEYS and params is not None and not isinstance(params, dict):
                    raise GanError(
                        f"{section}.{name} must be a section of its parameters, got {show(params)}"
                    )
    _check_section({k: v for k, v in cfg.items() if k not in GROUP_SECTIONS}, SETTINGS, "", GROUP_SECTIONS)


def _check_section(
    cfg: dict[str, Any], schema: dict[str, Any], prefix: str, others: tuple[str, ...] = ()
) -> None:
    for key, value in cfg.items():
        if key not in schema:
            raise GanError(unknown_key(prefix + str(key), value, [*schema, *others]))
    for key, expected in schema.items():
        if key not in cfg:
            raise GanError(
                f"missing a value for {prefix}{key} (set it on the command line: {prefix}{key}=...)"
            )
        if isinstance(expected, Scheduled):
            expected.check(cfg[key], prefix + key)
        elif not isinstance(expected, dict):
            check(cfg[key], expected, prefix + key)
        elif isinstance(cfg[key], dict):
            _check_section(cfg[key], expected, f"{prefix}{key}.")
        else:
            raise GanError(
                f"{prefix}{key} must be a section of keys ({', '.join(expected)}), got {show(cfg[key])}"
            )


def unknown_key(key: str, value: Any, siblings: list[str]) -> str:
    """A key no component reads (added with +), named down to its first leaf, with the closest
    valid key in its place."""
    leaf = key
    while isinstance(value, dict) and value:
        name, value = next(iter(value.items()))
        leaf = f"{leaf}.{name}"
    parent, _, last = key.rpartition(".")
    close = difflib.get_close_matches(last, siblings, n=1)
    if close:
        suggestion = (f"{parent}." if parent else "") + close[0] + leaf[len(key) :]
        return f"unknown config key '{leaf}' (did you mean '{suggestion}'?)"
    return f"unknown config key '{leaf}'; valid: {', '.join(siblings)}"


def _paths(node: dict[str, Any], prefix: str = ""):
    """(dotted key, value) for every node of a nested dict, parents before children."""
    for k, v in node.items():
        yield prefix + str(k), v
        if isinstance(v, dict):
            yield from _paths(v, f"{prefix}{k}.")


# Config group options that Hydra plugins bring, and the gan-cli extra that installs each.
PLUGINS = {("hydra/sweeper", "optuna"): "optuna", ("hydra/launcher", "joblib"): "joblib"}


def explain(err: Exception, overrides: list[str], extra_dirs: tuple[str, ...], config_name: str) -> str:
    """Turn Hydra's multi-line composition errors into one line with a suggestion."""
    from hydra.errors import OverrideParseException

    text = str(err)
    missing = re.search(r"Could not find '([^']+)/([^']+)'", text)
    if missing:
        group, option = missing.groups()
        if (group, option) in PLUGINS:
            return f"{group}={option} is a Hydra plugin that is not installed: pip install 'gan-cli[{PLUGINS[group, option]}]'"
        options = group_options(group)
        return f"unknown {group} '{option}'{did_you_mean(option, options)}; valid: {', '.join(options)}"
    unlisted = re.search(r"Could not override '([^']+)'\. No match in the defaults list", text)
    if unlisted:  # a group with no default option, such as experiment
        group = unlisted.group(1)
        given = next((o for o in overrides if o.split("=", 1)[0] == group), f"{group}=...")
        return f"{group} has no default to override: use +{given}"
    unknown = re.search(r"Could not override '([^']+)'", text)
    if unknown and "not in struct" in str(err.__cause__ or ""):
        key = unknown.group(1)
        parent = key.rpartition(".")[0]
        selections = [o for o in overrides if re.fullmatch(r"[\w/]+=[^=]*", o) and o.split("=")[0] != key]
        config = OmegaConf.to_container(compose(selections, extra_dirs, config_name))
        siblings = [k for k, _ in _paths(config) if k.rpartition(".")[0] == parent]
        last = {k.rpartition(".")[2]: k for k in siblings}
        close = [last[k] for k in difflib.get_close_matches(key.rpartition(".")[2], list(last), n=1)]
        if takes(key, config):  # a parameter its YAML leaves at the default, or a trick not in the set
            return f"unknown config key '{key}'; to add a new key use +{key}=..."
        if close:
            return f"unknown config key '{key}' (did you mean '{close[0]}'?)"
        if key.split(".")[0] in GROUP_SECTIONS:
            return f"unknown config key '{key}'; to add a new key use +{key}=..."
        return f"unknown config key '{key}'; valid: {', '.join(k.rpartition('.')[2] for k in siblings)}"
    if isinstance(err, OverrideParseException):
        return f"bad override syntax: {text.strip().splitlines()[0]}"
    if "Ambiguous value" in text:
        return f"{text.splitlines()[0]} (sweeps need -m / --multirun)"
    first = (text.strip().splitlines() or [type(err).__name__])[0]
    cause = (str(err.__cause__).strip().splitlines() or [""])[0] if err.__cause__ else ""
    return f"{first}: {cause}" if cause else first


def takes(key: str, config: dict[str, Any]) -> bool:
    """Whether ``key`` names a constructor argument of a group option: ``model.z_dim`` of the
    chosen model, ``trick.ema.decay`` of the trick ema (in the set or not)."""
    from gan_cli.registry import DATASETS, LOSSES, METRICS, MODELS, TRICKS

    registries = {"model": MODELS, "loss": LOSSES, "dataset": DATASETS, "trick": TRICKS, "metrics": METRICS}
    section, *rest = key.split(".")
    if section in ("trick", "metrics"):
        name, rest = (rest[0], rest[1:]) if rest else (None, rest)
    else:
        name = (config.get(section) or {}).get("name") if section in registries else None
    if name is None or len(rest) != 1:
        return False
    try:
        return rest[0] in inspect.signature(registries[section].get(name)).parameters
    except GanError:
        return False


def validate(
    overrides: list[str], multirun: bool, extra_dirs: tuple[str, ...] = (), config_name: str = "config"
) -> int:
    """Compose, resolve and check every job's config (of a study, those ``search.sweep_jobs``
    picks: its jobs are drawn as it goes); returns the number of jobs checked."""
    from gan_cli import components, search, trackers
    from gan_cli.training.task import branch_state

    jobs = search.sweep_jobs(overrides, extra_dirs, config_name) if multirun else [(overrides, "")]
    for job, source in jobs:
        try:
            cfg = resolve(compose(job, extra_dirs, config_name))
            components.check(cfg)
            trackers.check(cfg)  # log.wandb=true and the like: their packages are installed
            branch_state(cfg)  # resume=CKPT: fits this config and has steps left
        except GanError as err:  # a value of a study's search space: name the entry
            raise GanError(f"{source}: {err}" if source else str(err)) from err
    return len(jobs)
