"""How a user's mistake is shown: one line on stderr, no traceback."""

from __future__ import annotations

from rich.console import Console

_stderr = Console(stderr=True, highlight=False, soft_wrap=True)


def print_error(err: Exception) -> None:
    _stderr.print(f"[bold red]error:[/] {err}", markup=True)


def print_stopped(message: str) -> None:
    _stderr.print(f"[bold yellow]stopped:[/] {message}", markup=True)
