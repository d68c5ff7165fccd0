"""Where the commands that make files (sample, data show, bench, report) write, checked first.

A target path is refused before any work is done when it exists (nothing the user has is
written over), when an ancestor that exists is a file, or when the folder it would go into is
not writable. The writing itself goes to a hidden temporary file or folder beside the target
and is moved into place only when complete, so Ctrl-C, a crash or a full disk leaves nothing
behind: neither a half-written file nor a folder that would block the rerun.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO

from gan_cli.errors import GanError
from gan_cli.files import atomic_write, umask


def check_new(path: Path, flag: str) -> None:
    """Refuse ``path`` (given with ``flag``, e.g. ``--out``) unless it could be created: it must
    not exist, and the nearest ancestor that exists must be a writable folder."""
    if path.exists() or path.is_symlink():
        raise GanError(f"{path} already exists; choose another {flag} (nothing was overwritten)")
    ancestor = path.absolute().parent
    while not ancestor.exists():
        ancestor = ancestor.parent
    if not ancestor.is_dir():
        raise GanError(f"cannot write {path}: {ancestor} is a file, not a folder")
    if not os.access(ancestor, os.W_OK | os.X_OK):
        raise GanError(f"cannot write {path}: the folder {ancestor} is not writable")


def check_suffix(path: Path, suffix: str, flag: str, what: str) -> None:
    """Refuse a file name that does not end in ``suffix`` (``what`` says what is written)."""
    if path.suffix.lower() != suffix:
        raise GanError(f"{flag} {path}: {what}; give a name ending in {suffix}")


def make_parents(path: Path) -> list[Path]:
    """Create the missing folders above ``path``; returns them, outermost first."""
    missing = []
    parent = path.absolute().parent
    while not parent.exists():
        missing.append(parent)
        parent = parent.parent
    for folder in reversed(missing):
        folder.mkdir()
    return list(reversed(missing))


def remove_empty(folders: list[Path]) -> None:
    for folder in reversed(folders):
        try:
            folder.rmdir()
        except OSError:
            pass  # something else was put there meanwhile: it stays


def place_file(tmp: str, path: Path) -> None:
    """Move the finished ``tmp`` to ``path`` without ever replacing a file that appeared there
    meanwhile (a hard link fails if the name exists; a file system without links gets a check)."""
    appeared = GanError(f"{path} appeared while writing; it was left as it is and nothing was written")
    try:
        os.link(tmp, path)
    except FileExistsError:
        raise appeared from None
    except OSError:
        if path.exists():
            raise appeared from None
        os.replace(tmp, path)
    else:
        os.unlink(tmp)


@contextmanager
def new_file(path: Path) -> Iterator[BinaryIO]:
    """``with new_file(path) as f: f.write(...)``: ``path`` appears, whole, only when the block
    ends without an exception (Ctrl-C included); otherwise the temporary file and any folders
    made for it are removed. ``path`` itself is never written over."""
    created = []
    try:
        created = make_parents(path)
        with atomic_write(path, place=place_file) as f:
            yield f
    except OSError as err:
        raise GanError(f"cannot write {path}: {err.strerror or err}") from err
    finally:
        if not path.exists():
            remove_empty(created)


@contextmanager
def new_folder(path: Path) -> Iterator[Path]:
    """``with new_folder(path) as tmp: ...write into tmp...``: the hidden folder ``tmp`` beside
    ``path`` is renamed to ``path`` when the block ends without an exception; otherwise it is
    deleted with everything in it, so an interrupted run leaves nothing to block the rerun."""
    created = []
    tmp = None
    try:
        created = make_parents(path)
        tmp = Path(tempfile.mkdtemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp"))
        tmp.chmod(0o777 & ~umask())
        yield tmp
        if path.exists():
            raise GanError(f"{path} appeared while writing; it was left as it is and nothing was written")
        tmp.rename(path)
        tmp = None
    except OSError as err:
        raise GanError(f"cannot write {path}: {err.strerror or err}") from err
    finally:
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)
        if not path.exists():
            remove_empty(created)
