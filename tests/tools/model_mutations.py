"""Crafted model files: one field of a good `.elm` changed, the hash recomputed.

A recomputed hash is what a buggy writer or a hand-edited file looks like to
the board: the loader's hash check passes, so only the full field check
(`edgeloop_fw.runtime.validate`) stands between such a file and a crash.
`fields(blob)` names every integer field of the file (header, summary,
tensor rows, I/O table, op rows, every param); `mutate` rewrites one;
`outcome` is the property the fuzz tests assert on host and board alike:
the check refuses the file with a ModelFileError, or the runtime loads it
and runs an inference without raising anything.

The layout is read from `edgeloop_fw.runtime.format`, the one spec of it.
"""

from __future__ import annotations

import hashlib
import io
import struct
from dataclasses import dataclass

from edgeloop_fw.runtime import format as F

HEADER = (("version", 4, "<H"), ("flags", 6, "<H"), ("file_size", 8, "<I"))
SUMMARY = ("arena_size", "params_offset", "params_count", "const_offset", "const_size", "n_tensors", "n_ops",
           "n_inputs", "n_outputs", "names_offset", "names_size")
TENSOR = ("dtype", "rank", "flags", "reserved", "dim0", "dim1", "dim2", "dim3", "dim4", "dim5", "zero_point",
          "scale", "nbytes", "arena_offset", "name_offset", "name_len")
OP = ("opcode", "kernel_version", "params_start", "params_count", "first_input", "first_output")


@dataclass(frozen=True)
class Field:
    name: str
    offset: int
    fmt: str  # struct format of the one value, little-endian

    @property
    def bits(self) -> int:
        return 8 * struct.calcsize(self.fmt)

    @property
    def signed(self) -> bool:
        return self.fmt[-1] in "bhiq"


def _struct_fields(prefix: str, base: int, fmt: str, names: tuple[str, ...]) -> list[Field]:
    out, at = [], base
    codes = [c for c in fmt[1:] if not c.isdigit()]
    counts = []
    num = ""
    for c in fmt[1:]:
        if c.isdigit():
            num += c
        else:
            counts.append(int(num or 1))
            num = ""
    k = 0
    for code, n in zip(codes, counts):
        if code == "x":
            at += n
            continue
        for _ in range(n):
            if code != "f":  # a float's bits are informational on the board
                out.append(Field(f"{prefix}{names[k]}", at, "<" + code))
            at += struct.calcsize("<" + code)
            k += 1
    return out


def fields(blob: bytes) -> list[Field]:
    """Every integer field of the model file `blob`, named for messages."""
    s = struct.unpack_from(F.SUMMARY_FMT, blob, F.SUMMARY_AT)
    params_at, n_params, n_tensors, n_ops, n_in, n_out = s[1], s[2], s[5], s[6], s[7], s[8]
    out = [Field(n, at, fmt) for n, at, fmt in HEADER]
    out += _struct_fields("", F.SUMMARY_AT, F.SUMMARY_FMT, SUMMARY)
    at = F.TABLES_AT
    for i in range(n_tensors):
        out += _struct_fields(f"tensor{i}.", at, F.TENSOR_FMT, TENSOR)
        at += F.TENSOR_SIZE
    for i in range(n_in + n_out):
        out.append(Field(f"io{i}", at, "<H"))
        at += 2
    ops_at = at
    for i in range(n_ops):
        out += _struct_fields(f"op{i}.", at, F.OP_FMT, OP)
        at += F.OP_SIZE
    for i in range(n_ops):
        _code, _v, start, count, _a, _b = struct.unpack_from(F.OP_FMT, blob, ops_at + i * F.OP_SIZE)
        for k in range(count):
            out.append(Field(f"op{i}.param{k}", params_at + 4 * (start + k), "<i"))
    return out


def rehash(blob: bytes | bytearray) -> bytes:
    """`blob` with its header's SHA-256 recomputed over what its file_size field says."""
    b = bytearray(blob)
    size = struct.unpack_from("<I", b, 8)[0]
    b[12:44] = hashlib.sha256(bytes(b[F.HASHED_FROM:max(size, F.HASHED_FROM)])).digest()
    return bytes(b)


def mutate(blob: bytes, field: Field, value: int) -> bytes:
    """`blob` with `field` set to `value` (wrapped to the field's width) and the hash recomputed."""
    b = bytearray(blob)
    mask = (1 << field.bits) - 1
    v = value & mask
    if field.signed and v >> (field.bits - 1):
        v -= 1 << field.bits
    struct.pack_into(field.fmt, b, field.offset, v)
    return rehash(b)


def value_of(blob: bytes, field: Field) -> int:
    return struct.unpack_from(field.fmt, blob, field.offset)[0]


def outcome(blob: bytes, heap: int | None = None) -> tuple[str, str]:
    """("refused", reason) when the full check refuses `blob`, else ("ran", output hex) after
    loading it and running one inference on zero inputs. Anything else raised is the bug the
    fuzz tests look for, so it propagates."""
    from edgeloop_fw.runtime.interpreter import Interpreter
    from edgeloop_fw.runtime.loader import Model, ModelFileError
    from edgeloop_fw.runtime.validate import check

    f = io.BytesIO(blob)
    try:
        check(f, heap)
    except ModelFileError as e:
        return "refused", str(e)
    f.seek(0)
    it = Interpreter(Model(f), levels=("kernels",))
    for i, t in enumerate(it.model.inputs):
        it.set_input(bytes(t.nbytes), i)
    it.invoke()
    return "ran", b"".join(it.get_output(i) for i in range(len(it.model.outputs))).hex()


INTERESTING = (0, 1, -1, 2, 3, 4, 7, 8, 255, 256, 0x7FFF, 0xFFFF, 0x10000, 10 ** 9, 0x3FFFFFFF, 0x7FFFFFFF,
               -0x80000000, -129, 128, -128, 127)
