"""Mutated model files for the loader's fuzz tests (CPython and the virtual board).

A mutation is a pure function of a valid model file and a `random.Random`,
so the board test can replay on the board exactly the files a seed makes on
the host. Most mutations recompute the SHA-256 (and keep `file_size` true),
so the checks behind the hash are the ones exercised: a field of the header,
the tensor table, the I/O table or the op table, or one int32 param, is set
to a value chosen to sit on or past a limit; or bytes are flipped, or the
file truncated or extended, with or without the hash fixed up.

The field map is written here from docs/model-format.md's tables, not taken
from the loader, so a loader that reads a field from the wrong place is not
fuzzed at its own idea of the layout.
"""

from __future__ import annotations

import hashlib
import io
import random
import struct

MAGIC_END = 4
HASHED_FROM = 44
TABLES_AT = 80
TENSOR_ROW = 52
OP_ROW = 16

# (name, offset, struct code) of the header fields after the magic (docs/model-format.md, "Layout").
HEADER = [("version", 4, "H"), ("flags", 6, "H"), ("file_size", 8, "I"), ("arena_size", 44, "I"),
          ("params_offset", 48, "I"), ("params_count", 52, "I"), ("const_offset", 56, "I"),
          ("const_size", 60, "I"), ("n_tensors", 64, "H"), ("n_ops", 66, "H"), ("n_inputs", 68, "H"),
          ("n_outputs", 70, "H"), ("names_offset", 72, "I"), ("names_size", 76, "I")]
# Tensor table row: dtype, rank, flags, reserved, shape[6], zero_point, scale, nbytes, offset,
# name_offset, name_len.
TENSOR = [("dtype", 0, "B"), ("rank", 1, "B"), ("flags", 2, "B")] + \
    [(f"shape{i}", 4 + 4 * i, "i") for i in range(6)] + \
    [("zero_point", 28, "i"), ("nbytes", 36, "I"), ("offset", 40, "I"), ("name_offset", 44, "I"),
     ("name_len", 48, "H")]
# Op table row: opcode, kernel_version, params_start, params_count, first_input, first_output.
OP = [("opcode", 0, "H"), ("kernel_version", 2, "H"), ("params_start", 4, "I"), ("params_count", 8, "I"),
      ("first_input", 12, "H"), ("first_output", 14, "H")]

BITS = {"B": 8, "H": 16, "I": 32, "i": 32}


def fields(blob: bytes) -> list[tuple[str, int, str]]:
    """Every header and table field and every int32 param of a valid model file."""
    (n_tensors, n_ops, n_in, n_out) = struct.unpack_from("<4H", blob, 64)
    params_at, n_params = struct.unpack_from("<2I", blob, 48)
    out = list(HEADER)
    for t in range(n_tensors):
        out += [(f"tensor{t}.{n}", TABLES_AT + TENSOR_ROW * t + o, c) for n, o, c in TENSOR]
    io_at = TABLES_AT + TENSOR_ROW * n_tensors
    out += [(f"io{i}", io_at + 2 * i, "H") for i in range(n_in + n_out)]
    ops_at = io_at + 2 * (n_in + n_out)
    for k in range(n_ops):
        out += [(f"op{k}.{n}", ops_at + OP_ROW * k + o, c) for n, o, c in OP]
    out += [(f"param{i}", params_at + 4 * i, "i") for i in range(n_params)]
    return out


def rehash(blob: bytearray) -> bytearray:
    """file_size and the SHA-256 made true for the bytes as they are now."""
    struct.pack_into("<I", blob, 8, len(blob))
    blob[12:44] = hashlib.sha256(bytes(blob[HASHED_FROM:])).digest()
    return blob


def _value(rng: random.Random, old: int, code: str, blob: bytes) -> int:
    bits = BITS[code]
    signed = code == "i"
    lo, hi = (-(1 << (bits - 1)), (1 << (bits - 1)) - 1) if signed else (0, (1 << bits) - 1)
    arena = struct.unpack_from("<I", blob, 44)[0]
    picks = [0, 1, 2, 3, -1, lo, hi, old + 1, old - 1, old * 2, old + 4, old + 256, old - 256, -old,
             arena, arena - 1, arena + 1, len(blob), len(blob) + 1, 1 << (bits - 2), rng.randint(lo, hi)]
    v = rng.choice(picks)
    return ((v - lo) % (hi - lo + 1)) + lo  # wrapped into the field's range, as a write of those bits would


def mutate(blob: bytes, rng: random.Random) -> tuple[str, bytes]:
    """(what was done, the mutated file)."""
    out = bytearray(blob)
    kind = rng.choice(["field", "field", "field", "field", "flip", "flip", "truncate", "extend"])
    if kind == "field":
        name, at, code = rng.choice(fields(blob))
        old = struct.unpack_from("<" + code, out, at)[0]
        new = _value(rng, old, code, blob)
        struct.pack_into("<" + code, out, at, new)
        if name != "file_size":
            rehash(out)
        return f"{name} {old} -> {new}", bytes(out)
    if kind == "flip":
        n = rng.choice([1, 1, 2, 8])
        where = []
        for _ in range(n):
            i = rng.randrange(len(out))
            out[i] ^= 1 << rng.randrange(8)
            where.append(i)
        fix = rng.random() < 0.7
        if fix:
            rehash(out)
        return f"flip bytes {where}{' (rehashed)' if fix else ''}", bytes(out)
    if kind == "truncate":
        n = rng.choice([0, 1, 4, TABLES_AT - 1, TABLES_AT, rng.randrange(len(out)), len(out) - 1, len(out) - 4])
        out = out[:n]
        fix = n >= TABLES_AT and rng.random() < 0.7
        if fix:
            rehash(out)
        return f"truncate to {n}{' (rehashed)' if fix else ''}", bytes(out)
    extra = bytes(rng.randrange(256) for _ in range(rng.choice([1, 4, 64])))
    out += extra
    fix = rng.random() < 0.7
    if fix:
        rehash(out)
    return f"extend by {len(extra)}{' (rehashed)' if fix else ''}", bytes(out)


def run_on_host(blob: bytes) -> tuple[str, str]:
    """('ok', output hex) or ('refused', message): the board's runtime under CPython loads
    the file, binds it and runs one inference on zeros. Any other exception propagates."""
    from edgeloop_fw.runtime.interpreter import Interpreter
    from edgeloop_fw.runtime.loader import Model, ModelFileError

    try:
        m = Model(io.BytesIO(blob))
        it = Interpreter(m)
        it.set_input(bytes(m.inputs[0].nbytes))
        it.invoke()
        out = it.get_output()
    except ModelFileError as e:
        return "refused", str(e)
    assert len(out) == m.outputs[0].nbytes
    return "ok", out.hex()
