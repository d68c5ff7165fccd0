"""A parsed dataset kept as an uncompressed ``.npz`` beside its original files.

Parsing CIFAR-10's pickled batches out of a 170 MB tarball, or gunzipping IDX files, takes
seconds; loading the arrays back takes a fraction of one. The cache is only ever written from
files that passed their checksum, atomically (``atomic_write``: temporary file + rename, with
the mode the user's umask gives), and read with ``allow_pickle=False``, so it can hold nothing
but arrays.
"""

from __future__ import annotations

import logging
import zipfile
from collections.abc import Callable
from pathlib import Path

import numpy as np

from gan_cli.files import atomic_write

log = logging.getLogger(__name__)


def cached_arrays(path: Path, build: Callable[[], dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
    """The arrays an earlier call saved at ``path``, else ``build()``'s, saved there for next time."""
    if path.exists():
        try:
            with np.load(path, allow_pickle=False) as saved:
                return {key: saved[key] for key in saved.files}
        except (OSError, ValueError, EOFError, zipfile.BadZipFile) as err:
            log.warning("rebuilding the unreadable cache %s (%s)", path, err)
    arrays = build()
    try:
        with atomic_write(path, ".part") as out:
            np.savez(out, **arrays)
    except OSError as err:
        # A read-only data folder costs speed on the next load, not correctness.
        log.warning("could not cache %s (%s); the files will be parsed again next time", path, err)
    return arrays
