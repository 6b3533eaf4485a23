"""The firmware on a real unix-port interpreter (CircuitPython's or MicroPython's), driven like fw_board.

The virtual board is WebAssembly MicroPython; this runs the same firmware on
other real interpreters: CircuitPython's unix port (built by
tests/tools/build_circuitpython.sh, named by EDGELOOP_CIRCUITPYTHON) with the
board shims of host/edgeloop/sim/shims/circuitpython/ first on its path, and
the unix MicroPython the venv installs (viper and native emitters, which the
WebAssembly build lacks). A temporary folder is the board's flash, mounted at
"/" inside the interpreter, so test code's absolute paths (/model.elm,
/lib/...) mean what they mean on a board. firmware/edgeloop_fw is copied to
/lib as source (these interpreters load source; .mpy for the board ABI is
deploy's business and is tested on the virtual board).

A session is one interpreter process fed code over a pipe (a stand-in for
the raw REPL, which the unix port does not have): each exec runs in the
session's globals and the driver collects garbage between execs, as the
board does between raw-REPL executions.
"""

from __future__ import annotations

import contextlib
import os
import selectors
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Iterable, Mapping

from tests.tools.paths import REPO

CIRCUITPYTHON_ENV = "EDGELOOP_CIRCUITPYTHON"
MICROPYTHON_ENV = "EDGELOOP_MICROPYTHON"
SHIMS = REPO / "host" / "edgeloop" / "sim" / "shims" / "circuitpython"
END = b"\x04EDGELOOP-EXEC-END\x04"
HEAP = "2M"  # a 64-bit build's objects are about twice a board's; the tests measure allocation, not size

# Read code (length line, then bytes) from stdin, exec it, mark the end on stdout.
DRIVER = r"""
import sys, gc
try:
    import vfs
except ImportError:
    import os as vfs
vfs.umount('/')
vfs.mount(vfs.VfsPosix(sys.argv[1]), '/')
sys.path[:] = ['/lib', '/']
try:
    from traceback import print_exception as _pe
    def _show(e):
        _pe(e)
except ImportError:
    def _show(e):
        sys.print_exception(e, sys.stdout)
_in = sys.stdin.buffer
_g = {'__name__': '__main__'}
while True:
    n = _in.readline()
    if not n:
        break
    code = _in.read(int(n)).decode()
    try:
        exec(code, _g)
        ok = 'OK'
    except BaseException as e:
        try:
            import micropython
            micropython.heap_unlock()  # an exec that failed under heap_lock must not kill the session
        except (ImportError, AttributeError):
            pass
        ok = 'ERR'
        print('\nEXEC-ERROR ', end='')
        _show(e)
    code = None
    gc.collect()
    sys.stdout.write('\x04EDGELOOP-EXEC-END\x04' + ok + '\n')
"""


def interpreters() -> dict[str, str | None]:
    """{kind: path or None}: the CircuitPython build (env var) and the unix MicroPython (venv or env var)."""
    mpy = os.environ.get(MICROPYTHON_ENV)
    if not mpy:
        cand = Path(sys.executable).with_name("micropython")
        mpy = str(cand) if cand.is_file() else shutil.which("micropython")
    return {"circuitpython": os.environ.get(CIRCUITPYTHON_ENV) or None, "micropython-unix": mpy}


class ExecError(RuntimeError):
    pass


class UnixSession:
    """One interpreter process: exec(code) -> its output bytes, like Device.exec."""

    def __init__(self, interp: str, flash: Path, heap: str = HEAP):
        self._driver = Path(tempfile.mkdtemp(prefix="edgeloop-unixdrv-")) / "driver.py"
        self._driver.write_text(DRIVER)
        self.proc = subprocess.Popen([interp, "-X", f"heapsize={heap}", str(self._driver), str(flash)],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        self._sel = selectors.DefaultSelector()
        self._sel.register(self.proc.stdout, selectors.EVENT_READ)
        self._buf = b""

    def exec(self, code: str, timeout: float = 300) -> bytes:
        data = code.encode()
        self.proc.stdin.write(b"%d\n" % len(data) + data)
        self.proc.stdin.flush()
        deadline = time.monotonic() + timeout
        while END not in self._buf:
            left = deadline - time.monotonic()
            if left <= 0 or not self._sel.select(left):
                raise ExecError(f"no answer within {timeout} s; output so far: {self._buf[-2000:]!r}")
            chunk = os.read(self.proc.stdout.fileno(), 65536)
            if not chunk:
                raise ExecError(f"the interpreter exited ({self.proc.wait()}): {self._buf[-2000:]!r}")
            self._buf += chunk
        out, rest = self._buf.split(END, 1)
        status, self._buf = rest.split(b"\n", 1)
        if status != b"OK":
            raise ExecError(out.decode("utf-8", "replace")[-3000:])
        return out

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.proc.stdin.close()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self._sel.close()
        shutil.rmtree(self._driver.parent, ignore_errors=True)


class UnixBoard:
    """FirmwareBoard's put/run/session over a unix-port interpreter (see the module docstring)."""

    def __init__(self, kind: str, interp: str, flash_dir: Path):
        self.kind, self.interp = kind, interp
        self.flash_dir = Path(flash_dir)
        lib = self.flash_dir / "lib"
        lib.mkdir(parents=True, exist_ok=True)
        shutil.copytree(REPO / "firmware" / "edgeloop_fw", lib / "edgeloop_fw", dirs_exist_ok=True,
                        ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        if kind == "circuitpython":
            for f in SHIMS.glob("*.py"):
                shutil.copy(f, lib / f.name)
        self._put: list[Path] = []

    def put(self, files: Mapping[str, bytes], models: Iterable[str | Path] = ()) -> list[str]:
        """Write `files` ({board path: bytes}) and model files (to /models/); the previous put's files go."""
        for p in self._put:
            p.unlink(missing_ok=True)
        self._put = []
        wanted = dict(files)
        for m in models:
            wanted[f"/models/{Path(m).name}"] = Path(m).read_bytes()
        for path, data in wanted.items():
            dest = self.flash_dir / path.lstrip("/")
            dest.parent.mkdir(parents=True, exist_ok=True)
            dest.write_bytes(data)
            self._put.append(dest)
        return sorted(wanted)

    def open_session(self) -> UnixSession:
        """A fresh interpreter on this flash (the caller closes it)."""
        return UnixSession(self.interp, self.flash_dir)

    @contextlib.contextmanager
    def session(self):
        s = self.open_session()
        try:
            yield s
        finally:
            s.close()

    def run(self, parts: Iterable[str], *, timeout: float = 300) -> str:
        with self.session() as s:
            return "".join(s.exec(p, timeout=timeout).decode("utf-8", "replace") for p in parts)

    def close(self) -> None:
        pass
