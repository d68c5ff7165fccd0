"""The ``gan`` command line: Typer in front, Hydra behind. Each verb lives in its own module of
``gan_cli/commands``; this file puts them together and turns errors into one line.

Heavy imports (torch, Hydra) happen inside the commands so that ``gan --help`` is instant.
"""

from __future__ import annotations

import sys

import typer

from gan_cli.commands.attack import attack_command
from gan_cli.commands.bench import bench_command
from gan_cli.commands.classify import classify_command
from gan_cli.commands.data import data_app
from gan_cli.commands.evaluate import eval_command
from gan_cli.commands.list import list_options
from gan_cli.commands.report import report
from gan_cli.commands.reproduce import reproduce_command
from gan_cli.commands.sample import sample_command
from gan_cli.commands.train import resume_run, train
from gan_cli.commands.translate import translate_command
from gan_cli.commands.upscale import upscale_command
from gan_cli.errors import GanError
from gan_cli.report_error import print_error

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

EXTRA_ARGS = {
    "allow_extra_args": True,
    "ignore_unknown_options": True,
}  # the commands that take Hydra overrides
app.command(context_settings=EXTRA_ARGS)(train)
app.command("resume")(resume_run)
app.command()(report)
app.command("list")(list_options)
app.add_typer(data_app, name="data")
app.command("sample")(sample_command)
app.command("eval")(eval_command)
app.command("translate")(translate_command)
app.command("upscale")(upscale_command)
app.command("classify")(classify_command)
app.command("attack")(attack_command)
app.command("reproduce", context_settings=EXTRA_ARGS)(reproduce_command)
app.command("bench", context_settings=EXTRA_ARGS)(bench_command)


def main() -> None:
    from gan_cli.training.interrupts import ctrl_c_handled_by, exit_at_once

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
