"""Stopping cleanly on Ctrl-C or SIGTERM (what SLURM sends before preemption).

The first signal only raises a flag: the training loop finishes its step, writes a checkpoint
and stops. A second Ctrl-C stops at once.
"""

from __future__ import annotations

import signal
import threading
from types import FrameType


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
