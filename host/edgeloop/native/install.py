"""Which native module a board gets, or the one-line reason it gets none.

Deploy and convert ask `module_for(info)` with what the board reports
(`sys.implementation.name`, `_mpy`). Every refusal is one line naming the
level the interpreter will use instead, and the deploy goes on: a board
without the module simply runs the viper or portable kernels, with the same
bytes.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from ..errors import EdgeloopError
from . import build

REMOTE = "/lib/edgeloop_fw/runtime/native/elnative.mpy"
ABI = "6.3"
ARCHS = ("x64", "armv6m", "armv7emdp", "xtensawin")


@dataclass
class Native:
    data: bytes | None  # the module, or None when the board gets none
    note: str  # one line for the user
    arch: str | None = None


def _arch_name(mpy: int | None):
    if not mpy:
        return None, None
    from edgeloop.boards.profiles import decode_mpy

    d = decode_mpy(mpy)
    return d["abi"], d["arch"]


def module_for(info: dict, *, cache_dir: Path | None = None, linker: str | None = None) -> Native:
    """The native module for the board described by `info` (name, mpy), or why not."""
    name = str(info.get("name") or "")
    abi, arch = _arch_name(info.get("mpy"))
    fallback = "viper" if arch else "portable"
    if name.lower() == "circuitpython":
        return Native(None, f"CircuitPython cannot load native .mpy modules: the {fallback} kernels will be used")
    if not arch:
        return Native(None, f"the board's firmware ({name or 'unknown'}) cannot load native code (its "
                      "sys.implementation._mpy names no native arch): the portable kernels will be used")
    if abi != ABI:
        return Native(None, f"the board loads .mpy ABI {abi}, the native module is written for {ABI}: "
                      f"the {fallback} kernels will be used")
    if arch not in ARCHS:
        return Native(None, f"no native kernels for arch {arch} (edgeloop builds {', '.join(ARCHS)}): "
                      f"the {fallback} kernels will be used")
    try:
        data = native_module(arch, cache_dir=cache_dir, linker=linker)
    except EdgeloopError as e:
        loops = ", their MAC loops in Xtensa assembler (docs/xtensa.md)" if arch.startswith("xtensa") else ""
        return Native(None, f"{e}: the {fallback} kernels will be used meanwhile{loops}", arch)
    return Native(data, f"native kernels: elnative.mpy for {arch}, {len(data)} bytes", arch)


def cache_root(cache_dir: Path | None) -> Path:
    if cache_dir:
        return Path(cache_dir) / "native"
    from edgeloop.resources import cache_dir as edgeloop_cache

    return edgeloop_cache() / "native"


def native_module(arch: str, *, cache_dir: Path | None = None, linker: str | None = None) -> bytes:
    """Build and link elnative.mpy for `arch`. linker: "edgeloop" (default) or "mpy_ld", the
    latter being MicroPython's tools/mpy_ld.py from the tree MPY_DIR points at."""
    linker = linker or ("mpy_ld" if os.environ.get("MPY_DIR") else "edgeloop")
    out = cache_root(cache_dir) / arch
    if linker == "edgeloop":
        return build.native_module(arch, out)
    if linker != "mpy_ld":
        raise EdgeloopError(f"unknown linker {linker!r}: use edgeloop or mpy_ld")
    return link_with_mpy_ld(build.module_object(arch, out), arch)


def link_with_mpy_ld(obj: Path, arch: str) -> bytes:
    """The same object linked by MicroPython's own tools/mpy_ld.py (needs pyelftools)."""
    from .mpy_writer import _qstrs
    from .elf import read

    mpy_dir = os.environ.get("MPY_DIR")
    tool = Path(mpy_dir or "") / "tools" / "mpy_ld.py"
    if not mpy_dir or not tool.is_file():
        raise EdgeloopError(f"MPY_DIR={mpy_dir or ''} is not a MicroPython source tree (no tools/mpy_ld.py)")
    qstrs = _qstrs(read(obj.read_bytes()))
    with tempfile.TemporaryDirectory() as tmp:
        qfile = Path(tmp) / "qstrs.h"
        qfile.write_text("".join(f"#define MP_QSTR_{q} (mp_native_qstr_table[{i + 1}])\n"
                                 for i, q in enumerate(qstrs)))
        mpy = Path(tmp) / "elnative.mpy"
        r = subprocess.run([sys.executable, str(tool), "--arch", arch, "--qstrs", str(qfile), "-o", str(mpy),
                            str(obj)], capture_output=True, text=True)
        if r.returncode:
            last = (r.stderr.strip().splitlines() or ["no output"])[-1]
            raise EdgeloopError(f"mpy_ld.py failed for {arch}: {last}")
        return mpy.read_bytes()


def write_for_board(board: str, out_dir: Path, *, cache_dir: Path | None = None) -> tuple[Path | None, str]:
    """`edgeloop convert --backend native --board B`: elnative-<arch>.mpy next to the model file,
    for the arch and ABI of B's profile, or (None, why not and which level runs instead)."""
    from edgeloop.boards.profiles import load

    profile = load(board)
    native = module_for({"name": "micropython", "mpy": profile.mpy_value}, cache_dir=cache_dir)
    if native.data is None:
        return None, native.note
    path = Path(out_dir) / f"elnative-{native.arch}.mpy"
    from ..atomic import write_bytes_atomic

    write_bytes_atomic(path, native.data)
    return path, (f"wrote {path}: native kernels for {native.arch} ({len(native.data)} bytes); "
                  f"`edgeloop deploy` installs them as {REMOTE}")
