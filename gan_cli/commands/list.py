"""``gan list``: the options of each config group, one line each."""

from __future__ import annotations

from typing import Annotated

import typer

from gan_cli.errors import GanError


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
