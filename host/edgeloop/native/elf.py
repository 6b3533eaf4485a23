"""A minimal reader of ELF relocatable objects: sections, symbols, relocations.

Only what linking a native module needs (little-endian ELF32/ELF64, REL and
RELA), so the host tool has no binary-utilities dependency and the linker
sees exactly the fields it uses.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field

SHT_SYMTAB, SHT_RELA, SHT_NOBITS, SHT_REL = 2, 4, 8, 9
SHF_WRITE, SHF_ALLOC, SHF_EXECINSTR = 1, 2, 4
SHN_UNDEF, SHN_ABS, SHN_COMMON = 0, 0xFFF1, 0xFFF2
STB_LOCAL, STT_SECTION, STT_FUNC = 0, 3, 2
MACHINES = {3: "EM_386", 40: "EM_ARM", 62: "EM_X86_64", 94: "EM_XTENSA", 243: "EM_RISCV"}


class ElfError(ValueError):
    pass


@dataclass
class Section:
    index: int
    name: str
    type: int
    flags: int
    offset: int
    size: int
    link: int
    info: int
    align: int
    data: bytes = b""


@dataclass
class Symbol:
    name: str
    value: int
    bind: int
    type: int
    shndx: int


@dataclass
class Reloc:
    offset: int
    sym: int
    type: int
    addend: int | None  # None: REL, the addend sits in the place


@dataclass
class Elf:
    machine: str
    bits: int
    sections: list[Section]
    symbols: list[Symbol]
    relocs: dict[int, list[Reloc]] = field(default_factory=dict)  # target section index -> relocs

    def section(self, name: str) -> Section | None:
        return next((s for s in self.sections if s.name == name), None)


def read(data: bytes) -> Elf:
    if data[:4] != b"\x7fELF":
        raise ElfError("not an ELF file")
    bits = {1: 32, 2: 64}.get(data[4])
    if bits is None or data[5] != 1:
        raise ElfError("only little-endian ELF32/ELF64 objects are supported")
    e_type, e_machine = struct.unpack_from("<HH", data, 16)
    if e_type != 1:
        raise ElfError("not a relocatable object (ET_REL)")
    if bits == 64:
        shoff, = struct.unpack_from("<Q", data, 0x28)
        shentsize, shnum, shstrndx = struct.unpack_from("<HHH", data, 0x3A)
        sh_fmt, sym_fmt, sym_size = "<IIQQQQIIQQ", "<IBBHQQ", 24
    else:
        shoff, = struct.unpack_from("<I", data, 0x20)
        shentsize, shnum, shstrndx = struct.unpack_from("<HHH", data, 0x2E)
        sh_fmt, sym_fmt, sym_size = "<IIIIIIIIII", "<IIIBBH", 16
    raw = [struct.unpack_from(sh_fmt, data, shoff + i * shentsize) for i in range(shnum)]
    names = raw[shstrndx]
    strtab = data[names[4]:names[4] + names[5]]
    sections = []
    for i, (name, typ, flags, _addr, off, size, link, info, align, _ent) in enumerate(raw):
        body = b"" if typ == SHT_NOBITS else data[off:off + size]
        sections.append(Section(i, _cstr(strtab, name), typ, flags, off, size, link, info, align, body))
    symbols: list[Symbol] = []
    symtab = next((s for s in sections if s.type == SHT_SYMTAB), None)
    if symtab is not None:
        strs = sections[symtab.link].data
        for k in range(symtab.size // sym_size):
            if bits == 64:
                name, info, _other, shndx, value, _size = struct.unpack_from(sym_fmt, symtab.data, k * sym_size)
            else:
                name, value, _size, info, _other, shndx = struct.unpack_from(sym_fmt, symtab.data, k * sym_size)
            symbols.append(Symbol(_cstr(strs, name), value, info >> 4, info & 15, shndx))
    elf = Elf(MACHINES.get(e_machine, str(e_machine)), bits, sections, symbols)
    for s in sections:
        if s.type in (SHT_REL, SHT_RELA):
            elf.relocs.setdefault(s.info, []).extend(_relocs(s, bits))
    return elf


def _relocs(s: Section, bits: int) -> list[Reloc]:
    rela = s.type == SHT_RELA
    if bits == 64:
        fmt, size = ("<QQq", 24) if rela else ("<QQ", 16)
    else:
        fmt, size = ("<IIi", 12) if rela else ("<II", 8)
    out = []
    for k in range(s.size // size):
        v = struct.unpack_from(fmt, s.data, k * size)
        sym, typ = (v[1] >> 32, v[1] & 0xFFFFFFFF) if bits == 64 else (v[1] >> 8, v[1] & 0xFF)
        out.append(Reloc(v[0], sym, typ, v[2] if rela else None))
    return out


def _cstr(table: bytes, at: int) -> str:
    end = table.index(b"\0", at)
    return table[at:end].decode()
