"""The board's filesystem for everyday chores (`edgeloop fs`): list, read, remove.

Built on mpremote's transport calls (through `Device.transport`), with each
failure turned into one line that names the path on the board. edgeloop's
own deploy state lives in /.edgeloop/ (manifest, journal, staged files):
removing it by hand would make the next deploy resend everything or, mid
journal, leave the board between two apps, so `remove` refuses it unless
forced.
"""

from __future__ import annotations

import errno
import hashlib
from dataclasses import dataclass
from typing import Callable

from edgeloop.errors import DeviceError

DEPLOY_STATE = "/.edgeloop"  # edgeloop.deploy.plan.EL_DIR; deploy/ sits above link/, so named here too


class BoardFileError(DeviceError):
    """A path on the board is missing, is the wrong kind, or is protected."""


@dataclass(frozen=True)
class Entry:
    name: str
    is_dir: bool
    size: int


def normalize(path: str) -> str:
    """An absolute board path without a trailing slash ('' and '.' are the root)."""
    path = "/" + path.strip().strip("/") if path.strip() not in ("", ".", "/") else "/"
    parts = []
    for p in path.split("/"):
        if p in ("", "."):
            continue
        if p == "..":
            if parts:
                parts.pop()
            continue
        parts.append(p)
    return "/" + "/".join(parts)


def _fail(e: Exception, path: str, what: str) -> BoardFileError:
    code = getattr(e, "errno", None)
    if code == errno.ENOENT:
        return BoardFileError(f"no {path} on the board; list what is there with `edgeloop fs ls "
                              f"{path.rsplit('/', 1)[0] or '/'}`")
    if code == errno.EISDIR:
        return BoardFileError(f"{path} on the board is a folder; list it with `edgeloop fs ls {path}`")
    if code in (errno.EACCES, errno.EROFS, errno.EPERM):
        return BoardFileError(f"the board refused to {what} {path}: its filesystem is read-only here "
                              "(CircuitPython while the USB drive is mounted?)")
    if code == errno.ENOTEMPTY:
        return BoardFileError(f"{path} on the board is a folder that is not empty; remove it with -r")
    text = str(e).strip().splitlines()
    return BoardFileError(f"cannot {what} {path} on the board: {text[-1] if text else type(e).__name__}")


def _stat(device, path: str):
    from mpremote.transport import TransportError

    try:
        return device.transport.fs_stat(path)
    except (OSError, TransportError) as e:
        raise _fail(e, path, "read") from None


def is_dir(device, path: str) -> bool:
    return path == "/" or bool(_stat(device, path).st_mode & 0x4000)


def listdir(device, path: str = "/") -> list[Entry]:
    """The entries of a folder (or the one file `path` is), folders first, then by name."""
    from mpremote.transport import TransportError

    path = normalize(path)
    if not is_dir(device, path):
        st = _stat(device, path)
        return [Entry(path.rsplit("/", 1)[-1], False, st.st_size)]
    try:
        items = device.transport.fs_listdir(path)
    except (OSError, TransportError) as e:
        raise _fail(e, path, "list") from None
    out = [Entry(i.name, bool(i.st_mode & 0x4000), i.st_size) for i in items]
    return sorted(out, key=lambda e: (not e.is_dir, e.name))


def read(device, path: str, progress: Callable[[int, int], None] | None = None) -> bytes:
    """A file's bytes, checked against the SHA-256 the board computes of what it stored."""
    from mpremote.transport import TransportError

    path = normalize(path)
    if is_dir(device, path):
        raise BoardFileError(f"{path} on the board is a folder; list it with `edgeloop fs ls {path}`")
    try:
        data = bytes(device.transport.fs_readfile(path, chunk_size=1024, progress_callback=progress))
        digest = device.transport.fs_hashfile(path, "sha256")
    except (OSError, TransportError) as e:
        raise _fail(e, path, "read") from None
    if digest != hashlib.sha256(data).digest():
        raise BoardFileError(f"{path} changed or was garbled while it was read (SHA-256 differs); try again")
    return data


def protected(path: str) -> bool:
    path = normalize(path)
    return path == "/" or path == DEPLOY_STATE or path.startswith(DEPLOY_STATE + "/")


def remove(device, path: str, *, recursive: bool = False, force: bool = False) -> list[str]:
    """Remove a file (or, with `recursive`, a folder and what it holds); the paths removed."""
    from mpremote.transport import TransportError

    path = normalize(path)
    if path == "/":
        raise BoardFileError("refusing to remove the board's whole filesystem; name what to remove")
    if protected(path) and not force:
        raise BoardFileError(f"{path} is edgeloop's deploy state (manifest, journal); removing it makes the next "
                             "deploy resend everything or, mid-deploy, leaves the board between two apps; "
                             "add --force if you mean it")
    folder = is_dir(device, path)
    if folder and not recursive:
        raise BoardFileError(f"{path} on the board is a folder; remove it and what it holds with -r")
    try:
        doomed = _walk(device, path) if folder else [(path, False)]
        guarded = [p for p, _ in doomed if protected(p)]
        if guarded and not force:
            raise BoardFileError(f"{path} holds edgeloop's deploy state ({guarded[-1]}); nothing was removed; "
                                 "add --force if you mean it")
        for p, d in doomed:
            (device.transport.fs_rmdir if d else device.transport.fs_rmfile)(p)
    except (OSError, TransportError) as e:
        raise _fail(e, path, "remove") from None
    return [p for p, _ in doomed]


def _walk(device, path: str) -> list[tuple[str, bool]]:
    """(path, is folder) of a folder and everything in it, children before their folder."""
    out = []
    for e in device.transport.fs_listdir(path):
        child = f"{path}/{e.name}"
        if e.st_mode & 0x4000:
            out += _walk(device, child)
        else:
            out.append((child, False))
    return out + [(path, True)]
