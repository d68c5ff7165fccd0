"""``gan train`` and ``gan resume``: Hydra overrides checked, a run folder claimed, and the job (or
sweep) handed to Hydra, which calls ``gan_cli.training.task``."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from gan_cli.errors import GanError

# Hydra's own flags that take a value, so their values are not mistaken for overrides.
HYDRA_VALUE_FLAGS = {
    "--cfg",
    "-c",
    "--package",
    "-p",
    "--config-name",
    "-cn",
    "--config-dir",
    "-cd",
    "--config-path",
    "-cp",
    "--experimental-rerun",
    "--shell-completion",
    "-sc",
}
INFO_VALUES = {"all", "config", "defaults", "defaults-tree", "plugins", "searchpath"}
# Flags with which Hydra prints something and runs nothing: no run folder is claimed.
INSPECTION_FLAGS = {
    "--cfg",
    "-c",
    "--info",
    "-i",
    "--hydra-help",
    "--shell-completion",
    "-sc",
    "--help",
    "-h",
}
RUN_DIR_KEYS = ("hydra.run.dir=", "hydra.sweep.dir=")


def split_hydra_args(args: list[str]) -> tuple[list[str], dict[str, str]]:
    """Separate overrides from Hydra flags (``--cfg job``, ``-cd DIR``, ``--info``...)."""
    overrides, flags, i = [], {}, 0
    while i < len(args):
        arg = args[i]
        if arg in HYDRA_VALUE_FLAGS and i + 1 < len(args):
            flags[arg], i = args[i + 1], i + 2
        elif arg in ("--info", "-i") and i + 1 < len(args) and args[i + 1] in INFO_VALUES:
            flags[arg], i = args[i + 1], i + 2
        elif arg.startswith("-"):
            flags[arg], i = "", i + 1
        else:
            overrides.append(arg)
            i += 1
    return overrides, flags


def train(
    ctx: typer.Context,
    multirun: Annotated[
        bool,
        typer.Option("--multirun", "-m", help="Sweep: one job per combination of comma-separated values."),
    ] = False,
) -> None:
    """Train a GAN. Arguments are Hydra overrides of the config (see `gan list`).

    Examples:

      gan train                                     # dcgan, ns loss, mnist, no tricks

      gan train model=mlp dataset=ring8 train.steps=2000

      gan train +experiment=ring                    # a preset from conf/experiment

      gan train trick=ganhacks trick.instance_noise.std=0.2

      gan train +trick.spectral_norm.generator=true   # add one trick

      gan train -m trick=none,ganhacks train.steps=500

      gan train -m hydra/launcher=joblib seed=0,1,2 # parallel local jobs (pip install 'gan-cli\\[joblib]')

      gan train -m +hparams_search=ring_optuna      # an Optuna study (pip install 'gan-cli\\[optuna]')

      gan train --cfg job model=mlp                 # print the composed config, train nothing

      gan train -cd ~/my_conf model=my_model        # add your own config dir

      torchrun --nproc_per_node=4 -m gan_cli train  # data-parallel over 4 GPUs, one run folder

    Runs land in outputs/DATE/TIME (sweeps: outputs/multirun/DATE/TIME/N); Hydra's own
    options: gan train --hydra-help.
    """
    overrides, flags = split_hydra_args(list(ctx.args))
    argv, study, _ = prepare(overrides, flags, multirun, Path("outputs") / ("multirun" if multirun else ""))
    run_hydra(argv, study)


def prepare(
    overrides: list[str], flags: dict[str, str], multirun: bool, root: Path
) -> tuple[list[str], bool, Path | None]:
    """Check every job's config, claim the run (sweep) folder — a fresh one under ``root``
    unless the overrides name one — and return Hydra's argv, whether it is a study, and the
    folder (None when Hydra only prints something)."""
    from gan_cli import search
    from gan_cli.config import validate
    from gan_cli.training import distributed

    study = False  # an Optuna study (any sweeper but the basic one), known once the config is checked
    if multirun and distributed.launched():
        raise GanError("a sweep (-m) cannot run under torchrun: launch one torchrun per run")
    for flag in ("--config-dir", "-cd"):
        if flags.get(flag) and not Path(flags[flag]).expanduser().is_dir():
            raise GanError(f"{flag} {flags[flag]}: the config folder does not exist")
    if "--config-path" not in flags and "-cp" not in flags:
        extra = tuple(d for d in (flags.get("--config-dir"), flags.get("-cd")) if d)
        name = flags.get("--config-name") or flags.get("-cn") or "config"
        validate(overrides, multirun, extra, name)
        study = multirun and search.is_study(overrides, extra, name)
    distributed.init()
    # Overrides first and Hydra's flags last, so an optional flag value (--info) never
    # swallows an override.
    args = [o for o in overrides if not o.startswith(RUN_DIR_KEYS)]
    args += [token for flag, value in flags.items() for token in (flag, value) if token]
    folder = None
    if not INSPECTION_FLAGS & flags.keys():
        claimed = claim_run_dir(overrides, multirun, root)
        folder = Path(claimed.split("=", 1)[1])
        args.insert(0, claimed)
    if distributed.rank() > 0:  # one run folder, written by rank 0 alone
        args += ["hydra.output_subdir=null", "hydra/job_logging=disabled"]
    return ["gan train", *(["--multirun"] if multirun else []), *args], study, folder


def run_hydra(argv: list[str], study: bool) -> None:
    """Hand ``argv`` (from ``prepare``) to Hydra, which runs the job or the sweep."""
    from gan_cli import search
    from gan_cli.training.task import main as hydra_main

    sys.argv = argv
    with search.study_end(study):
        hydra_main()


def claim_run_dir(overrides: list[str], multirun: bool, root: Path) -> str:
    """The ``hydra.run.dir`` (``hydra.sweep.dir``) override naming a folder this job claimed:
    the user's, if new or empty, else a fresh one under ``root`` (see ``run_dirs``); under
    torchrun rank 0 claims it and every rank gets its name."""
    from gan_cli.training import distributed, run_dirs

    key = "hydra.sweep.dir" if multirun else "hydra.run.dir"
    named = [o.split("=", 1)[1] for o in overrides if o.startswith(key + "=")]
    folder = None
    if distributed.rank() == 0:
        if named:
            folder = run_dirs.claim_named(run_dirs.resolve_name(named[-1], key), key)
        else:
            folder = run_dirs.claim_fresh(root)
    return f"{key}={distributed.share(folder)}"


def resume_run(
    run: Annotated[
        Path, typer.Argument(help="A run folder (uses checkpoints/last.pt) or a checkpoint file.")
    ],
    overrides: Annotated[
        list[str] | None,
        typer.Argument(help="train.steps, log.*, sample.every, checkpoint.*, device, data.root."),
    ] = None,
) -> None:
    """Continue an interrupted run from its last checkpoint, in the same run folder.

    Everything is restored (weights, optimizers, step, RNG states, data order, trick state), so
    on the CPU the continued run reproduces the uninterrupted one exactly.

    Examples:

      gan resume outputs/2026-11-22/20-31-05

      gan resume outputs/2026-11-22/20-31-05 train.steps=20000   # train longer
    """
    from gan_cli.training.task import guarded, resume

    guarded(lambda: resume(run, overrides or []))
