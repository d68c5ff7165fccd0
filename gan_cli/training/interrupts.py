"""Stopping cleanly on Ctrl-C or SIGTERM (what SLURM sends before preemption).

The first signal only raises a flag: the training loop finishes its step, writes a checkpoint
and stops. A second Ctrl-C stops at once. Outside the loop, ``gan`` exits at once on Ctrl-C
(``exit_at_once``), except in blocks that must clean up what they were writing, which take
Python's KeyboardInterrupt (``ctrl_c_handled_by(signal.default_int_handler)``).
"""

from __future__ import annotations

import os
import signal
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import FrameType
from typing import Any


class StopSignals:
    """While active, SIGINT/SIGTERM set ``received`` instead of killing the process."""

    SIGNALS = (signal.SIGINT, signal.SIGTERM)

    def __init__(self) -> None:
        self.received: int | None = None
        self._previous: dict[int, object] = {}

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        if self.received is not None and signum == signal.SIGINT:
            raise KeyboardInterrupt  # the second Ctrl-C: no more waiting
        self.received = signum

    def __enter__(self) -> StopSignals:
        # Handlers can only be installed from the main thread (a launcher may use others).
        if threading.current_thread() is threading.main_thread():
            self._previous = {s: signal.signal(s, self._handle) for s in self.SIGNALS}
        return self

    def __exit__(self, *exc: object) -> None:
        for s, handler in self._previous.items():
            signal.signal(s, handler)


def exit_at_once(signum: int, frame: FrameType | None) -> None:
    """Ctrl-C while nothing is half written: one line and exit 130, now.

    Raising KeyboardInterrupt instead can land inside an import (torch, numpy), where a
    library may swallow it and go on with a half-imported module, or in code that reports it
    as a crash; start-up has nothing to save, so it stops at once. The line is written
    without rich (no colour): the signal may arrive while rich itself is half imported."""
    try:
        sys.stdout.flush()
    except (OSError, RuntimeError, ValueError):  # the signal came mid-write (reentrant) or after close
        pass
    os.write(2, b"error: interrupted\n")
    os._exit(128 + signum)


@contextmanager
def ctrl_c_handled_by(handler: Callable[[int, FrameType | None], Any]) -> Iterator[None]:
    """``handler`` answers Ctrl-C inside the block (from the main thread only; handlers cannot
    be installed from others); the previous handler comes back after it."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGINT, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
