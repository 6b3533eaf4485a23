"""Time per Ed25519 verify (edgeloop_fw.crypto) next to references from the same run.

    .venv/bin/python benchmarks/bench_verify.py [--no-qemu] [--no-plain-qemu]

Rows, each skipped with its reason when its tool is missing:
- host: the `cryptography` package's verify (OpenSSL, the reference) and the
  board's code under CPython (plain field level, hashlib's SHA-512);
- the rp2040 virtual board (MicroPython WebAssembly, plain level, pure SHA-512);
- the unix MicroPython with native emitters (EDGELOOP_MICROPYTHON or the dev
  extra's): viper and plain level in one process;
- exact instruction counts per verify inside a real MicroPython under QEMU,
  Cortex-M0 (EDGELOOP_QEMU_MICROPYTHON, `microbit`) and Cortex-M7
  (EDGELOOP_QEMU_MICROPYTHON_M7, `mps2-an500`), both levels; the firmware is
  MicroPython's qemu port built locally (docs/signing.md says how).
Every verify is checked: a good signature must give True and a tampered one
False, or the run stops.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # the checkout: tests.tools
REPEAT = 5


def signed(msg_len: int = 200):
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    key = Ed25519PrivateKey.from_private_bytes(bytes(range(32)))
    pub = key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    msg = bytes((7 * i) & 0xFF for i in range(msg_len))
    return key, pub, msg, key.sign(msg)


def host_rows(key, pub, msg, sig):
    from edgeloop_fw.crypto import ed25519

    t = time.perf_counter()
    for _ in range(200):
        key.public_key().verify(sig, msg)
    ref = (time.perf_counter() - t) / 200
    best = None
    for _ in range(REPEAT):
        t = time.perf_counter()
        assert ed25519.verify(pub, msg, sig, "plain") is True
        best = min(best or 1e9, time.perf_counter() - t)
    assert ed25519.verify(pub, msg + b"!", sig, "plain") is False
    print(f"{'host: cryptography (OpenSSL) verify':46} {ref * 1e3:10.3f} ms   (reference)")
    print(f"{'host: edgeloop_fw plain level under CPython':46} {best * 1e3:10.1f} ms   {best / ref:8.0f}x the reference")
    return ref


CHECK = """
import time, gc
from edgeloop_fw.crypto import ed25519
P = {pub!r}
M = {msg!r}
S = {sig!r}
"""
TIME = """
for lv in {levels}:
    best = None
    for r in range({repeat}):
        t = time.ticks_us()
        ok = ed25519.verify(P, M, S, lv)
        d = time.ticks_diff(time.ticks_us(), t)
        best = d if best is None else min(best, d)
        assert ok is True
    assert ed25519.verify(P, M + b'!', S, lv) is False
    print('TIME', lv, best)
"""


def print_times(out: str, where: str, ref: float) -> None:
    """The TIME lines of a board's output, each as a row next to the reference."""
    for line in out.splitlines():
        if line.startswith("TIME"):
            _, lv, us = line.split()
            ms = int(us) / 1e3
            print(f"{where + ', ' + lv + ' level':46} {ms:10.1f} ms   {ms / 1e3 / ref:8.0f}x the reference")


def virtual_board_rows(pub, msg, sig, ref):
    from tests.tools import fw_board

    why = fw_board.unavailable()
    if why:
        print(f"virtual board: skipped: {why}")
        return
    with fw_board.FirmwareBoard("rp2040") as board:
        out = board.run([CHECK.format(pub=pub, msg=msg, sig=sig),
                         TIME.format(levels="('plain',)", repeat=3)], timeout=900)
    print_times(out, "virtual rp2040 (WebAssembly)", ref)


def unix_rows(pub, msg, sig, ref):
    from tests.tools import viper_board

    why = viper_board.unavailable()
    if why:
        print(f"unix MicroPython: skipped: {why}")
        return
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        arch = viper_board.install(root, root / "cache")
        out = viper_board.run(root, CHECK.format(pub=pub, msg=msg, sig=sig)
                              + TIME.format(levels="ed25519.levels()", repeat=REPEAT))
    print_times(out, f"unix MicroPython ({arch})", ref)


def crypto_files(arch: str) -> dict[str, bytes]:
    """The crypto package as deploy compiles it for `arch` (viper/ as machine code)."""
    from edgeloop.deploy import mpy
    from edgeloop.resources import firmware_dir

    root = firmware_dir()
    files = {}
    srcs = sorted((root / "edgeloop_fw" / "crypto").glob("**/*.py")) + [root / "edgeloop_fw" / "__init__.py"]
    for src in srcs:
        rel = src.relative_to(root).as_posix()
        data = src.read_bytes()
        native = mpy.needs_native(rel, data)
        files["/" + rel[:-3] + ".mpy"] = mpy.compile_source(data, rel, arch=arch if native else None)
    return files


COUNT = """
gc.collect()
hash(0)
ok = ed25519.verify(P, M, S, {lv!r})
callable(0)
print('OK', ok, ed25519.verify(P, M, S[:63] + bytes([S[63] ^ 1]), {lv!r}))
"""


def qemu_rows(pub, msg, sig, levels):
    from tests.tools.qemu_mpy import ARCH, QemuMicroPython

    for core, env, clock in (("m0", "EDGELOOP_QEMU_MICROPYTHON", 125), ("m7", "EDGELOOP_QEMU_MICROPYTHON_M7", 480)):
        firmware = os.environ.get(env)
        if not firmware:
            print(f"QEMU {core}: skipped: set {env} to a qemu-port firmware.elf (docs/signing.md)")
            continue
        files = crypto_files(ARCH[core])
        with QemuMicroPython(firmware, core, counted=True) as board:
            for path, data in files.items():
                board.put(path, data)
            board.exec(CHECK.format(pub=pub, msg=msg, sig=sig))
            board.exec("print(ed25519.levels())")
            outs = [board.exec(COUNT.format(lv=lv), timeout=7200) for lv in levels]
        for lv, out, n in zip(levels, outs, board.regions()):
            assert "OK True False" in out, out
            print(f"{'QEMU Cortex-' + core.upper() + ', ' + lv + ' level':46} {n / 1e6:10.1f} M instructions"
                  f"   ({n / clock / 1e3:.0f} ms at {clock} MHz, 1 instruction/cycle)")


def main() -> int:
    key, pub, msg, sig = signed()
    print(f"Ed25519 verify of a {len(msg)}-byte message, best of {REPEAT} (board rows: fewer)")
    ref = host_rows(key, pub, msg, sig)
    virtual_board_rows(pub, msg, sig, ref)
    unix_rows(pub, msg, sig, ref)
    if "--no-qemu" not in sys.argv:
        qemu_rows(pub, msg, sig, ("viper",) if "--no-plain-qemu" in sys.argv else ("viper", "plain"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
