"""Where the config tree lives, and composing it with overrides checked up front.

``gan train`` hands its arguments to Hydra (``train_task``), but first composes the config for
every job here, so a typo'd key, an unknown group option or a missing required value is one
clear line before any run folder is created.
"""

from __future__ import annotations

import difflib
import os
import re
from datetime import datetime
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf

from gan_cli.errors import GanError
from gan_cli.registry import did_you_mean

GROUPS = ("model", "loss", "dataset", "trick", "metrics", "experiment")


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
    overrides: list[str], extra_dirs: tuple[str, ...] = (), config_name: str = "config"
) -> DictConfig:
    """The composed config for one job (Hydra's compose API); raises ``GanError`` on bad input."""
    from hydra import compose as hydra_compose
    from hydra import initialize_config_dir
    from hydra.errors import HydraException

    search = overrides
    if extra_dirs:
        dirs = ",".join(f"file://{Path(d).resolve()}" for d in extra_dirs)
        search = [*overrides, f"hydra.searchpath=[{dirs}]"]
    try:
        with initialize_config_dir(config_dir=str(config_dir()), version_base="1.3"):
            return hydra_compose(config_name, overrides=search)
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


POSITIVE = (
    "train.steps",
    "train.batch_size",
    "train.lr_g",
    "train.lr_d",
    "log.every",
    "sample.every",
    "sample.n",
    "eval.every",
    "eval.n",
    "checkpoint.every",
    "checkpoint.keep",
)
CHOICES = {
    "train.on_nan": ("stop", "rollback"),
    "train.lr_decay": ("none", "linear"),
    "trainer.precision": ("auto", "fp32", "bf16", "fp16"),
    "trainer.channels_last": ("auto", "on", "off"),
    "trainer.fused_adam": ("auto", "on", "off"),
}
FRACTIONS = ("train.lr_decay_start",)


def check_settings(cfg: dict[str, Any]) -> None:
    """Top-level settings keep the type of their default in conf/config.yaml (an int may stand
    for a float; a null default takes anything), counts and rates are positive, choices valid.
    Group options are checked against their constructors' annotations when built."""
    from gan_cli.registry import type_matches

    defaults = OmegaConf.to_container(OmegaConf.load(config_dir() / "config.yaml"))
    for key, default in _paths({k: v for k, v in defaults.items() if k not in ("defaults", "hydra")}):
        if isinstance(default, dict):
            continue
        value = cfg
        for part in key.split("."):
            value = value.get(part) if isinstance(value, dict) else None
        if default is not None and value is not None and not type_matches(value, type(default)):
            raise GanError(f"{key} must be {type(default).__name__}, got {value!r}")
        if key in POSITIVE and value is not None and value <= 0:
            raise GanError(f"{key} must be positive, got {value}")
        if key in FRACTIONS and not 0 <= value < 1:
            raise GanError(f"{key} must be in [0, 1), got {value}")
        if key in CHOICES and value not in CHOICES[key]:
            raise GanError(f"{key} must be one of {', '.join(CHOICES[key])}, got {value!r}")


def _paths(node: dict[str, Any], prefix: str = ""):
    """(dotted key, value) for every node of a nested dict, parents before children."""
    for k, v in node.items():
        yield prefix + str(k), v
        if isinstance(v, dict):
            yield from _paths(v, f"{prefix}{k}.")


def explain(err: Exception, overrides: list[str], extra_dirs: tuple[str, ...], config_name: str) -> str:
    """Turn Hydra's multi-line composition errors into one line with a suggestion."""
    from hydra.errors import OverrideParseException

    text = str(err)
    missing = re.search(r"Could not find '([^']+)/([^']+)'", text)
    if missing:
        group, option = missing.groups()
        options = group_options(group)
        return f"unknown {group} '{option}'{did_you_mean(option, options)}; valid: {', '.join(options)}"
    unknown = re.search(r"Could not override '([^']+)'", text)
    if unknown and "not in struct" in str(err.__cause__ or ""):
        key = unknown.group(1)
        parent = key.rpartition(".")[0]
        selections = [o for o in overrides if re.fullmatch(r"[\w/]+=[^=]*", o) and o.split("=")[0] != key]
        config = OmegaConf.to_container(compose(selections, extra_dirs, config_name))
        siblings = [k for k, _ in _paths(config) if k.rpartition(".")[0] == parent]
        close = difflib.get_close_matches(key, siblings, n=1)
        if close:
            return f"unknown config key '{key}' (did you mean '{close[0]}'?)"
        return f"unknown config key '{key}'; to add a new key use +{key}=..."
    if isinstance(err, OverrideParseException):
        return f"bad override syntax: {text.strip().splitlines()[0]}"
    if "Ambiguous value" in text:
        return f"{text.splitlines()[0]} (sweeps need -m / --multirun)"
    first = (text.strip().splitlines() or [type(err).__name__])[0]
    cause = (str(err.__cause__).strip().splitlines() or [""])[0] if err.__cause__ else ""
    return f"{first}: {cause}" if cause else first


def job_overrides(overrides: list[str], multirun: bool) -> list[list[str]]:
    """The override list of every job a (multi)run will launch."""
    if not multirun:
        return [overrides]
    from hydra._internal.core_plugins.basic_sweeper import BasicSweeper
    from hydra.core.override_parser.overrides_parser import OverridesParser
    from hydra.errors import HydraException

    try:
        parsed = OverridesParser.create().parse_overrides(overrides)
    except HydraException as err:
        raise GanError(f"bad override: {str(err).strip().splitlines()[0]}") from err
    return [job for batch in BasicSweeper.split_arguments(parsed, None) for job in batch]


def validate(
    overrides: list[str], multirun: bool, extra_dirs: tuple[str, ...] = (), config_name: str = "config"
) -> int:
    """Compose, resolve and check every job's config; returns the number of jobs."""
    from gan_cli import components

    jobs = job_overrides(overrides, multirun)
    for job in jobs:
        components.check(resolve(compose(job, extra_dirs, config_name)))
    return len(jobs)


def fresh_run_dir(root: Path) -> Path:
    """``root/<date>/<time>``, suffixed -1, -2, ... when that folder exists, so two runs started
    in the same second never share (and overwrite) a folder. Raises ``GanError`` when it could
    not be created (checked here, before Hydra tries)."""
    now = datetime.now()
    base = root / now.strftime("%Y-%m-%d") / now.strftime("%H-%M-%S")
    candidate, n = base, 0
    while candidate.exists():
        n += 1
        candidate = base.with_name(f"{base.name}-{n}")
    existing = next(p for p in candidate.absolute().parents if p.exists())
    if not existing.is_dir() or not os.access(existing, os.W_OK):
        raise GanError(f"cannot create the run folder {candidate}: {existing} is not a writable folder")
    return candidate
