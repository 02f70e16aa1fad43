"""Files that are never seen half-written, and the folder names of environments.

:func:`write_atomic` writes through a temporary file in the target folder and ``os.replace``: a reader (or a crash)
sees the old file or the new one, never a partial one.
"""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

__all__ = ["env_slug", "file_sha256", "write_atomic"]


def env_slug(env_id: str) -> str:
    """The folder name of an environment's files: ``morl/Counsel-v2`` -> ``morl-Counsel-v2``.

    >>> env_slug("morl/Counsel-v2")
    'morl-Counsel-v2'
    """
    return re.sub(r"[^A-Za-z0-9._-]", "-", env_id)


def write_atomic(path: str | os.PathLike, text: str | bytes) -> None:
    """Write ``text`` (a str as UTF-8, or bytes) to ``path`` through a temporary file in the same folder and
    ``os.replace``: readers see the old file or the new one, never a partial one. The file is readable by everyone
    (0644), as entries and pages are meant to be."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.fchmod(fd, 0o644)  # mkstemp creates 0600
        with os.fdopen(fd, "wb") as handle:
            handle.write(text.encode("utf-8") if isinstance(text, str) else text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def file_sha256(path: str | os.PathLike) -> str:
    """sha256 of a file's bytes, read in 1 MiB blocks (what fingerprints of weights are made of)."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


@contextmanager
def folder_lock(folder: str | os.PathLike, timeout: float = 60.0) -> Iterator[None]:
    """Hold an exclusive lock on ``folder`` itself (``flock`` on the folder's descriptor), so that locking leaves
    no lock file behind; the OS releases it when the holder exits or dies. Each call opens its own descriptor, so
    threads of one process exclude each other too. Raises TimeoutError naming the folder after ``timeout`` s.
    Where ``flock`` is missing (Windows) a ``.lock`` file inside the folder is used instead."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover - not a POSIX system
        from filelock import FileLock

        with FileLock(Path(folder) / ".lock", timeout=timeout):
            yield
        return
    fd = os.open(folder, os.O_RDONLY)
    try:
        deadline = time.monotonic() + timeout
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise TimeoutError(f"`folder` {str(folder)!r} stayed locked by another writer for over "
                                       f"{timeout:g} s") from None
                time.sleep(0.02)
        yield
    finally:
        os.close(fd)  # releases the lock
