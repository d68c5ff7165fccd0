"""Command-line options several ``gan`` commands share, declared once so they read alike."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

Checkpoint = Annotated[Path, typer.Option("--ckpt", help="Checkpoint file (its config is inside it).")]
Device = Annotated[str, typer.Option(help="auto, cpu, cuda, cuda:N.")]
Seed = Annotated[int, typer.Option(help="Seed of the latent vectors.")]
Ema = Annotated[bool, typer.Option("--ema/--raw", help="Use the EMA generator(s) when the run kept them.")]
