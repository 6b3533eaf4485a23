"""An independent reader of native .mpy modules, written from docs/native-modules.md
("The native .mpy format") and not from edgeloop's writer: it parses a file into
its parts and serialises them back, so a test can check both that a file follows
the documented format and that nothing in it is left unexplained.
"""

from __future__ import annotations

from dataclasses import dataclass, field

ARCH_NAMES = {2: "x64", 4: "armv6m", 5: "armv7m", 7: "armv7emsp", 8: "armv7emdp", 10: "xtensawin"}
WORD = {"x64": 8}


class Bad(ValueError):
    pass


@dataclass
class Module:
    version: int
    arch: str
    sub: int
    small_int_bits: int
    qstrs: list  # [file name, then the table entries]
    kind: int
    text: bytes
    scope_flags: int
    relocs: list = field(default_factory=list)  # (op byte, word index, count) as stored
    raw_qstrs: list = field(default_factory=list)  # how each qstr was stored: str or static index

    @property
    def word(self) -> int:
        return WORD.get(self.arch, 4)

    def adjustments(self):
        """(word index, destination) for every word the loader adjusts."""
        out = []
        for op, word, n in self.relocs:
            kind = op >> 1
            if kind <= 5:
                dest, n = kind >> 1, n
            else:
                dest, n = kind, 1
            out += [(word + i, dest) for i in range(n)]
        return out


class _In:
    def __init__(self, data: bytes):
        self.data, self.at = data, 0

    def byte(self) -> int:
        if self.at >= len(self.data):
            raise Bad("file ends early")
        self.at += 1
        return self.data[self.at - 1]

    def take(self, n: int) -> bytes:
        if self.at + n > len(self.data):
            raise Bad("file ends early")
        self.at += n
        return self.data[self.at - n:self.at]

    def uint(self) -> int:
        n = 0
        while True:
            b = self.byte()
            n = (n << 7) | (b & 0x7F)
            if not b & 0x80:
                return n


def parse(data: bytes) -> Module:
    f = _In(data)
    if f.take(1) != b"M":
        raise Bad("no M")
    version, feat, bits = f.byte(), f.byte(), f.byte()
    arch = ARCH_NAMES.get(feat >> 2)
    if arch is None:
        raise Bad(f"arch number {feat >> 2}")
    n_qstr, n_obj = f.uint(), f.uint()
    if n_obj:
        raise Bad("a native module of this kind has no constant objects")
    qstrs, raw = [], []
    for _ in range(n_qstr):
        n = f.uint()
        if n & 1:
            qstrs.append(n >> 1)
            raw.append(n >> 1)
        else:
            s = f.take(n >> 1)
            if f.byte() != 0:
                raise Bad("qstr without its NUL")
            qstrs.append(s.decode())
            raw.append(s.decode())
    kind_len = f.uint()
    kind, has_children, size = kind_len & 3, kind_len & 4, kind_len >> 3
    if kind != 2 or has_children:
        raise Bad(f"raw code kind {kind} children {bool(has_children)}: expected one viper-kind code")
    text = f.take(size)
    flags = f.uint()
    if flags & 0x60:
        raise Bad("rodata/bss outside the text are not used by edgeloop's modules")
    relocs = []
    if flags & 0x10:
        while True:
            op = f.byte()
            if op == 0xFF:
                break
            if not op & 1:
                raise Bad("relocation without an address")
            where = f.uint()
            if where & 1:
                raise Bad("relocation into rodata")
            dest = op >> 1
            n = f.uint() if dest <= 5 and dest & 1 else 1
            relocs.append((op, where >> 1, n))
    if f.at != len(data):
        raise Bad(f"{len(data) - f.at} bytes after the relocations")
    return Module(version, arch, feat & 3, bits, qstrs, kind, text, flags, relocs, raw)


def _uint(n: int) -> bytes:
    parts = [n & 0x7F]
    while n > 0x7F:
        n >>= 7
        parts.append(0x80 | (n & 0x7F))
    return bytes(reversed(parts))


def serialise(m: Module) -> bytes:
    code = {v: k for k, v in ARCH_NAMES.items()}[m.arch]
    out = bytearray(b"M" + bytes([m.version, code << 2 | m.sub, m.small_int_bits]))
    out += _uint(len(m.qstrs)) + _uint(0)
    for q in m.raw_qstrs:
        if isinstance(q, int):
            out += _uint(q << 1 | 1)
        else:
            b = q.encode()
            out += _uint(len(b) << 1) + b + b"\0"
    out += _uint(len(m.text) << 3 | m.kind) + m.text + _uint(m.scope_flags)
    if m.scope_flags & 0x10:
        for op, word, n in m.relocs:
            out += bytes([op]) + _uint(word << 1)
            if (op >> 1) <= 5 and (op >> 1) & 1:
                out += _uint(n)
        out += b"\xff"
    return bytes(out)
