"""The CircuitPython libraries the firmware needs, installed circup-style from PyPI wheels.

CircuitPython builds no `asyncio` in; the app's asyncio entry points
(`edgeloop_fw.app.start`, `run_async`) need Adafruit's port of it, which
imports `adafruit_ticks`. circup installs these from Adafruit's bundle; the
same .py files are in the libraries' PyPI wheels, which pip fetches with
its usual index, proxy and certificate settings, so that is where they come
from here: `pip download` of a pinned version (the same bytes every deploy),
kept in edgeloop's cache, its .py files (not the dist-info) to /lib/.
Adafruit-Blinka, which the wheels also require, is their CPython layer and
is not for a board.
"""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

from edgeloop.deploy.plan import DeployFile
from edgeloop.errors import DeployError
from edgeloop.resources import cache_dir

# (PyPI name, pinned version): what a deploy puts on a CircuitPython board.
LIBRARIES = (
    ("adafruit-circuitpython-asyncio", "3.1.1"),
    ("adafruit-circuitpython-ticks", "1.1.7"),
)
GROUP = "circuitpython-libs"  # manifest tag of these files


def _wheel(name: str, version: str, folder: Path) -> Path:
    stem = name.replace("-", "_")
    found = sorted(folder.glob(f"{stem}-{version}-*.whl"))
    if found:
        return found[0]
    folder.mkdir(parents=True, exist_ok=True)
    try:
        run = subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
                              "--disable-pip-version-check", "-q", "-d", str(folder), f"{name}=={version}"],
                             capture_output=True, text=True, timeout=300)
    except (OSError, subprocess.TimeoutExpired) as e:
        run = None
        why = str(e)
    else:
        why = (run.stderr.strip().splitlines() or ["pip failed"])[-1]
    found = sorted(folder.glob(f"{stem}-{version}-*.whl"))
    if run is None or run.returncode != 0 or not found:
        raise DeployError(f"CircuitPython has no asyncio built in and {name}=={version} could not be downloaded "
                          f"({why[:200]}); connect to PyPI, or put its wheel in {folder} and deploy again")
    return found[0]


def library_files(folder: Path | None = None) -> list[DeployFile]:
    """/lib/ files of every library in LIBRARIES (downloaded once into the cache)."""
    folder = folder or cache_dir() / "circuitpython-libs"
    files = []
    for name, version in LIBRARIES:
        wheel = _wheel(name, version, folder)
        try:
            with zipfile.ZipFile(wheel) as z:
                for member in sorted(z.namelist()):
                    top = member.split("/", 1)[0]
                    if member.endswith(".py") and not top.endswith((".dist-info", ".data")):
                        files.append(DeployFile(f"/lib/{member}", z.read(member), f"{name} {version}", GROUP))
        except zipfile.BadZipFile:
            wheel.unlink(missing_ok=True)
            raise DeployError(f"the cached {wheel.name} was damaged and has been removed; deploy again") from None
    return files
