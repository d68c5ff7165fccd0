"""Checksum-verified, atomic downloads with a progress bar, and a dataset's official files.

Downloads are restartable rather than resumable: a partial file never survives (it is a
temporary file removed on any failure or interrupt), so running again starts the file afresh.
"""

from __future__ import annotations

import hashlib
import tempfile
import urllib.error
import urllib.request
from collections.abc import Mapping, Sequence
from pathlib import Path

from rich.progress import BarColumn, DownloadColumn, Progress, TransferSpeedColumn

from gan_cli.errors import GanError
from gan_cli.files import atomic_write


class DownloadError(GanError):
    """No mirror could be reached (as opposed to a mirror serving a wrong file)."""

    def __init__(self, name: str, failures: list[tuple[str, str]]):
        super().__init__(f"could not download {name} ({'; '.join(f'{u}: {r}' for u, r in failures)})")
        self.failures = failures  # (url, reason) for each mirror tried


class UnwritableFolder(GanError):
    """The data folder cannot be created or written: a read-only file system or folder, or a
    file where a folder should be. Not a mirror's fault, so no mirror is tried."""

    def __init__(self, folder: Path, err: OSError):
        self.folder = folder
        self.reason = blocker(folder) or err.strerror or str(err)
        super().__init__(
            f"cannot write the data folder {folder} ({self.reason}); "
            "point GAN_DATA or data.root=<folder> at a folder you can write"
        )


def blocker(folder: Path) -> str | None:
    """\"<path> is a file\" when the nearest existing path on the way to ``folder`` is a
    file, not a folder (``mkdir``'s own error names neither)."""
    try:
        for path in (folder, *folder.parents):
            if path.exists():
                return None if path.is_dir() else f"{path} is a file"
    except OSError:  # a folder on the way that may not be searched: mkdir's error says so
        pass
    return None


def writable_folder(folder: Path) -> None:
    """Create ``folder`` if need be and check that a file can be made in it, before a download
    starts; raises ``UnwritableFolder`` in one line otherwise."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        tempfile.TemporaryFile(dir=folder).close()
    except OSError as err:
        raise UnwritableFolder(folder, err) from err


def md5(path: Path) -> str:
    digest = hashlib.md5()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def fetch(urls: list[str], target: Path, expected_md5: str, timeout: float = 30.0) -> None:
    """Download ``target`` from the first mirror that answers; verify before it appears.

    The file is written to a temporary name beside ``target`` (``atomic_write``) and renamed
    only once its checksum matches: a mismatch raises inside the block, so an interrupted or
    tampered download never looks like a good file. Raises ``GanError`` when the folder cannot
    be written, no mirror can be reached or the checksum is wrong.
    """
    writable_folder(target.parent)
    failures = []
    for url in urls:
        try:
            with (
                atomic_write(target, ".part") as out,
                urllib.request.urlopen(url, timeout=timeout) as response,
            ):
                total = int(response.headers.get("Content-Length") or 0) or None
                columns = ("{task.description}", BarColumn(), DownloadColumn(), TransferSpeedColumn())
                digest = hashlib.md5()
                with Progress(*columns, transient=True) as progress:
                    task = progress.add_task(target.name, total=total)
                    for chunk in iter(lambda: response.read(1 << 16), b""):
                        out.write(chunk)
                        digest.update(chunk)
                        progress.advance(task, len(chunk))
                if digest.hexdigest() != expected_md5:
                    raise GanError(f"checksum mismatch for {target.name} from {url}; file discarded")
            return
        except (urllib.error.URLError, OSError, TimeoutError) as err:
            failures.append((url, " ".join(str(getattr(err, "reason", err)).split())))  # one line
    raise DownloadError(target.name, failures)


def official_files(
    folder: Path, checksums: Mapping[str, str], mirrors: Sequence[str], download: bool, what: str
) -> list[Path]:
    """``folder/<name>`` for each official file in ``checksums``, the missing ones downloaded
    (and verified) from the first of ``mirrors`` that answers when ``download`` is set.

    Raises ``GanError`` in one line: a mirror's wrong file as ``fetch`` reports it; otherwise
    which files to download from where, and the folder to put them in.
    """
    reason = "and dataset.download=false"
    for name in [name for name in checksums if not (folder / name).exists()] if download else ():
        try:
            fetch([mirror + name for mirror in mirrors], folder / name, checksums[name])
        except DownloadError as err:
            reason = f"and could not be downloaded ({err.failures[0][1]})"
            break
    missing = [name for name in checksums if not (folder / name).exists()]
    if missing:
        raise GanError(
            f"{what} is not in {folder} {reason}; download {', '.join(missing)} from {mirrors[0]} "
            f"and put {'it' if len(missing) == 1 else 'them'} there (or point data.root elsewhere)"
        )
    return [folder / name for name in checksums]


def verify(path: Path, expected_md5: str) -> None:
    """Refuse a file that is not the published one (a file put there by hand, say); it is left
    in place, since it is the user's."""
    actual = md5(path)
    if actual != expected_md5:
        raise GanError(
            f"{path} does not match its published checksum (md5 {actual}, expected {expected_md5}); "
            "delete it and it will be downloaded again"
        )
