"""Writing a file so that it appears whole or not at all, with the permissions the user expects.

Every file gan-cli writes through a temporary name goes through ``atomic_write``: the bytes go
to a hidden file beside the target, are flushed to disk, and only then renamed over it, so a
crash or a kill mid-write leaves the previous file (or none) intact. ``tempfile.mkstemp``
creates its file with mode 0600; the file is given the mode a plain ``open()`` would have
(0666 less the process umask), so checkpoints and logs stay readable by whoever the user's
umask lets read them.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO


def umask() -> int:
    """The process umask (reading it means setting it; it is set straight back)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


@contextmanager
def atomic_write(
    path: Path, suffix: str = ".tmp", place: Callable[[str, Path], None] = os.replace
) -> Iterator[BinaryIO]:
    """``with atomic_write(path) as f: f.write(...)``: the finished file is moved to ``path``
    by ``place`` (``os.replace``: over what was there) only when the block ends without an
    exception, and the temporary file never outlives the block."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=suffix)
    try:
        os.fchmod(fd, 0o666 & ~umask())
        with os.fdopen(fd, "wb") as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        place(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)
