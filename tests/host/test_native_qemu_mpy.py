"""The armv6m native module in a real MicroPython: the qemu port built for
Cortex-M0 (`microbit` machine) with native code enabled.

EDGELOOP_QEMU_MICROPYTHON names that firmware.elf (a local build from
MicroPython's source; none is committed). The module is served to the
firmware from a RAM filesystem typed in over the raw REPL, imported, and
fully_connected's bytes are compared with TFLM's formula written out in
Python (tests/host/test_native_kernels.py's _mbqm)."""

from __future__ import annotations

import os
import random
import select
import shutil
import subprocess
import time
from pathlib import Path

import pytest

from test_native_kernels import _mbqm

pytestmark = pytest.mark.slow
FIRMWARE = os.environ.get("EDGELOOP_QEMU_MICROPYTHON", "")
MACHINE = ["-machine", "microbit", "-global", "nrf51-soc.flash-size=1048576", "-global",
           "nrf51-soc.sram-size=262144"]

VFS = """
import vfs, io, sys
class V:
    def __init__(s, f): s.f = f
    def mount(s, ro, mkfs): pass
    def umount(s): pass
    def chdir(s, p): pass
    def stat(s, p):
        if p in s.f: return (0x8000, 0, 0, 0, 0, 0, len(s.f[p]), 0, 0, 0)
        raise OSError(2)
    def open(s, p, m): return io.BytesIO(s.f[p])
vfs.mount(V({'/elnative.mpy': MPY}), '/fs')
sys.path.insert(0, '/fs')
import elnative
"""


def run_raw(code: str, timeout: float = 60) -> str:
    """Execute `code` in the firmware's raw REPL; its output up to the end marker."""
    p = subprocess.Popen(["qemu-system-arm", *MACHINE, "-nographic", "-monitor", "null", "-semihosting",
                          "-serial", "mon:stdio", "-kernel", FIRMWARE],
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)

    def until(marker: bytes, limit: float) -> bytes:
        out, end = b"", time.time() + limit
        while marker not in out and time.time() < end and p.poll() is None:
            if select.select([p.stdout], [], [], 0.1)[0]:
                out += os.read(p.stdout.fileno(), 65536)
        return out

    try:
        until(b">>> ", 20)
        p.stdin.write(b"\r\x01\x01")  # Ctrl-A, doubled: mon:stdio's escape key
        p.stdin.flush()
        until(b"raw REPL", 10)
        data = (code + "\nprint('EL_END')\n").encode()
        for i in range(0, len(data), 64):  # the emulated UART has a small buffer
            p.stdin.write(data[i:i + 64])
            p.stdin.flush()
            time.sleep(0.005)
        p.stdin.write(b"\x04")
        p.stdin.flush()
        out = until(b"EL_END", timeout).decode(errors="replace")
    finally:
        p.kill()
        p.wait()
    assert "EL_END" in out, out[-500:]
    return out.split("OK", 1)[-1].split("EL_END")[0]


@pytest.fixture(scope="module")
def module_bytes(tmp_path_factory):
    if not FIRMWARE:
        pytest.skip("EDGELOOP_QEMU_MICROPYTHON is unset (path of a Cortex-M0 qemu-port firmware.elf "
                    "built with native code)")
    for tool in ("arm-none-eabi-gcc", "qemu-system-arm"):
        if not shutil.which(tool):
            pytest.skip(f"{tool} is not installed (make system-packages)")
    from edgeloop.native.build import native_module

    return native_module("armv6m", Path(tmp_path_factory.mktemp("mod")))


def test_armv6m_module_loads_and_computes_tflm_bytes(module_bytes):
    rng = random.Random(5)
    depth, units = 37, 6
    x = [rng.randrange(-128, 128) for _ in range(depth)]
    w = [rng.randrange(-127, 128) for _ in range(depth * units)]
    chans = [(rng.randrange(-5000, 5000), rng.randrange(2**30, 2**31), rng.randrange(-12, 1)) for _ in range(units)]
    off, lo, hi = -3, -128, 127
    p = [1, depth, units, 0, depth, 0, 0, 0, off, lo, hi] + [v for c in chans for v in c]
    want = []
    for u, (b, m, s) in enumerate(chans):
        acc = b + sum(x[k] * w[u * depth + k] for k in range(depth))
        want.append(min(hi, max(lo, _mbqm(acc, m, s) + off)))
    code = VFS.replace("MPY", repr(module_bytes)) + f"""
from array import array
p = array('i', {p})
arena = bytearray(bytes(array('b', {x}))) + bytearray({units})
elnative.fully_connected(p, arena, bytes(array('b', {w})), 0, {units})
print('API', elnative.API, 'OUT', list(array('b', arena[{depth}:])))
"""
    out = run_raw(code)
    assert f"API 3 OUT {want}" in out, out
