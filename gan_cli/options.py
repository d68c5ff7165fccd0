"""Command-line options several ``gan`` commands share, declared once so they read alike, and
how those commands end on Ctrl-C."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer

Checkpoint = Annotated[
    Path,
    typer.Option(
        "--ckpt", help="Checkpoint file (its config is inside it), or a run folder (its checkpoints/last.pt)."
    ),
]
Device = Annotated[str, typer.Option(help="auto, cpu, cuda, cuda:N.")]
Seed = Annotated[int, typer.Option(help="Seed of the latent vectors.")]
Ema = Annotated[bool, typer.Option("--ema/--raw", help="Use the EMA generator(s) when the run kept them.")]
Images = Annotated[Path, typer.Option("--input", "-i", help="An image, or a folder of images (recursive).")]

INTERRUPTED = 130  # 128 + SIGINT, what shells report for a Ctrl-C


@contextmanager
def ctrl_c_exits(what: str = "nothing was written") -> Iterator[None]:
    """Ctrl-C inside the block raises KeyboardInterrupt (``gan`` otherwise exits at once on
    Ctrl-C, see ``interrupts``), so the block's own cleanup of what it was writing runs; then
    one line ("error: interrupted; ``what``") and exit 130. Put around writing, not imports."""
    import signal

    from gan_cli.training.interrupts import ctrl_c_handled_by

    try:
        with ctrl_c_handled_by(signal.default_int_handler):
            yield
    except KeyboardInterrupt:
        from gan_cli.report_error import print_error

        print_error(KeyboardInterrupt(f"interrupted; {what}"))
        raise typer.Exit(INTERRUPTED) from None  # no KeyboardInterrupt cause: reported already
