"""Write files so that a reader sees the old content or the new, never half of it."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path


def open_mode(path: Path) -> int:
    """The permissions a plain open() would leave `path` with: the file's own when it exists,
    else 0666 less the umask. mkstemp creates its file 0600, which would make every output
    (a model, a report, a header) unreadable to anyone else once it is renamed into place."""
    try:
        return Path(path).stat().st_mode & 0o7777
    except OSError:
        pass
    return 0o666 & ~_umask()


def _umask() -> int:
    # Linux shows the umask without changing it; elsewhere the set-and-restore is the only way.
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    umask = os.umask(0o022)
    os.umask(umask)
    return umask


def temp_beside(path: Path, suffix: str = ".tmp") -> tuple[int, str]:
    """A temporary file next to `path` (same filesystem, so os.replace is atomic), already
    carrying the mode `path` will have; returns mkstemp's (fd, name)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=suffix, dir=path.parent)
    try:
        os.chmod(tmp, open_mode(path))
    except BaseException:
        os.close(fd)
        os.unlink(tmp)
        raise
    return fd, tmp


def write_bytes_atomic(path: Path, data: bytes, *, mode: int | None = None) -> None:
    """`mode`: set on the temporary file before a byte is in it (write_secret_atomic's 0600)."""
    path = Path(path)
    fd, tmp = temp_beside(path)
    try:
        if mode is not None:
            os.chmod(tmp, mode)
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise


def write_text_atomic(path: Path, text: str) -> None:
    write_bytes_atomic(path, text.encode("utf-8"))


def write_secret_atomic(path: Path, data: bytes) -> None:
    """As write_bytes_atomic, but the file is mode 0600 before a byte of the secret is in it
    (a password, a private key), whatever it was before."""
    write_bytes_atomic(path, data, mode=0o600)
