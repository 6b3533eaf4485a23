"""Running the machine code of `@micropython.asm_xtensa` functions under qemu-xtensa.

No MicroPython port runs on an emulated Xtensa, so the proof of the Xtensa
loops (firmware/edgeloop_fw/runtime/viper/xtensa.py) takes the exact bytes
`mpy-cross -march=xtensawin` writes into the .mpy (`asm_functions`), puts them
into a tiny Linux ELF with a runner stub and the call's buffers, and runs that
in Debian's qemu-user (`qemu-xtensa`, core dc233c: windowed registers, MAC16,
zero-overhead loops, SEXT, as the ESP32-S3's LX7). The stub loads up to six
arguments into a10..a15, calls the code with CALLX8 (the windowed ABI a
MicroPython port uses for an asm function: the callee sees them in a2..a7),
stores the returned a2 and writes its block and the data area to stdout (Linux syscalls
write = 13, exit = 118, number in a2, arguments in a6, a3, a4).

Instructions are counted with tests/tools/qemu_count_plugin.c between the
CALLX8 and its return; `Runner.call(..., count=True)` gives that count minus
the same count for an empty asm function, i.e. the instructions the kernel
adds to a bare call.

The stub is assembled with binutils-xtensa-lx106 (the ESP8266 configuration:
its core encodings are the LX7's; CALLX8, which that configuration lacks, is
written as bytes).
"""

from __future__ import annotations

import ast
import hashlib
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
    l32r a8, block
    l32i a10, a8, 4
    l32i a11, a8, 8
    l32i a12, a8, 12
    l32i a13, a8, 16
    l32i a14, a8, 20
    l32i a15, a8, 24
    l32i a9, a8, 0
call:
    .byte 0xe0, 0x09, 0x00      /* callx8 a9 */
back:
    l32r a8, block
    s32i a10, a8, 28
    movi a2, 13
    movi a6, 1
    l32i a3, a8, 32
    l32i a4, a8, 36
    syscall
    movi a2, 118
    movi a6, 0
    syscall
"""
# block: [code address, a10..a15, returned a2, data address, data length]
_BLOCK = 40


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
        self._empty = None

    def call(self, code: bytes, args, count: bool = False):
        """Run `code(*args)`: a bytes/bytearray argument is copied into the data area and
        passed as its address, an int is passed as it is. Returns (returned a2 as int32,
        [each bytes argument after the call], instructions or None)."""
        if len(args) > MAX_ARGS:
            raise ValueError(f"at most {MAX_ARGS} arguments")
        k = (len(self.stub) + 15) & ~15
        blk = (k + len(code) + 15) & ~15
        data = blk + _BLOCK
        image = bytearray(self.stub.ljust(k, b"\0") + code).ljust(data, b"\0")
        regs, spans = [], []
        for a in args:
            if isinstance(a, (bytes, bytearray)):
                at = (len(image) + 3) & ~3
                image = image.ljust(at, b"\0") + bytes(a)
                spans.append((at - data, len(a)))
                regs.append(BASE + at)
            else:
                regs.append(int(a) & 0xFFFFFFFF)
        regs += [0] * (MAX_ARGS - len(regs))
        struct.pack_into("<I", image, 0, BASE + blk)
        struct.pack_into("<10I", image, blk, BASE + k, *regs, 0, BASE + blk, len(image) - blk)
        with tempfile.TemporaryDirectory() as d:
            exe = os.path.join(d, "run.elf")
            Path(exe).write_bytes(_elf(bytes(image), BASE + 4, 0x10000))
            os.chmod(exe, 0o755)
            cmd = [QEMU, "-cpu", CPU]
            regions = os.path.join(d, "regions")
            if count:
                from tests.tools.qemu_mpy import count_plugin

                cmd += ["-plugin", f"{count_plugin()},begin={BASE + self._call},end={BASE + self._back},"
                        f"out={regions}"]
            proc = subprocess.run(cmd + [exe], capture_output=True, timeout=120)
            if proc.returncode != 0:
                raise RuntimeError(f"qemu-xtensa exit {proc.returncode}: {proc.stderr.decode()[-500:]}")
            counted = None
            if count:
                counted = int(Path(regions).read_text().split()[0])
        out = proc.stdout  # the block, then the data area
        if len(out) != len(image) - blk:
            raise RuntimeError(f"the runner wrote {len(out)} bytes, expected {len(image) - blk}")
        ret = struct.unpack_from("<i", out, 28)[0]
        outs = [out[_BLOCK + s:_BLOCK + s + n] for s, n in spans]
        if count:
            counted -= self.empty_count()
        return ret, outs, counted

    def empty_count(self) -> int:
        """Instructions of the region around a call of an asm function with no body."""
        if self._empty is None:
            code = compile_asm("@micropython.asm_xtensa\ndef empty(a2):\n    pass\n")["empty"]
            self._empty = 0
            _, _, self._empty = self.call(code, [0], count=True)
        return self._empty
