"""The ``gan`` command line: Typer in front, Hydra behind.

Heavy imports (torch, Hydra) happen inside the commands so that ``gan --help`` is instant.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from gan_cli.attack import attack_command
from gan_cli.bench import bench_command
from gan_cli.data_cli import data_app
from gan_cli.errors import GanError
from gan_cli.evaluation import eval_command
from gan_cli.report_error import print_error
from gan_cli.reproduce import reproduce_command
from gan_cli.sample_cli import sample_command
from gan_cli.translate import translate_command

app = typer.Typer(
    help="Train, sample and compare generative adversarial networks.\n\n"
    "Examples:\n\n"
    "  gan train                                   # DCGAN on MNIST, the defaults\n\n"
    "  gan train model=mlp dataset=ring8           # any config group option or key\n\n"
    "  gan train -m trick=none,ganhacks seed=0,1   # a sweep, one folder per job\n\n"
    "  gan sample --ckpt outputs/DATE/TIME/checkpoints/last.pt -n 64\n\n"
    "  gan report outputs/multirun/DATE/TIME --sort modes_covered\n\n"
    "  gan list model",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_show_locals=False,
)

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


@app.command(context_settings={"allow_extra_args": True, "ignore_unknown_options": True})
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
    from gan_cli import distributed, search
    from gan_cli.config import validate

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
    from gan_cli.train_task import main as hydra_main

    sys.argv = argv
    with search.study_end(study):
        hydra_main()


def claim_run_dir(overrides: list[str], multirun: bool, root: Path) -> str:
    """The ``hydra.run.dir`` (``hydra.sweep.dir``) override naming a folder this job claimed:
    the user's, if new or empty, else a fresh one under ``root`` (see ``run_dirs``); under
    torchrun rank 0 claims it and every rank gets its name."""
    from gan_cli import distributed, run_dirs

    key = "hydra.sweep.dir" if multirun else "hydra.run.dir"
    named = [o.split("=", 1)[1] for o in overrides if o.startswith(key + "=")]
    folder = None
    if distributed.rank() == 0:
        if named:
            folder = run_dirs.claim_named(run_dirs.resolve_name(named[-1], key), key)
        else:
            folder = run_dirs.claim_fresh(root)
    return f"{key}={distributed.share(folder)}"


@app.command("resume")
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
    from gan_cli.train_task import guarded, resume

    guarded(lambda: resume(run, overrides or []))


@app.command()
def report(
    paths: Annotated[
        list[Path], typer.Argument(help="Multirun folders, run folders, or folders that hold runs.")
    ],
    sort: Annotated[
        str | None, typer.Option("--sort", "-s", help="A metric, or run, status, step, wall.")
    ] = None,
    ascending: Annotated[
        bool | None,
        typer.Option(
            "--ascending/--descending",
            help="Sort order \\[default: ascending for run, wall, *loss, *_kl, fid, kid; else descending].",
        ),
    ] = None,
    out: Annotated[
        Path | None, typer.Option("--out", "-o", help="Report folder \\[default: DIR/report].")
    ] = None,
    running_minutes: Annotated[
        float, typer.Option(min=0, help="An unfinished run whose files changed this recently is 'running'.")
    ] = 10.0,
) -> None:
    """Compare runs: a table of their final metrics, and a Markdown report with sample grids and curves.

    Examples:

      gan report outputs/multirun/2026-11-22/20-31-05               # every job of a sweep

      gan report outputs/multirun/2026-11-22/20-31-05 --sort modes_covered

      gan report outputs/2026-11-22 --sort g_loss --descending      # every run of a day

      gan report runA runB --out cmp/                               # any runs, report in cmp/

    The report (report.md, curve_<metric>.png) goes to DIR/report; run folders are only read.
    An earlier report there is rewritten; if any other file has a name the report would write,
    nothing is written and the command says which. Runs that crashed or are still running show
    as 'stopped' or 'running'.
    """
    from gan_cli.report import report_command

    report_command(paths, sort, ascending, out, running_minutes)


@app.command("list")
def list_options(
    group: Annotated[
        str | None,
        typer.Argument(
            help="model, loss, dataset, trick, metrics, experiment or hparams_search; all when omitted."
        ),
    ] = None,
) -> None:
    """List the options of each config group with a one-line description.

    Examples:

      gan list

      gan list trick
    """
    from rich.console import Console
    from rich.table import Table

    from gan_cli.config import GROUPS, description, group_options
    from gan_cli.registry import did_you_mean

    if group is not None and group not in GROUPS:
        raise GanError(
            f"unknown group '{group}'{did_you_mean(group, list(GROUPS))}; valid: {', '.join(GROUPS)}"
        )
    table = Table("group", "option", "description", box=None)
    for g in [group] if group else GROUPS:
        for option in group_options(g):
            table.add_row(g, option, description(g, option))
    Console().print(table)


# Commands whose code lives in their own modules.
app.add_typer(data_app, name="data")
app.command("sample")(sample_command)
app.command("eval")(eval_command)
app.command("translate")(translate_command)
app.command("attack")(attack_command)
app.command("reproduce", context_settings={"allow_extra_args": True, "ignore_unknown_options": True})(
    reproduce_command
)
app.command("bench", context_settings={"allow_extra_args": True, "ignore_unknown_options": True})(
    bench_command
)


def main() -> None:
    from gan_cli.interrupts import ctrl_c_handled_by, exit_at_once

    try:
        with ctrl_c_handled_by(exit_at_once):
            app()
    except GanError as err:
        print_error(err)
        sys.exit(2)
    except KeyboardInterrupt:
        print_error(KeyboardInterrupt("interrupted"))
        sys.exit(130)
    except SystemExit as stop:
        # Typer turns a Ctrl-C inside a command into a silent exit 130 (typer.Exit raised
        # from the KeyboardInterrupt); say what happened. Commands that reported it already
        # exit without that cause.
        if stop.code == 130 and isinstance(getattr(stop.__context__, "__cause__", None), KeyboardInterrupt):
            print_error(KeyboardInterrupt("interrupted"))
        raise
