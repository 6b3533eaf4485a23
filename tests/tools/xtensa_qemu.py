"""Running the machine code of `@micropython.asm_xtensa` functions under qemu-xtensa.

No MicroPython port runs on an emulated Xtensa, so the proof of the Xtensa
loops (firmware/edgeloop_fw/runtime/viper/xtensa.py) takes the exact bytes
`mpy-cross -march=xtensawin` writes into the .mpy (`asm_functions`), puts them
into a tiny Linux ELF with a runner stub and the call's buffers, and runs that
in Debian's qemu-user (`qemu-xtensa`, core dc233c: windowed registers, MAC16,
zero-overhead loops, SEXT, as the ESP32-S3's LX7). The stub loads up to six
arguments into a10..a15, calls the code with CALLX8 (the windowed ABI a
MicroPython port uses for an asm function: the callee sees them in a2..a7),
stores the returned a2, repeats that for every call record (one process runs a
whole layer's calls), then writes its block, the records and the data area to
stdout (Linux syscalls write = 13, exit = 118, number in a2, arguments in a6, a3,
a4).

Instructions are counted with tests/tools/qemu_count_plugin.c from the
kernel's first instruction to its return, one count per call (the whole asm
function: the jump over its literals, ENTRY, the body, RETW); `log=True` counts
the same from QEMU's `-d in_asm,exec,nochain` log, the check of the plugin.

The stub is assembled with binutils-xtensa-lx106 (the ESP8266 configuration:
its core encodings are the LX7's; CALLX8, which that configuration lacks, is
written as bytes).
"""

from __future__ import annotations

import ast
import hashlib
import re
import os
import shutil
import struct
import subprocess
import tempfile
from pathlib import Path

QEMU = "qemu-xtensa"
CPU = "dc233c"
AS = "xtensa-lx106-elf-as"
OBJCOPY = "xtensa-lx106-elf-objcopy"
BASE = 0x10000
MAX_ARGS = 6

_STUB = """
    .text
    .literal_position
    .align 4
block: .word 0
    .global _start
_start:
    l32r a2, block          /* a2..a7 survive a CALLX8: the callee's window starts at a8 */
    l32i a3, a2, 4
    l32i a4, a2, 8
    beqz a3, done
next:
    l32i a10, a4, 0
    l32i a11, a4, 4
    l32i a12, a4, 8
    l32i a13, a4, 12
    l32i a14, a4, 16
    l32i a15, a4, 20
    l32i a9, a2, 0
call:
    .byte 0xe0, 0x09, 0x00  /* callx8 a9 */
back:
    s32i a10, a4, 24
    addi a4, a4, 28
    addi a3, a3, -1
    bnez a3, next
done:
    mov a5, a2
    movi a2, 13
    movi a6, 1
    l32i a3, a5, 12
    l32i a4, a5, 16
    syscall
    movi a2, 118
    movi a6, 0
    syscall
"""
# block: [code address, number of calls, first call record, data address, data length];
# a call record: a10..a15, then the returned a2
_BLOCK = 20
_RECORD = 28


class Buf:
    """An argument that is the address of buffer `index` (plus `offset`) in the data area."""

    def __init__(self, index: int, offset: int = 0):
        self.index, self.offset = index, offset


def unavailable() -> str | None:
    """Why the Xtensa code cannot be run here, or None."""
    missing = [t for t in (QEMU, AS, OBJCOPY) if shutil.which(t) is None]
    if missing:
        return (f"{', '.join(missing)} not found: `make system-packages` installs qemu-user and "
                "binutils-xtensa-lx106")
    return None


class MpyError(ValueError):
    pass


class _In:
    def __init__(self, data: bytes):
        self.data, self.at = data, 0

    def take(self, n: int) -> bytes:
        if self.at + n > len(self.data):
            raise MpyError("file ends early")
        self.at += n
        return self.data[self.at - n:self.at]

    def uint(self) -> int:
        n = 0
        while True:
            b = self.take(1)[0]
            n = n << 7 | b & 0x7F
            if not b & 0x80:
                return n


def asm_functions(mpy: bytes, source: str) -> dict[str, bytes]:
    """{name: machine code} of the module-level asm functions in a compiled module.

    Read from MicroPython's .mpy v6 layout: header, qstrs, then a tree of raw
    codes, each `uint(len << 3 | children << 2 | kind)` and its bytes (kind 0
    bytecode, 3 inline assembler). A bytecode parent with children gives their
    count; an asm child is followed by its scope flags, argument count and type
    signature. The children come in source order, so the names are the
    decorated defs of `source` in order. Constant objects and native (non-asm)
    children are refused: the kernels' module has neither.
    """
    f = _In(mpy)
    if f.take(1) != b"M" or f.take(1)[0] != 6:
        raise MpyError("not a .mpy version 6")
    if f.take(1)[0] >> 2 != 10:
        raise MpyError("not compiled for xtensawin")
    f.take(1)
    n_qstr, n_obj = f.uint(), f.uint()
    if n_obj:
        raise MpyError("constant objects are not expected in an asm module")
    for _ in range(n_qstr):
        n = f.uint()
        if not n & 1:
            f.take((n >> 1) + 1)
    codes = []

    def raw(depth: int):
        kind_len = f.uint()
        kind, children, size = kind_len & 3, kind_len & 4, kind_len >> 3
        text = f.take(size)
        if kind == 0:
            if children:
                for _ in range(f.uint()):
                    raw(depth + 1)
            return
        if kind != 3 or children:
            raise MpyError(f"raw code kind {kind}: only bytecode and inline assembler are expected")
        if f.uint() & 0x70:
            raise MpyError("asm code with relocations or rodata")
        f.uint(), f.uint()  # argument count, type signature
        if depth == 1:
            codes.append(text)

    raw(0)
    if f.at != len(mpy):
        raise MpyError(f"{len(mpy) - f.at} bytes after the raw code tree")
    names = [d.name for d in ast.parse(source).body if isinstance(d, ast.FunctionDef) and any(
        isinstance(x, ast.Attribute) and x.attr == "asm_xtensa" for x in d.decorator_list)]
    if len(names) != len(codes):
        raise MpyError(f"{len(codes)} asm functions in the .mpy, {len(names)} in the source")
    return dict(zip(names, codes))


def compile_asm(source: str, name: str = "asm.py") -> dict[str, bytes]:
    """`source` through the deploy step's mpy-cross for xtensawin, then `asm_functions`."""
    from edgeloop.deploy.mpy import compile_source

    return asm_functions(compile_source(source.encode(), name, arch="xtensawin"), source)


def _stub(cache: Path) -> tuple[bytes, int, int]:
    """(stub bytes, offset of the CALLX8, offset of the instruction after it)."""
    key = hashlib.sha256(_STUB.encode()).hexdigest()[:12]
    out = cache / f"stub-{key}.bin"
    if not out.exists():
        cache.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory() as d:
            s, o, b = (os.path.join(d, n) for n in ("s.S", "s.o", "s.bin"))
            Path(s).write_text(_STUB)
            subprocess.run([AS, s, "-o", o], check=True, capture_output=True)
            subprocess.run([OBJCOPY, "-O", "binary", "-j", ".text", o, b], check=True)
            os.replace(b, out)
    data = out.read_bytes()
    call = data.index(bytes([0xE0, 0x09, 0x00]))
    return data, call, call + 3


def _elf(image: bytes, entry: int, spare: int) -> bytes:
    """A static little-endian Xtensa (EM_XTENSA 94) executable: one RWX segment at BASE."""
    head = struct.pack("<16sHHIIIIIHHHHHH", b"\x7fELF\x01\x01\x01" + bytes(9), 2, 94, 1, entry,
                       52, 0, 0x300, 52, 32, 1, 0, 0, 0)
    seg = struct.pack("<8I", 1, 0x1000, BASE, BASE, len(image), len(image) + spare, 7, 0x1000)
    return (head + seg).ljust(0x1000, b"\0") + image


class Runner:
    def __init__(self, cache: Path | None = None):
        self.cache = cache or Path(tempfile.gettempdir()) / "edgeloop-xtensa"
        self.stub, self._call, self._back = _stub(self.cache)

    def call(self, code: bytes, args, count: bool = False):
        """One call `code(*args)`: a bytes argument is copied into the data area and passed
        as its address, an int as it is. (returned a2 as int32, [each bytes argument
        after the call], instructions or None)."""
        bufs = [bytes(a) for a in args if isinstance(a, (bytes, bytearray))]
        it = iter(range(len(bufs)))
        call = [Buf(next(it)) if isinstance(a, (bytes, bytearray)) else a for a in args]
        rets, outs, counts = self.run(code, bufs, [call], count)
        return rets[0], outs, counts[0] if count else None

    def layout(self, code: bytes, sizes, n_calls: int) -> list[int]:
        """The address each buffer of `sizes` bytes gets in `run(code, ..., calls)` with
        n_calls calls, for buffers that hold pointers to others (a fake function table)."""
        k = (len(self.stub) + 15) & ~15
        at = (k + len(code) + 15 & ~15) + _BLOCK + _RECORD * n_calls
        out = []
        for n in sizes:
            at = (at + 3) & ~3
            out.append(BASE + at)
            at += n
        return out

    def run(self, code: bytes, buffers, calls, count: bool = False, log: bool = False):
        """Every call in `calls` (a list of argument lists: int or Buf) in one process, in
        order, on shared `buffers`. ([returned a2], [buffers after], [instructions per call]
        or None; log=True: counted from QEMU's execution log instead of the plugin)."""
        if any(len(c) > MAX_ARGS for c in calls):
            raise ValueError(f"at most {MAX_ARGS} arguments")
        k = (len(self.stub) + 15) & ~15
        blk = (k + len(code) + 15) & ~15
        rec = blk + _BLOCK
        data = rec + _RECORD * len(calls)
        image = bytearray(self.stub.ljust(k, b"\0") + code).ljust(data, b"\0")
        at = []
        for b in buffers:
            a = (len(image) + 3) & ~3
            image = image.ljust(a, b"\0") + bytes(b)
            at.append(a)
        for i, c in enumerate(calls):
            regs = [BASE + at[a.index] + a.offset if isinstance(a, Buf) else int(a) & 0xFFFFFFFF for a in c]
            struct.pack_into("<7I", image, rec + _RECORD * i, *(regs + [0] * (7 - len(regs))))
        struct.pack_into("<I", image, 0, BASE + blk)
        struct.pack_into("<5I", image, blk, BASE + k, len(calls), BASE + rec, BASE + blk, len(image) - blk)
        with tempfile.TemporaryDirectory() as d:
            exe = os.path.join(d, "run.elf")
            Path(exe).write_bytes(_elf(bytes(image), BASE + 4, 0x10000))
            os.chmod(exe, 0o755)
            cmd = [QEMU, "-cpu", CPU]
            regions = os.path.join(d, "regions")
            if count:
                from tests.tools.qemu_mpy import count_plugin

                # from the kernel's first instruction: a region begun at the CALLX8 is only
                # marked on that block's first execution in QEMU 7.2's xtensa (the counts of
                # later calls ran on), one begun at the callee's entry on every call
                cmd += ["-plugin", f"{count_plugin()},begin={BASE + k},end={BASE + self._back},"
                        f"out={regions}"]
            if log:
                cmd += ["-d", "in_asm,exec,nochain", "-D", os.path.join(d, "log")]
            proc = subprocess.run(cmd + [exe], capture_output=True, timeout=600)
            if proc.returncode != 0:
                raise RuntimeError(f"qemu-xtensa exit {proc.returncode}: {proc.stderr.decode()[-500:]}")
            counts = None
            if count:
                # + 1: the plugin leaves out the region's first block, which is the jump over
                # the literal pool every xtensawin asm function starts with
                counts = [int(v) + 1 for v in Path(regions).read_text().split()]
                if len(counts) != len(calls):
                    raise RuntimeError(f"{len(counts)} counted regions for {len(calls)} calls")
            if log:
                with open(os.path.join(d, "log"), errors="replace") as f:
                    counts = exact_counts(f, BASE + k, BASE + self._back)
        out = proc.stdout  # the block, the call records, then the data area
        if len(out) != len(image) - blk:
            raise RuntimeError(f"the runner wrote {len(out)} bytes, expected {len(image) - blk}")
        rets = [struct.unpack_from("<i", out, _BLOCK + _RECORD * i + 24)[0] for i in range(len(calls))]
        outs = [out[a - blk:a - blk + len(b)] for a, b in zip(at, buffers)]
        return rets, outs, counts


def exact_counts(log, begin: int, end: int) -> list[int]:
    """Instructions of each region from the block at `begin` (included) to the block at
    `end` (excluded) in a `-d in_asm,exec,nochain` log: `IN:` sections give each block's
    size, `Trace` lines the blocks executed. Slow on long runs; the check of the plugin."""
    sizes, block, current, regions = {}, None, None, []
    insn = re.compile(r"^0x([0-9a-f]{8}):")
    trace = re.compile(r"^Trace \d+: 0x[0-9a-f]+ \[[0-9a-f]+/([0-9a-f]+)/")
    for line in log:
        m = trace.match(line)
        if m:
            pc = int(m.group(1), 16)
            if pc == begin:
                current = 0
            if pc == end and current is not None:
                regions.append(current)
                current = None
            elif current is not None:
                current += sizes[pc]
            continue
        if line.startswith("IN:") or not line.strip():
            block = None
            continue
        m = insn.match(line)
        if m:
            if block is None:
                block = int(m.group(1), 16)
                sizes[block] = 0
            sizes[block] += 1
    return regions
