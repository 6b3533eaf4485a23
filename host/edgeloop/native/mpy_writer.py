"""Link one ELF relocatable object into a MicroPython native module (.mpy 6.3).

The format is specified in docs/native-modules.md ("The native .mpy
format"); this is edgeloop's own implementation of it. In short: the whole
module is one viper-kind raw code whose machine code ("text") holds every
allocated section of the object, then a GOT; the loader copies the text into
executable memory, adds its load address (or the address of mp_fun_table,
of the module's qstr table, or an mp_fun_table entry) to each word the
relocation stream names, and calls offset 0 as `mpy_init(self, ...)`.

Everything PC-relative is resolved here (calls, branches, GOT-relative
loads); only absolute words are left to the loader. The object must be
position independent (-fpic), keep no writable state (.bss/.data: the text
is shared code, possibly in flash one day) and export `mpy_init`.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field

from . import elf as E

MPY_VERSION, MPY_SUB_VERSION = 6, 3
SMALL_INT_BITS = 31  # the loader only refuses a value above its own; 31 fits every port
KIND_VIPER = 4 - 2  # MP_CODE_NATIVE_VIPER - MP_CODE_BYTECODE
SCOPE_VIPERRELOC = 0x10
ENTRY = "mpy_init"
QSTR_SECTION = ".el_qstrs"


@dataclass(frozen=True)
class Arch:
    name: str
    code: int  # MP_NATIVE_ARCH_*
    machine: str
    word: int


ARCHS = {a.name: a for a in (
    Arch("x64", 2, "EM_X86_64", 8),
    Arch("armv6m", 4, "EM_ARM", 4),
    Arch("armv7m", 5, "EM_ARM", 4),
    Arch("armv7emsp", 7, "EM_ARM", 4),
    Arch("armv7emdp", 8, "EM_ARM", 4),
)}

# Relocation destinations of the loader (py/persistentcode.c, mp_native_relocate)
DEST_TEXT, DEST_QSTR_TABLE, DEST_OBJ_TABLE, DEST_FUN_TABLE, DEST_FUN_ENTRY = 0, 6, 7, 8, 9
EXTERNAL = {"mp_native_qstr_table": DEST_QSTR_TABLE, "mp_native_obj_table": DEST_OBJ_TABLE,
            "mp_fun_table": DEST_FUN_TABLE}
# Symbols that are entries of mp_fun_table (index into the table; .mpy 6.3 order)
FUN_TABLE_TYPES = {"mp_type_type": 73, "mp_type_str": 74, "mp_type_list": 75, "mp_type_dict": 76,
                   "mp_type_fun_builtin_0": 77, "mp_type_fun_builtin_1": 78, "mp_type_fun_builtin_2": 79,
                   "mp_type_fun_builtin_3": 80, "mp_type_fun_builtin_var": 81, "mp_type_Exception": 82}

# ELF relocation types used
X64_64, X64_PC32, X64_PLT32, X64_GOTPCREL, X64_GOTPCRELX, X64_REX_GOTPCRELX = 1, 2, 4, 9, 41, 42
ARM_ABS32, ARM_REL32, ARM_THM_CALL, ARM_GOTOFF32, ARM_BASE_PREL, ARM_GOT_BREL = 2, 3, 10, 24, 25, 26
ARM_THM_JUMP24, ARM_V4BX, ARM_THM_JUMP11 = 30, 40, 102
GOT_TYPES = {"EM_X86_64": {X64_GOTPCREL, X64_GOTPCRELX, X64_REX_GOTPCRELX}, "EM_ARM": {ARM_GOT_BREL}}


class LinkError(ValueError):
    """The object cannot become a native module (the message says why)."""


@dataclass
class Linked:
    arch: Arch
    text: bytes
    relocs: list[tuple[int, int]]  # (word index in text, destination)
    qstrs: list[str]  # mp_native_qstr_table[1:]
    got: int = 0  # GOT offset in text
    layout: dict = field(default_factory=dict)  # section name -> offset, for inspection


def link(obj: bytes, arch: str) -> Linked:
    a = ARCHS.get(arch)
    if a is None:
        raise LinkError(f"no native-module linker for arch {arch!r} (known: {', '.join(ARCHS)})")
    e = E.read(obj)
    if e.machine != a.machine or e.bits != 8 * a.word:
        raise LinkError(f"object is {e.machine}/{e.bits}-bit, arch {arch} needs {a.machine}/{8 * a.word}-bit")
    entry = next((s for s in e.symbols if s.name == ENTRY and s.shndx not in (E.SHN_UNDEF, E.SHN_ABS)), None)
    if entry is None:
        raise LinkError(f"the object defines no {ENTRY}")
    if entry.value & ~1:
        raise LinkError(f"{ENTRY} must start its section (compile with -ffunction-sections)")
    keep = []
    for s in e.sections:
        if not s.flags & E.SHF_ALLOC or s.name == QSTR_SECTION or s.name.startswith((".ARM.exidx", ".eh_frame")):
            continue
        if s.size == 0:
            continue
        if s.type == E.SHT_NOBITS or (s.flags & E.SHF_WRITE and not s.name.startswith(".data.rel.ro")):
            raise LinkError(f"section {s.name} is writable state; native kernels must keep none")
        keep.append(s)
    # entry's section first (the loader starts at offset 0), then code, then data
    keep.sort(key=lambda s: (s.index != entry.shndx, not s.flags & E.SHF_EXECINSTR))
    addr: dict[int, int] = {}
    text = bytearray()
    layout = {}
    for s in keep:
        at = _align(len(text), max(s.align, 1))
        text += bytes(at - len(text)) + s.data
        addr[s.index] = at
        layout[s.name] = at
    # GOT: one word per symbol reached through a GOT relocation
    got_syms: list[str] = []
    got_of: dict = {}
    for target, rels in e.relocs.items():
        if target not in addr:
            continue
        for r in rels:
            if r.type in GOT_TYPES.get(e.machine, ()):
                key = _key(e, r.sym)
                if key not in got_of:
                    got_of[key] = len(got_syms)
                    got_syms.append(key)
    got = _align(len(text), a.word)
    text += bytes(got - len(text) + a.word * len(got_syms))
    linked = Linked(a, b"", [], _qstrs(e), got, layout)
    for i, key in enumerate(got_syms):
        _absolute(linked, text, e, key, got + i * a.word, 0, addr)
    for target, rels in e.relocs.items():
        if target not in addr:
            continue
        for r in rels:
            _apply(linked, text, e, r, addr[target] + r.offset, addr, got, got_of)
    linked.text = bytes(text)
    linked.relocs.sort()
    return linked


def _align(n: int, k: int) -> int:
    return (n + k - 1) // k * k


def _key(e: E.Elf, index: int):
    s = e.symbols[index]
    if s.bind == E.STB_LOCAL:
        return (s.shndx, s.value)
    return s.name


def _qstrs(e: E.Elf) -> list[str]:
    s = e.section(QSTR_SECTION)
    if s is None:
        return []
    return [q.decode() for q in s.data.rstrip(b"\0").split(b"\0")]


def _resolve(e: E.Elf, key, addr: dict) -> tuple[int | None, int]:
    """(image address or None if external, destination kind for absolute words)."""
    if isinstance(key, tuple):
        shndx, value = key
    else:
        sym = next((s for s in e.symbols if s.name == key and s.shndx != E.SHN_UNDEF), None)
        if sym is None:
            if key in EXTERNAL:
                return None, EXTERNAL[key]
            if key in FUN_TABLE_TYPES:
                return None, DEST_FUN_ENTRY + FUN_TABLE_TYPES[key]
            raise LinkError(f"undefined symbol {key} (not in mp_fun_table's ABI)")
        shndx, value = sym.shndx, sym.value
    if shndx in (E.SHN_ABS, E.SHN_COMMON):
        raise LinkError(f"symbol {key} is absolute or common; compile with -fno-common")
    if shndx not in addr:
        raise LinkError(f"symbol {key} lives in a section the module does not keep ({e.sections[shndx].name})")
    return addr[shndx] + value, DEST_TEXT


def _absolute(linked: Linked, text: bytearray, e: E.Elf, key, place: int, addend: int, addr: dict) -> None:
    """A word holding an address: text-relative words get the load address added by the loader."""
    if place % linked.arch.word:
        raise LinkError(f"absolute address at unaligned offset {place:#x}")
    where, dest = _resolve(e, key, addr)
    value = addend + (where or 0)
    text[place:place + linked.arch.word] = value.to_bytes(linked.arch.word, "little", signed=value < 0)
    linked.relocs.append((place // linked.arch.word, dest))


def _sym_key(e: E.Elf, r: E.Reloc):
    s = e.symbols[r.sym]
    if s.type == E.STT_SECTION:
        return (s.shndx, 0)
    return _key(e, r.sym)


def _put32(text: bytearray, at: int, v: int) -> None:
    if not -2**31 <= v < 2**32:
        raise LinkError(f"relocation at {at:#x} out of 32-bit range")
    struct.pack_into("<I", text, at, v & 0xFFFFFFFF)


def _apply(linked, text, e, r, place, addr, got, got_of) -> None:
    m = e.machine
    key = _sym_key(e, r)
    sym = e.symbols[r.sym]
    if m == "EM_X86_64":
        a = r.addend
        if r.type == X64_64:
            _absolute(linked, text, e, key, place, a, addr)
        elif r.type in (X64_PC32, X64_PLT32):
            s, _ = _internal(e, key, addr, r)
            _put32(text, place, s + a - place)
        elif r.type in GOT_TYPES[m]:
            _put32(text, place, got + 8 * got_of[key] + a - place)
        else:
            raise LinkError(f"x64 relocation type {r.type} against {sym.name or 'a section'} "
                            "is not position independent (compile with -fpic)")
        return
    # ARM (REL: the addend is in the place)
    if r.type == ARM_V4BX:
        return
    if sym.name == "_GLOBAL_OFFSET_TABLE_" and r.type in (ARM_BASE_PREL, ARM_REL32):
        a = struct.unpack_from("<i", text, place)[0]
        _put32(text, place, got + a - place)
    elif r.type == ARM_ABS32:
        _absolute(linked, text, e, key, place, struct.unpack_from("<i", text, place)[0], addr)
    elif r.type == ARM_REL32:
        s, _ = _internal(e, key, addr, r)
        _put32(text, place, s + struct.unpack_from("<i", text, place)[0] - place)
    elif r.type == ARM_GOT_BREL:
        _put32(text, place, 4 * got_of[key] + struct.unpack_from("<i", text, place)[0])
    elif r.type == ARM_GOTOFF32:
        s, _ = _internal(e, key, addr, r)
        _put32(text, place, s + struct.unpack_from("<i", text, place)[0] - got)
    elif r.type in (ARM_THM_CALL, ARM_THM_JUMP24):
        s, _ = _internal(e, key, addr, r)
        a = thumb_branch_offset(text, place)
        write_thumb_branch(text, place, (s & ~1) + a - place)
    elif r.type == ARM_THM_JUMP11:
        s, _ = _internal(e, key, addr, r)
        hw = struct.unpack_from("<H", text, place)[0]
        a = ((hw & 0x7FF) << 1) - ((hw & 0x400) << 2)
        off = (s & ~1) + a - place
        if not -2048 <= off < 2048:
            raise LinkError("thumb short branch out of range")
        struct.pack_into("<H", text, place, (hw & 0xF800) | ((off >> 1) & 0x7FF))
    else:
        raise LinkError(f"ARM relocation type {r.type} against {sym.name or 'a section'} is not supported "
                        "(compile with -fpic, thumb only)")


def _internal(e, key, addr, r) -> tuple[int, int]:
    where, dest = _resolve(e, key, addr)
    if where is None:
        raise LinkError(f"PC-relative reference to external {key}: reach it through the GOT")
    return where, dest


def thumb_branch_offset(text: bytes, at: int) -> int:
    """The signed offset a Thumb-2 BL/B.W encodes (T4/T1 encodings)."""
    h1, h2 = struct.unpack_from("<HH", text, at)
    s = (h1 >> 10) & 1
    i1 = 1 - (((h2 >> 13) & 1) ^ s)
    i2 = 1 - (((h2 >> 11) & 1) ^ s)
    v = (s << 24) | (i1 << 23) | (i2 << 22) | ((h1 & 0x3FF) << 12) | ((h2 & 0x7FF) << 1)
    return v - (1 << 25) if s else v


def write_thumb_branch(text: bytearray, at: int, off: int) -> None:
    if not -(1 << 24) <= off < (1 << 24) or off & 1:
        raise LinkError(f"thumb branch at {at:#x} out of range")
    h1, h2 = struct.unpack_from("<HH", text, at)
    v = off & ((1 << 25) - 1)
    s = (v >> 24) & 1
    j1 = (1 - ((v >> 23) & 1)) ^ s
    j2 = (1 - ((v >> 22) & 1)) ^ s
    h1 = (h1 & 0xF800) | (s << 10) | ((v >> 12) & 0x3FF)
    h2 = (h2 & 0xD000) | (j1 << 13) | (j2 << 11) | ((v >> 1) & 0x7FF)
    struct.pack_into("<HH", text, at, h1, h2)


# --- writing ---------------------------------------------------------------------------------

def uint(n: int) -> bytes:
    """MicroPython's variable-length unsigned int: 7 bits a byte, most significant first."""
    out = [n & 0x7F]
    n >>= 7
    while n:
        out.append(0x80 | (n & 0x7F))
        n >>= 7
    return bytes(reversed(out))


def qstr(s: str) -> bytes:
    b = s.encode()
    return uint(len(b) << 1) + b + b"\0"


def reloc_stream(relocs: list[tuple[int, int]]) -> bytes:
    """Runs of consecutive text words become one op with a count; others one op each."""
    out = bytearray()
    i = 0
    while i < len(relocs):
        word, dest = relocs[i]
        n = 1
        while dest == DEST_TEXT and i + n < len(relocs) and relocs[i + n] == (word + n, DEST_TEXT):
            n += 1
        if dest == DEST_TEXT:
            out += bytes([((0 << 1 | (n > 1)) << 1) | 1]) + uint(word << 1) + (uint(n) if n > 1 else b"")
        else:
            if dest > 126:
                raise LinkError(f"relocation destination {dest} does not fit the stream")
            out += bytes([(dest << 1) | 1]) + uint(word << 1)
        i += n
    return bytes(out) + b"\xff"


def write(linked: Linked, filename: str = "elnative.mpy") -> bytes:
    a = linked.arch
    out = bytearray(b"M" + bytes([MPY_VERSION, (a.code << 2) | MPY_SUB_VERSION, SMALL_INT_BITS]))
    out += uint(1 + len(linked.qstrs)) + uint(0)
    out += qstr(filename) + b"".join(qstr(q) for q in linked.qstrs)
    out += uint(len(linked.text) << 3 | KIND_VIPER) + linked.text
    out += uint(SCOPE_VIPERRELOC)
    out += reloc_stream(linked.relocs)
    return bytes(out)


def link_mpy(obj: bytes, arch: str, filename: str = "elnative.mpy") -> bytes:
    return write(link(obj, arch), filename)
