"""How a user's mistake is shown: one line on stderr, no traceback."""

from __future__ import annotations

from rich.console import Console
from rich.markup import escape

_stderr = Console(stderr=True, highlight=False, soft_wrap=True)


# The message is escaped: "pip install 'gan-cli[wandb]'" is text, not a rich style tag.
def print_error(err: Exception | str) -> None:
    _stderr.print(f"[bold red]error:[/] {escape(str(err))}", markup=True)


def print_stopped(message: str) -> None:
    _stderr.print(f"[bold yellow]stopped:[/] {escape(message)}", markup=True)
