"""The one writer of the on-board model file (docs/model-format.md).

Takes the prepared ops and the memory plan and lays out header, tables,
params and constants, resolving the placeholders in each op's params to
offsets. The layout constants come from the firmware's format.py, the same
module the board's loader reads them from; each op's kernel version from
opspec.py, whose generated copy in opcodes.py the loader checks it against.
"""

from __future__ import annotations

import hashlib
import struct

from edgeloop_fw.runtime import format as F
from edgeloop_fw.runtime import opspec
from edgeloop_fw.runtime.opcodes import kernel_name

from ..errors import ConversionError
from .graph import Arena, Const, Scratch

_DTYPES = {"float32": F.DTYPE_FLOAT32, "int32": F.DTYPE_INT32, "uint8": F.DTYPE_UINT8,
           "int16": F.DTYPE_INT16, "int8": F.DTYPE_INT8}


def _align(n: int, a: int = F.CONST_ALIGN) -> int:
    return (n + a - 1) // a * a


def write_model(model, ops, plans, buffers, arena_size, root) -> bytes:
    """Serialize; `root(t)` gives the tensor whose buffer t uses (aliases)."""
    # Tensor table: every activation tensor any op touches, plus the model's I/O.
    order: list[int] = []
    for t in list(model.inputs) + [t for p in plans for t in p.reads + p.writes] + list(model.outputs):
        if t not in order:
            order.append(t)
    table_index = {t: i for i, t in enumerate(order)}
    names = bytearray()
    tensor_rows = []
    for t in order:
        tensor = model.tensors[t]
        if len(tensor.shape) > F.MAX_RANK:
            raise ConversionError(f"tensor '{tensor.name}' has rank {len(tensor.shape)}; "
                                  f"edgeloop supports up to {F.MAX_RANK}")
        flags = (F.TENSOR_INPUT if t in model.inputs else 0) | (F.TENSOR_OUTPUT if t in model.outputs else 0)
        name = tensor.name.encode("utf-8")[:0xFFFF]
        shape = list(tensor.shape) + [0] * (F.MAX_RANK - len(tensor.shape))
        zp = int(tensor.zero_point[0]) if tensor.zero_point.size else 0
        scale = float(tensor.scale[0]) if tensor.scale.size else 0.0
        tensor_rows.append(struct.pack(F.TENSOR_FMT, _DTYPES[tensor.dtype], len(tensor.shape), flags, 0,
                                       *shape, zp, scale, tensor.nbytes, buffers[root(t)].offset,
                                       len(names), len(name)))
        names += name
    io = struct.pack(f"<{len(model.inputs) + len(model.outputs)}H",
                     *[table_index[t] for t in list(model.inputs) + list(model.outputs)])
    tensors_at = F.TABLES_AT
    io_at = tensors_at + F.TENSOR_SIZE * len(order)
    ops_at = io_at + len(io)
    params_at = _align(ops_at + F.OP_SIZE * len(plans))
    n_params = sum(len(p.params) for p in plans)
    names_at = params_at + 4 * n_params
    const_at = _align(names_at + len(names))
    # Constants first (their offsets go into params), then params.
    consts = bytearray()
    const_offset: dict[int, int] = {}
    for p in plans:
        for v in p.params:
            if isinstance(v, Const) and id(v) not in const_offset:
                consts += b"\0" * (_align(len(consts)) - len(consts))
                const_offset[id(v)] = const_at + len(consts)
                consts += v.data
    params = []
    op_rows = []
    for i, (op, p) in enumerate(zip(ops, plans)):
        start = len(params)
        for v in p.params:
            if isinstance(v, Arena):
                params.append(buffers[root(v.tensor)].offset)
            elif isinstance(v, Const):
                params.append(const_offset[id(v)])
            elif isinstance(v, Scratch):
                params.append(buffers[("scratch", i)].offset)
            else:
                params.append(int(v))
        first_in = table_index.get(p.reads[0], 0xFFFF) if p.reads else 0xFFFF
        first_out = table_index.get(p.writes[0], 0xFFFF) if p.writes else 0xFFFF
        wide = any(t != 0xFFFF and model.tensors[order[t]].dtype == "int16" for t in (first_in, first_out))
        version = opspec.version(kernel_name(op.opcode, wide))  # the param layout its params were packed in
        op_rows.append(struct.pack(F.OP_FMT, op.opcode, version, start, len(p.params), first_in, first_out))
    for v in params:
        if not -(1 << 31) <= v < (1 << 31):
            raise ConversionError(f"a kernel parameter ({v}) does not fit in int32; the model is too large")
    body = bytearray()
    body += struct.pack(F.SUMMARY_FMT, arena_size, params_at, len(params), const_at, len(consts),
                        len(order), len(plans), len(model.inputs), len(model.outputs), names_at, len(names))
    body += b"".join(tensor_rows) + io + b"".join(op_rows)
    body += b"\0" * (params_at - F.HASHED_FROM - len(body))
    body += struct.pack(f"<{len(params)}i", *params)
    body += names
    body += b"\0" * (const_at - F.HASHED_FROM - len(body))
    body += consts
    file_size = F.HASHED_FROM + len(body)
    digest = hashlib.sha256(bytes(body)).digest()
    wide = any(model.tensors[t].dtype == "int16" for t in order)  # 16x8: a version old boards refuse
    version = F.FORMAT_VERSION_16X8 if wide else F.FORMAT_VERSION
    return struct.pack(F.HEADER_FMT, F.MAGIC, version, 0, file_size, digest) + bytes(body)
