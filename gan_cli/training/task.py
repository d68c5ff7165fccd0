"""Running a training job: from Hydra (``gan train``) or from a run folder (``gan resume``).

``config_path`` is absolute because Hydra would resolve a relative one as a Python package.
"""

from __future__ import annotations

import logging.config
import signal
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import hydra
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException

from gan_cli import search
from gan_cli.config import GROUPS, check_settings, compose, config_dir, resolve
from gan_cli.errors import GanError, Interrupted
from gan_cli.report_error import print_error, print_stopped
from gan_cli.training import checkpoint

# What a resumed run may change: how long and how it logs, never what it trains.
RESUMABLE_KEYS = ("train.steps", "log.", "sample.every", "checkpoint.", "device", "data.root")
SETUP_GROUPS = ("model", "loss", "dataset", "trick")


def guarded(job: Callable[[], Any], trial: bool = False) -> Any:
    """Run ``job`` and return what it returns; every expected way for training to stop becomes
    one line and an exit code. In a ``trial`` (of a study, or a row of gan reproduce) an error
    fails the job (one line, returns None) and the sweep goes on; an interruption still ends it."""
    import torch

    try:
        return job()
    except GanError as err:
        print_error(err)
        if trial:
            return None
        sys.exit(2)
    except Interrupted as stop:
        name = signal.Signals(stop.signum).name
        print_stopped(
            f"{name} at step {stop.step}; checkpoint saved. Continue with: gan resume {stop.run_dir}"
        )
        sys.exit(128 + stop.signum)
    except torch.OutOfMemoryError:
        print_error("out of GPU memory; try a smaller train.batch_size or model")
        if trial:
            return None
        sys.exit(2)
    except KeyboardInterrupt:  # before the loop set up its handler, or a second Ctrl-C
        print_stopped("interrupted")
        sys.exit(130)


def start(cfg: dict[str, Any], run_dir: Path) -> dict[str, float]:
    """A new run; with ``resume=PATH`` it starts from that checkpoint's full state. Returns its
    final record."""
    from gan_cli.training.loop import train

    if (run_dir / "metrics.jsonl").exists() or (run_dir / "checkpoints").exists():
        raise GanError(f"{run_dir} already holds a run; continue it with: gan resume {run_dir}")
    return train(cfg, run_dir, branch_state(cfg))


def branch_state(cfg: dict[str, Any]) -> dict[str, Any] | None:
    """The checkpoint ``resume=`` names (a file or a run folder), if it can start this run: the
    same model, loss, dataset and trick set, and steps left to train."""
    if not cfg["resume"]:
        return None
    path = checkpoint.resolve_path(Path(cfg["resume"]).expanduser())
    state = checkpoint.load(path)
    for group in SETUP_GROUPS:
        if state["config"].get(group) != cfg[group]:
            raise GanError(
                f"{path} was trained with another {group} config "
                f"({state['config'].get(group, {}).get('name')}); resume needs the same {', '.join(SETUP_GROUPS)}"
            )
    check_steps_left(state, cfg["train"]["steps"], path, f"gan train resume={path} train.steps=N")
    return state


def check_steps_left(state: dict[str, Any], steps: int, path: Path, longer: str) -> None:
    """Refuse to continue ``state`` to ``steps`` when there is nothing left: its step is past
    them, or at them with the run finished (a run stopped during its final evaluation is not)."""
    if state["step"] > steps or (state["step"] == steps and state.get("finished", True)):
        raise GanError(
            f"{path} is at step {state['step']}, so train.steps={steps} leaves nothing to do "
            f"(train longer with: {longer})"
        )


@hydra.main(config_path=str(config_dir()), config_name="config", version_base="1.3")
def main(cfg: DictConfig) -> float | None:
    """One run. A trial of a study (``-m hydra/sweeper=optuna``) returns the value of
    ``sweep.objective`` in its final record for the sweeper to optimize; None if it failed.
    A failed trial, or a failed row of ``gan reproduce``, is one line and the sweep goes on."""
    trial = search.in_study()
    keep_going = trial or cfg.reproduce.protocol is not None
    record = guarded(lambda: start(resolve(cfg), Path(HydraConfig.get().runtime.output_dir)), keep_going)
    return search.objective(record, cfg.sweep.objective) if trial else None


def with_overrides(cfg: dict[str, Any], overrides: list[str]) -> dict[str, Any]:
    """A checkpoint's config with ``key=value`` overrides of the keys a resume may change."""
    for override in overrides:
        key = override.split("=", 1)[0]
        if "=" not in override or not any(key == k or key.startswith(k) for k in RESUMABLE_KEYS):
            raise GanError(f"resume accepts overrides of {', '.join(RESUMABLE_KEYS)}; got '{override}'")
    # A checkpoint of an older gan-cli lacks the settings added since: they take today's defaults.
    defaults = {key: value for key, value in resolve(compose([])).items() if key not in GROUPS}
    merged = OmegaConf.merge(defaults, cfg)
    OmegaConf.set_struct(merged, True)
    try:
        merged.merge_with(OmegaConf.from_dotlist(overrides))
    except OmegaConfBaseException as err:
        raise GanError(f"bad resume override: {str(err).splitlines()[0]}") from err
    plain = OmegaConf.to_container(merged)
    check_settings(plain)
    return plain


def log_to(run_dir: Path) -> None:
    """The logging ``gan train`` gets from Hydra (conf/hydra/job_logging/rich.yaml), for a run
    continued outside Hydra; the log file is appended to."""
    spec = OmegaConf.merge(
        {"hydra": {"runtime": {"output_dir": str(run_dir)}, "job": {"name": "train"}}},
        OmegaConf.load(config_dir() / "hydra" / "job_logging" / "rich.yaml"),
    )
    plain = OmegaConf.to_container(spec, resolve=True)
    plain.pop("hydra")
    logging.config.dictConfig(plain)


def resume(target: Path, overrides: list[str]) -> None:
    """Continue the run in ``target`` (a run folder or one of its checkpoints) in its own folder.

    Only from its newest checkpoint: continuing from an older one would replace ``last.pt``
    and drop the later records, so that is refused, and ``gan train resume=CKPT`` branches
    into a new folder instead."""
    from gan_cli.training.loop import train

    ckpt = checkpoint.resolve_path(target)
    run_dir = ckpt.parent.parent if ckpt.parent.name == "checkpoints" else ckpt.parent
    state = checkpoint.load(ckpt)
    cfg = with_overrides(state["config"], overrides)
    check_steps_left(state, cfg["train"]["steps"], ckpt, f"gan resume {target} train.steps=N")
    last = run_dir / "checkpoints" / "last.pt"
    if last.is_file() and not last.samefile(ckpt):
        newest = checkpoint.load(last)["step"]
        if newest > state["step"]:
            raise GanError(
                f"{run_dir} goes on to step {newest}; continuing it from {ckpt.name} (step "
                f"{state['step']}) would discard that. Branch into a new folder: gan train resume={ckpt}"
            )
    log_to(run_dir)
    train(cfg, run_dir, state)
