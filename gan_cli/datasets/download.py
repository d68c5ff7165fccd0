"""Checksum-verified, atomic downloads with a progress bar."""

from __future__ import annotations

import hashlib
import os
import tempfile
import urllib.error
import urllib.request
from pathlib import Path

from rich.progress import BarColumn, DownloadColumn, Progress, TransferSpeedColumn

from gan_cli.errors import GanError


def md5(path: Path) -> str:
    digest = hashlib.md5()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def fetch(urls: list[str], target: Path, expected_md5: str, timeout: float = 30.0) -> None:
    """Download ``target`` from the first mirror that answers; verify before it appears.

    The file is written to a temporary name beside ``target`` and renamed only once its
    checksum matches, so an interrupted or tampered download never looks like a good file.
    Raises ``GanError`` when no mirror can be reached or the checksum is wrong.
    """
    target.parent.mkdir(parents=True, exist_ok=True)
    failures = []
    for url in urls:
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".part")
        try:
            with os.fdopen(fd, "wb") as out, urllib.request.urlopen(url, timeout=timeout) as response:
                total = int(response.headers.get("Content-Length") or 0) or None
                columns = ("{task.description}", BarColumn(), DownloadColumn(), TransferSpeedColumn())
                with Progress(*columns, transient=True) as progress:
                    task = progress.add_task(target.name, total=total)
                    for chunk in iter(lambda: response.read(1 << 16), b""):
                        out.write(chunk)
                        progress.advance(task, len(chunk))
            if md5(Path(tmp)) != expected_md5:
                raise GanError(f"checksum mismatch for {target.name} from {url}; file discarded")
            os.replace(tmp, target)
            return
        except (urllib.error.URLError, OSError, TimeoutError) as err:
            failures.append(f"{url}: {getattr(err, 'reason', err)}")
        finally:
            if os.path.exists(tmp):
                os.remove(tmp)
    raise GanError(f"could not download {target.name} ({'; '.join(failures)})")
