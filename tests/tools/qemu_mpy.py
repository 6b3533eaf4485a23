"""A MicroPython firmware (MicroPython's qemu port) under qemu-system-arm, driven
over its raw REPL, with QEMU's exact instruction count of marked regions.

Why: the kernel levels above C (portable Python, viper) and the native
module only show their real cost and behaviour inside a real MicroPython on
the real instruction set. The firmware is a local build of MicroPython's
qemu port (none is shipped); tests and benchmarks take its path from the
environment.

Files reach the board through a read-only filesystem object mounted at
/fs whose contents are sent in small hex chunks (the raw REPL keeps a whole
paste in the heap, and the emulated UART drops bytes when written faster than
it drains). Counting uses the same method as cortexm.count_regions: QEMU's
`-d in_asm,exec,nochain` log through a FIFO, block sizes summed over the
executed blocks between two marker functions, here two builtins the kernels
never call: `hash()` (mp_builtin_hash) starts a region, `callable()`
(mp_builtin_callable) ends it. A region therefore includes the Python call
into the kernel and the marker calls themselves (a few hundred instructions).
"""

from __future__ import annotations

import os
import select
import subprocess
import tempfile
import threading
import time
from pathlib import Path

from edgeloop.errors import EdgeloopError
from tests.tools.cortexm import _symbol, parse_log

MACHINES = {
    "m0": ("-M", "microbit", "-global", "nrf51-soc.flash-size=1048576", "-global", "nrf51-soc.sram-size=262144"),
    "m7": ("-M", "mps2-an500"),
}
ARCH = {"m0": "armv6m", "m7": "armv7emdp"}
BEGIN, END = "mp_builtin_hash", "mp_builtin_callable"

_VFS = """
import vfs, io, sys
F = {}
class V:
    def mount(s, ro, mkfs): pass
    def umount(s): pass
    def chdir(s, p): pass
    def stat(s, p):
        if p in F: return (0x8000, 0, 0, 0, 0, 0, len(F[p]), 0, 0, 0)
        for k in F:
            if k.startswith(p + '/'): return (0x4000, 0, 0, 0, 0, 0, 0, 0, 0, 0)
        raise OSError(2)
    def open(s, p, m): return io.BytesIO(F.pop(p) if p.endswith('.mpy') else F[p])  # modules load once: free them
vfs.mount(V(), '/fs')
sys.path.insert(0, '/fs')
"""


class QemuMicroPython:
    """One firmware run: `exec` code in the raw REPL, `put` files; `counted=True`
    logs the instruction trace so `regions()` returns each hash() .. callable() count."""

    def __init__(self, firmware: str | Path, core: str, counted: bool | str = False, qemu_args=()):
        """`counted`: True logs the trace (exact, slow: ~10^8 instructions a minute);
        "plugin" counts the same regions with tests/tools/qemu_count_plugin.c (no log,
        for whole-model runs of 10^10 instructions). `qemu_args` go on QEMU's command
        line (e.g. -device loader to put a model file in the emulated flash)."""
        self.firmware = Path(firmware)
        if not self.firmware.is_file():
            raise EdgeloopError(f"no MicroPython firmware at {self.firmware}: build MicroPython's qemu port")
        self.core = core
        self._dir = tempfile.TemporaryDirectory()
        cmd = ["qemu-system-arm", *MACHINES[core], "-nographic", "-monitor", "null", "-semihosting",
               "-serial", "mon:stdio", *qemu_args, "-kernel", str(self.firmware)]
        self._regions: list[int] = []
        self._counter = None
        self._plugin_out = None
        if counted == "plugin":
            self._plugin_out = os.path.join(self._dir.name, "regions")
            begin, end = _symbol(self.firmware, BEGIN), _symbol(self.firmware, END)
            cmd[1:1] = ["-plugin", f"{count_plugin()},begin={begin},end={end},out={self._plugin_out}"]
        elif counted:
            fifo = os.path.join(self._dir.name, "log")
            os.mkfifo(fifo)
            cmd[1:1] = ["-accel", "tcg", "-d", "in_asm,exec,nochain", "-D", fifo]
            begin, end = _symbol(self.firmware, BEGIN), _symbol(self.firmware, END)
            self._counter = threading.Thread(target=self._count, args=(fifo, begin, end), daemon=True)
            self._counter.start()
        self.proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT)
        self._out = b""
        try:
            self._until(b">>> ", 60)
            self._send(b"\r\x01\x01")  # Ctrl-A (raw REPL), doubled: mon:stdio's escape key
            self._until(b"raw REPL", 20)
            self.exec(_VFS)
        except BaseException:
            self.close()
            raise

    def _count(self, fifo, begin, end):
        with open(fifo) as log:
            parse_log(log, begin, end, self._regions)

    def _send(self, data: bytes):
        for i in range(0, len(data), 64):  # the emulated UART has a small buffer
            self.proc.stdin.write(data[i:i + 64])
            self.proc.stdin.flush()
            time.sleep(0.004)

    def _until(self, marker: bytes, limit: float) -> bytes:
        end = time.time() + limit
        while marker not in self._out and time.time() < end and self.proc.poll() is None:
            if select.select([self.proc.stdout], [], [], 0.1)[0]:
                self._out += os.read(self.proc.stdout.fileno(), 65536)
        if marker not in self._out:
            raise EdgeloopError(f"MicroPython on qemu ({self.core}) did not answer: {self._out[-300:]!r}")
        i = self._out.index(marker) + len(marker)
        got, self._out = self._out[:i], self._out[i:]
        return got

    def exec(self, code: str, timeout: float = 120) -> str:
        """Run `code` in the raw REPL; its output. A Python exception raises EdgeloopError."""
        self._send(code.encode() + b"\x04")
        self._until(b"OK", 30)
        out = self._until(b"\x04", timeout)[:-1].decode(errors="replace")
        err = self._until(b"\x04", 10)[:-1].decode(errors="replace")
        self._until(b">", 10)
        if err.strip():
            raise EdgeloopError(f"MicroPython on qemu ({self.core}): {err.strip().splitlines()[-1]}")
        return out

    def put(self, path: str, data: bytes, chunk: int = 2048):
        """A file at /fs/<path> (read by import and open through the mounted filesystem)."""
        # one buffer of final size, filled in place: growing it fragments the heap
        self.exec(f"import gc\ngc.collect()\nF[{path!r}] = B = bytearray({len(data)})\nM = memoryview(B)")
        for i in range(0, len(data), chunk):
            part = data[i:i + chunk]
            self.exec(f"M[{i}:{i + len(part)}] = bytes.fromhex('{part.hex()}')")
        self.exec("B = M = None")

    def put_stream(self, name: str, data: bytes, chunk: int = 2048):
        """F[name] = an io.BytesIO holding `data`, allocated once at its final size
        (the model file: the loader seeks and reads it like a file)."""
        self.exec(f"import gc, io\ngc.collect()\nF[{name!r}] = B = io.BytesIO({len(data)})")
        for i in range(0, len(data), chunk):
            self.exec(f"B.write(bytes.fromhex('{data[i:i + chunk].hex()}'))")
        self.exec("B.seek(0)\nB = None")

    def regions(self) -> list[int]:
        """Instructions counted in each hash() .. callable() region so far (after close())."""
        return list(self._regions)

    def close(self):
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()
        if self._counter is not None:
            self._counter.join(timeout=600)
        if self._plugin_out is not None and os.path.exists(self._plugin_out):
            with open(self._plugin_out) as f:
                self._regions = [int(line) for line in f if line.strip()]
        self._dir.cleanup()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def count_plugin(cache: Path | None = None) -> Path:
    """tests/tools/qemu_count_plugin.c built with the host's gcc (once per source)."""
    import hashlib

    src = Path(__file__).with_name("qemu_count_plugin.c")
    text = src.read_bytes()
    cache = cache or Path(tempfile.gettempdir()) / "edgeloop-qemu-plugin"
    lib = cache / f"count-{hashlib.sha256(text).hexdigest()[:12]}.so"
    if not lib.exists():
        cache.mkdir(parents=True, exist_ok=True)
        tmp = lib.with_suffix(f".{os.getpid()}.tmp")
        subprocess.run(["gcc", "-O2", "-shared", "-fPIC", "-o", str(tmp), str(src)], check=True)
        os.replace(tmp, lib)
    return lib


def runtime_files(arch: str, native_module: bytes | None = None, ops=None) -> dict[str, bytes]:
    """The runtime's files as the board holds them after a deploy: .mpy bytecode,
    the viper kernels compiled for `arch`, and elnative.mpy when given; with
    `ops`, only the kernels of those ops (a 140 KB heap holds little else)."""
    from edgeloop.deploy import mpy
    from edgeloop.resources import firmware_dir

    root = firmware_dir()
    files = {}
    for src in sorted((root / "edgeloop_fw").glob("runtime/**/*.py")) + [root / "edgeloop_fw" / "__init__.py"]:
        rel = src.relative_to(root).as_posix()
        if ops is not None and src.parent.name in ("kernels", "viper", "native") and \
                src.stem not in (*ops, "__init__"):
            continue
        data = src.read_bytes()
        native = mpy.needs_native(rel, data)
        if mpy.asm_archs(data) and arch not in mpy.asm_archs(data):
            continue
        files["/" + rel[:-3] + ".mpy"] = mpy.compile_source(data, rel, arch=arch if native else None)
    if native_module is not None:
        files["/edgeloop_fw/runtime/native/elnative.mpy"] = native_module
    return files


def romfs_image(files: dict[str, bytes]) -> bytes:
    """A ROMFS image (MicroPython's read-only, memory-mapped filesystem, mounted with
    vfs.VfsRom) holding `files` at its root, written by mpremote's own writer."""
    from mpremote.romfs import VfsRomWriter

    w = VfsRomWriter()
    for name, data in files.items():
        w.mkfile(name, data)
    return w.finalise()


_LOAD = """
import io, gc, vfs
from edgeloop_fw.runtime.loader import Model
from edgeloop_fw.runtime.interpreter import Interpreter
vfs.mount(vfs.VfsRom(F.pop('/model.rom')), '/rom')  # as ROMFS in a board's flash: read in place
m = Model(open('/rom/model.elm', 'rb'))
try:  # the native level's weight buffer, allocated while the heap was in one piece
    from edgeloop_fw.runtime import native
    native._bufs[0] = PRE
except ImportError:
    pass
PRE = None
"""
_RUN = """
it = None
gc.collect()
it = Interpreter(m, ({level!r},))
it.set_input(F['/x.bin'])
def op(ev, p, a, m):  # as Interpreter.invoke calls an op: from locals
    hash(0)
    ev(p, a, m)
    callable(0)
def markers():  # the markers alone, subtracted from the op's region (bare-metal counts exclude theirs)
    hash(0)
    callable(0)
markers()
for ev, p in it.steps:
    if m.ops[len(L)][1] in ('fully_connected', 'conv_2d', 'depthwise_conv_2d', 'transpose_conv', 'batch_matmul',
                           'lstm'):
        op(ev, p, it.arena, m)
    else:
        ev(p, it.arena, m)
    L.append(0)
print('LEVEL', it.kernel_levels, 'OUT', it.get_output().hex())
"""


def level_runs(firmware, core: str, blob: bytes, x: bytes, levels=("kernels", "viper", "native"),
               native_module: bytes | None = None) -> dict:
    """{level: (instructions of the model's heavy op without the markers' own, output bytes, level used)}
    for a single-heavy-op model run by the board's runtime at each kernel level, the
    model file in a ROMFS image (memory-mapped, so the native level reads weights in place)."""
    import io

    from edgeloop_fw.runtime.loader import Model

    files = runtime_files(ARCH[core], native_module, {n for _o, n, _p, _t in Model(io.BytesIO(blob)).ops})
    results = {}
    with QemuMicroPython(firmware, core, counted=True) as board:
        board.exec("PRE = bytearray(16384)")  # native.BUDGET, before the heap fragments
        for path, data in files.items():
            board.put(path, data)
        # The module's machine code needs one contiguous block: load it before the
        # model and input take their share of this 140 KB heap.
        board.exec("try:\n from edgeloop_fw.runtime import native\nexcept ImportError:\n pass")
        board.put("/model.rom", romfs_image({"model.elm": blob}))
        board.put("/x.bin", x)
        board.exec(_LOAD)
        outs = []
        for level in levels:
            out = board.exec("L = []\n" + _RUN.format(level=level), timeout=3600)
            outs.append((level, out))
    counts = board.regions()
    if len(counts) != 2 * len(levels):
        raise EdgeloopError(f"counted {len(counts)} regions for {len(levels)} levels on {core}")
    for (level, out), markers, n in zip(outs, counts[0::2], counts[1::2]):
        n -= markers
        used = out.split("LEVEL ", 1)[1].split(" OUT")[0]
        results[level] = (n, bytes.fromhex(out.split("OUT ", 1)[1].split()[0]), used)
    return results
