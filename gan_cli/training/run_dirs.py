"""Claiming a run folder: every training run gets a folder of its own, and never an old one.

A folder is claimed by creating it with ``os.mkdir``, which fails when the name exists — the
file system decides, so runs started in the same second (a shell loop with ``&``, SLURM array
jobs on one node) each win a different name. ``gan train`` claims the folder before Hydra
starts and hands its name to Hydra, which then writes into it.
"""

from __future__ import annotations

import os
from datetime import datetime
from pathlib import Path

from gan_cli.errors import GanError

# What a folder holds once a run has written into it (Hydra writes .hydra/ before training).
RUN_FILES = (".hydra", "metrics.jsonl", "checkpoints", "samples", "train.log")


def claim_fresh(root: Path, now: datetime | None = None) -> Path:
    """Create and return ``root/<date>/<time>``, or ``<time>-1``, ``<time>-2``, ... when the
    name is taken (by this machine or another sharing the folder)."""
    now = now or datetime.now()
    day = root / now.strftime("%Y-%m-%d")
    _make_parents(day / "x")
    n = 0
    while True:
        candidate = day / (now.strftime("%H-%M-%S") + (f"-{n}" if n else ""))
        try:
            os.mkdir(candidate)
            return candidate
        except FileExistsError:
            n += 1
        except OSError as err:
            raise GanError(f"cannot create the run folder {candidate}: {err.strerror or err}") from err


def claim_named(path: Path, key: str) -> Path:
    """Claim the folder the user named with ``key`` (``hydra.run.dir``/``hydra.sweep.dir``): a
    new or empty folder is taken; one that already holds files is refused, since training into
    it would overwrite or mix with what is there."""
    _make_parents(path)
    try:
        os.mkdir(path)
        return path
    except FileExistsError:
        pass
    except OSError as err:
        raise GanError(f"{key}={path}: cannot create the folder ({err.strerror or err})") from err
    if not path.is_dir():
        raise GanError(f"{key}={path} is not a folder")
    if any(path.iterdir()):
        hint = f"continue that run with: gan resume {path}" if holds_run(path) else "choose another folder"
        raise GanError(f"{key}={path} already holds files and training never writes over them; {hint}")
    if not os.access(path, os.W_OK | os.X_OK):
        raise GanError(f"{key}={path}: the folder is not writable")
    return path


def resolve_name(value: str, key: str) -> Path:
    """The folder a ``key=value`` override names, its ``${now:...}`` resolved as Hydra would
    (other interpolations need the running job, which does not exist yet)."""
    from hydra.core.utils import setup_globals
    from omegaconf import OmegaConf
    from omegaconf.errors import OmegaConfBaseException

    setup_globals()  # registers Hydra's ${now:...}
    try:
        return Path(str(OmegaConf.create({"dir": value}).dir)).expanduser()
    except OmegaConfBaseException as err:
        raise GanError(
            f"{key}={value}: gan train names the folder before the run starts, so only "
            "${now:...} can be interpolated there"
        ) from err


def holds_run(path: Path) -> bool:
    """Whether ``path`` holds (part of) a run: anything a run writes into its folder."""
    return any((path / name).exists() for name in RUN_FILES)


def _make_parents(path: Path) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except FileExistsError as err:  # a file where a folder should be
        raise GanError(f"cannot create the run folder {path}: {err.filename} is not a folder") from err
    except OSError as err:
        raise GanError(f"cannot create the run folder {path}: {err.strerror or err}") from err
