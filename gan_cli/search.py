"""Hyperparameter search with Hydra's Optuna sweeper (``gan train -m +hparams_search=NAME``).

A study is a sweep whose sweeper chooses the next job from the results of the last ones, so
each trial returns the value it is judged by: ``sweep.objective``, any key of the run's final
record (its last losses merged with its final evaluation), minimized or maximized as
``sweep.direction`` says. A trial that cannot give that value returns None: the Optuna sweeper
counts it as failed and the study goes on. (An exception fails the trial too, but stops the study
unless ``max_failure_rate`` allows it; nan stops it whatever the rate, since the sweeper then
tells Optuna the failure with the nan attached, which Optuna 2 refuses.)

Before a study starts, ``gan train`` checks what it can of the jobs to come (``sweep_jobs``):
they are drawn as the study goes, so the base config, and each searched key alone at the
values it can take — every choice, the ends of a range and an interval.
``gan report`` reads a study's folder with ``read_study``.
"""

from __future__ import annotations

import logging
import math
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gan_cli.errors import GanError

log = logging.getLogger(__name__)

BASIC = "hydra._internal.core_plugins.basic_sweeper.BasicSweeper"
OPTUNA = "hydra_plugins.hydra_optuna_sweeper.optuna_sweeper.OptunaSweeper"
RESULTS = "optimization_results.yaml"  # the Optuna sweeper's summary, in the sweep folder
INSTALL = "pip install 'gan-cli[optuna]'"


# ---------------------------------------------------------------- in a trial


def in_study() -> bool:
    """Whether this Hydra job is a trial: a sweep by a sweeper that optimizes what the task
    returns (any but Hydra's basic one: Optuna, Nevergrad, Ax)."""
    from hydra.core.hydra_config import HydraConfig
    from hydra.types import RunMode

    hydra = HydraConfig.get()
    return hydra.mode == RunMode.MULTIRUN and hydra.sweeper.get("_target_") != BASIC


def objective(record: dict[str, Any] | None, key: str) -> float | None:
    """The value of ``key`` in a trial's final record, for the sweeper to optimize; None (a failed
    trial) with one warning line when the key is missing or its value is not a finite number.
    ``record`` None: the trial failed already and said why."""
    if record is None:
        return None
    value = record.get(key)
    if isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value):
        return float(value)
    if key not in record:
        log.warning(
            "sweep.objective '%s' is not in this run's final record (it has %s); the trial failed",
            key,
            ", ".join(record) or "nothing",
        )
    else:
        log.warning("sweep.objective '%s' is %s in this run's final record; the trial failed", key, value)
    return None


# ---------------------------------------------------------------- before a sweep


Job = tuple[list[str], str]  # a job's overrides, and the search-space entry it checks ("" if none)


def sweep_jobs(overrides: list[str], extra_dirs: tuple[str, ...], config_name: str) -> list[Job]:
    """The jobs to check before ``gan train -m OVERRIDES`` starts. Hydra's basic sweeper: every
    job it will launch. A study (Optuna): the base config, and each searched key alone at each
    value it can take (every choice, the ends of a range or an interval), from the command line
    and from ``hydra.sweeper.params``."""
    from hydra._internal.core_plugins.basic_sweeper import BasicSweeper
    from hydra.errors import HydraException

    parsed = parse(overrides)
    globbed = [o.input_line for o in parsed if is_glob(o)]
    cfg = with_sweeper(parsed, extra_dirs, config_name)
    if cfg.hydra.sweeper.get("_target_") != BASIC:
        if globbed:
            raise GanError(
                f"{globbed[0]}: the Optuna sweeper cannot expand glob(...); list the options: choice(a, b)"
            )
        check_direction(cfg)
        return study_jobs(parsed, cfg.hydra.sweeper)
    parsed = [expand_glob(o, extra_dirs) if is_glob(o) else o for o in parsed]
    if any(o.is_interval_sweep() for o in parsed):
        raise GanError(
            "interval(...) is sampled, so it needs a sweeper that samples: add hydra/sweeper=optuna "
            f"({INSTALL}), or list the values (a=1,2 or choice(1,2))"
        )
    try:
        return [(job, "") for batch in BasicSweeper.split_arguments(parsed, None) for job in batch]
    except HydraException as err:
        raise GanError(f"bad sweep: {str(err).strip().splitlines()[0]}") from err


def with_sweeper(parsed: list, extra_dirs: tuple[str, ...], config_name: str):
    """The config of a sweep's fixed overrides, with its ``hydra`` node (the sweeper)."""
    from gan_cli.config import compose

    fixed = [o.input_line for o in parsed if not o.is_sweep_override()]
    return compose(fixed, extra_dirs, config_name, hydra=True)


def parse(overrides: list[str]) -> list:
    from hydra.core.override_parser.overrides_parser import OverridesParser
    from hydra.errors import HydraException

    try:
        return OverridesParser.create().parse_overrides(overrides)
    except HydraException as err:
        raise GanError(f"bad override: {str(err).strip().splitlines()[0]}") from err


def is_glob(override) -> bool:
    from hydra.core.override_parser.types import ValueType

    return override.value_type == ValueType.GLOB_CHOICE_SWEEP


def expand_glob(override, extra_dirs: tuple[str, ...]):
    """``model=glob(*)`` as the choice of the group options it matches (Hydra expands it with a
    config loader, which a check before the run has not)."""
    from gan_cli.config import config_dir

    group = override.key_or_group
    folders = [config_dir() / group, *(Path(d).expanduser() / group for d in extra_dirs)]
    names = sorted({p.stem for folder in folders for p in folder.glob("*.yaml")})
    if not names:
        raise GanError(
            f"{override.input_line}: glob(...) chooses among a config group's options; {group} is not a group"
        )
    matched = override.value().filter(names)
    if not matched:
        raise GanError(f"{override.input_line}: matches none of {', '.join(names)}")
    return parse([f"{override.get_key_element()}={','.join(matched)}"])[0]


def study_jobs(parsed: list, sweeper) -> list[Job]:
    """Jobs for a sweeper that draws them: its search space is ``hydra.sweeper.params`` overlaid
    with the command line's sweeps; the fixed values of either go into every job."""
    from omegaconf import OmegaConf

    params = OmegaConf.to_container(sweeper.params) if sweeper.get("params") else {}
    space = {o.get_key_element(): o for o in parse([f"{k}={v}" for k, v in params.items()])}
    space.update((o.get_key_element(), o) for o in parsed)
    fixed = {key: o.input_line for key, o in space.items() if not o.is_sweep_override()}
    jobs: list[Job] = [(list(fixed.values()), "")]
    for key, override in space.items():
        if override.is_sweep_override():
            others = [line for k, line in fixed.items() if k != key]
            jobs += [([*others, f"{key}={v}"], override.input_line) for v in values(override)]
    return jobs


def values(override) -> list[str]:
    """What the Optuna sweeper can set a searched key to, as far as a check needs it: every
    choice, a range's first and last value (Optuna's ranges include their end), an interval's
    low end and the closest value below its high end (ints: the high end itself)."""
    sweep, line = override.value(), override.input_line
    if override.is_choice_sweep() or (override.is_range_sweep() and sweep.shuffle):
        return list(override.sweep_string_iterator())
    if override.is_range_sweep():
        start, stop, step = sweep.start, sweep.stop, sweep.step
        if step <= 0 or stop < start:
            raise GanError(f"{line}: a range needs start <= stop and a step > 0")
        last = start + int((stop - start) / step + 1e-9) * step
        return [str(v) for v in dict.fromkeys([start, last])]
    if override.is_interval_sweep():
        start, end = sweep.start, sweep.end
        if start > end:
            raise GanError(f"{line}: an interval needs low <= high")
        if "log" in sweep.tags and start <= 0:
            raise GanError(f"{line}: a log interval needs a low end > 0")
        if isinstance(start, int) and isinstance(end, int):
            return [str(v) for v in dict.fromkeys([start, end])]
        return [str(v) for v in dict.fromkeys([float(start), math.nextafter(float(end), -math.inf)])]
    raise GanError(f"{line}: the Optuna sweeper takes choice(...), range(...), interval(...) or a=1,2")


def check_direction(cfg) -> None:
    """An Optuna study of one objective in the direction ``sweep.direction`` says (``cfg``: a
    composed config with its ``hydra`` node)."""
    from omegaconf import OmegaConf

    sweeper = cfg.hydra.sweeper
    if sweeper.get("_target_") != OPTUNA:
        return
    direction = OmegaConf.select(cfg, "hydra.sweeper.direction")
    wanted = OmegaConf.select(cfg, "sweep.direction")
    if not isinstance(direction, str):
        direction = getattr(direction, "name", direction)  # the plugin's default is an Enum
    if not isinstance(direction, str):
        raise GanError(
            "sweep.objective is one key, so hydra.sweeper.direction must be one direction, "
            f"got {OmegaConf.to_container(direction) if OmegaConf.is_config(direction) else direction}"
        )
    if wanted in ("minimize", "maximize") and direction != wanted:
        raise GanError(
            f"hydra.sweeper.direction is {direction} but sweep.direction is {wanted}: "
            f"set hydra.sweeper.direction={wanted} (conf/hparams_search/ files set it to ${{sweep.direction}})"
        )


@contextmanager
def study_end(study: bool) -> Iterator[None]:
    """Around Hydra's run of a sweep. When no trial of an Optuna study completed, the sweeper's
    last step (``study.best_trial``) raises, and Hydra would print that as a traceback; in a
    study Hydra is asked to pass its errors on (HYDRA_FULL_ERROR) and that one becomes one line.
    Any other error goes on as it was."""
    if not study:
        yield
        return
    previous = os.environ.get("HYDRA_FULL_ERROR")
    os.environ["HYDRA_FULL_ERROR"] = "1"
    try:
        yield
    except ValueError as err:
        if "No trials are completed yet" not in str(err):
            raise
        raise GanError("no trial of the study completed (each one said why above)") from err
    finally:
        if previous is None:
            os.environ.pop("HYDRA_FULL_ERROR", None)
        else:
            os.environ["HYDRA_FULL_ERROR"] = previous


def is_study(overrides: list[str], extra_dirs: tuple[str, ...], config_name: str) -> bool:
    """Whether ``gan train -m OVERRIDES`` runs a study: a sweeper other than Hydra's basic one."""
    return with_sweeper(parse(overrides), extra_dirs, config_name).hydra.sweeper.get("_target_") != BASIC


# ---------------------------------------------------------------- after a study


@dataclass
class Study:
    """What ``gan report`` shows of an Optuna study."""

    objective: str
    direction: str  # minimize or maximize
    best_params: dict[str, Any] | None  # from optimization_results.yaml, once the study ended
    best_value: float | None

    def describe(self) -> str:
        line = f"Optuna study: {self.direction} {self.objective}"
        if self.best_params is None:
            return line + f" ({RESULTS} not written yet: unfinished or stopped)"
        params = " ".join(
            f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in self.best_params.items()
        )
        best = "—" if self.best_value is None else f"{self.best_value:g}"
        return line + f"; best {best} with {params}"


def read_study(paths: list[Path], runs: list[Path]) -> Study | None:
    """The Optuna study ``paths`` hold: a sweep folder with optimization_results.yaml, or trials
    whose .hydra/hydra.yaml names the Optuna sweeper (the first run tells); None when there is
    none, or its runs have no ``sweep`` section to name the objective."""
    results = next((p / RESULTS for p in paths if (p / RESULTS).is_file()), None)
    summary = _yaml(results) if results else None
    if not (isinstance(summary, dict) and summary.get("name") == "optuna"):
        summary = None
    if not runs:
        return None
    if (
        summary is None
        and _get(_yaml(runs[0] / ".hydra" / "hydra.yaml"), "hydra", "sweeper", "_target_") != OPTUNA
    ):
        return None
    config = _get(_yaml(runs[0] / ".hydra" / "config.yaml"), "sweep")
    if not (isinstance(config, dict) and isinstance(config.get("objective"), str)):
        return None
    best = summary.get("best_value") if summary else None
    return Study(
        objective=config["objective"],
        direction="maximize" if config.get("direction") == "maximize" else "minimize",
        best_params=dict(summary.get("best_params") or {}) if summary else None,
        best_value=float(best) if isinstance(best, int | float) and not isinstance(best, bool) else None,
    )


def _yaml(path: Path) -> Any:
    import yaml  # PyYAML: a dependency of omegaconf

    try:
        return yaml.safe_load(path.read_text())
    except (OSError, ValueError, yaml.YAMLError):
        return None


def _get(node: Any, *keys: str) -> Any:
    for key in keys:
        node = node.get(key) if isinstance(node, dict) else None
    return node
