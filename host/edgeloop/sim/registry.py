"""Which virtual boards are running, for `edgeloop devices` in another shell.

Each running board leaves one small JSON file in the user's runtime folder;
an entry whose process is gone (a crash, a kill -9) is stale and is removed
when read, so the listing never shows a board that is not there.
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

import platformdirs


@dataclass(frozen=True)
class RunningSim:
    port: str
    board: str
    flash_dir: str
    pid: int  # the Node bridge's process id (a unix interpreter's board: the process running the bridge)
    owner_pid: int  # the Python process that started it
    data_port: str = ""  # CircuitPython's usb_cdc data channel, once boot.py enabled it (edgeloop.sim.unix)


def registry_dir() -> Path:
    override = os.environ.get("EDGELOOP_RUNTIME_DIR")
    if override:
        return Path(override) / "sims"
    if os.environ.get("XDG_RUNTIME_DIR") or not hasattr(os, "getuid"):
        return Path(platformdirs.user_runtime_dir("edgeloop")) / "sims"
    # No session runtime dir (containers, cron): a per-user folder in /tmp.
    return Path(tempfile.gettempdir()) / f"edgeloop-{os.getuid()}" / "sims"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def register(sim: RunningSim) -> Path:
    folder = registry_dir()
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"sim-{sim.pid}.json"
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(sim.__dict__))
    os.replace(tmp, path)
    return path


def unregister(pid: int) -> None:
    try:
        (registry_dir() / f"sim-{pid}.json").unlink()
    except FileNotFoundError:
        pass


def running_sims() -> list[RunningSim]:
    """Live virtual boards, oldest port first; stale entries are deleted."""
    folder = registry_dir()
    found = []
    for path in sorted(folder.glob("sim-*.json")) if folder.is_dir() else []:
        try:
            sim = RunningSim(**json.loads(path.read_text()))
        except (OSError, ValueError, TypeError):
            path.unlink(missing_ok=True)
            continue
        if _alive(sim.pid) and os.path.exists(sim.port):
            found.append(sim)
        else:
            path.unlink(missing_ok=True)
    return sorted(found, key=lambda s: s.port)
