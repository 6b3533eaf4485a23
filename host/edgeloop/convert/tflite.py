"""Read a .tflite file (a FlatBuffer) into plain Python objects.

Written against the public TFLite schema (tensorflow/lite/schema/schema.fbs):
each table field is read by its vtable slot, so the core needs only the
`flatbuffers` runtime and never TensorFlow. Only what conversion uses is read
(the main subgraph's tensors, operators, buffers, and the options of the ops
edgeloop supports); anything the reader does not understand is an error that
says so, never a silent skip.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field

import numpy as np
from flatbuffers import number_types as N
from flatbuffers.table import Table

from ..errors import ModelError

# BuiltinOperator, in schema order (the enum value is the index).
OP_NAMES = tuple("""
    ADD AVERAGE_POOL_2D CONCATENATION CONV_2D DEPTHWISE_CONV_2D DEPTH_TO_SPACE DEQUANTIZE
    EMBEDDING_LOOKUP FLOOR FULLY_CONNECTED HASHTABLE_LOOKUP L2_NORMALIZATION L2_POOL_2D
    LOCAL_RESPONSE_NORMALIZATION LOGISTIC LSH_PROJECTION LSTM MAX_POOL_2D MUL RELU RELU_N1_TO_1
    RELU6 RESHAPE RESIZE_BILINEAR RNN SOFTMAX SPACE_TO_DEPTH SVDF TANH CONCAT_EMBEDDINGS
    SKIP_GRAM CALL CUSTOM EMBEDDING_LOOKUP_SPARSE PAD UNIDIRECTIONAL_SEQUENCE_RNN GATHER
    BATCH_TO_SPACE_ND SPACE_TO_BATCH_ND TRANSPOSE MEAN SUB DIV SQUEEZE
    UNIDIRECTIONAL_SEQUENCE_LSTM STRIDED_SLICE BIDIRECTIONAL_SEQUENCE_RNN EXP TOPK_V2 SPLIT
    LOG_SOFTMAX DELEGATE BIDIRECTIONAL_SEQUENCE_LSTM CAST PRELU MAXIMUM ARG_MAX MINIMUM LESS NEG
    PADV2 GREATER GREATER_EQUAL LESS_EQUAL SELECT SLICE SIN TRANSPOSE_CONV SPARSE_TO_DENSE TILE
    EXPAND_DIMS EQUAL NOT_EQUAL LOG SUM SQRT RSQRT SHAPE POW ARG_MIN FAKE_QUANT REDUCE_PROD
    REDUCE_MAX PACK LOGICAL_OR ONE_HOT LOGICAL_AND LOGICAL_NOT UNPACK REDUCE_MIN FLOOR_DIV
    REDUCE_ANY SQUARE ZEROS_LIKE FILL FLOOR_MOD RANGE RESIZE_NEAREST_NEIGHBOR LEAKY_RELU
    SQUARED_DIFFERENCE MIRROR_PAD ABS SPLIT_V UNIQUE CEIL REVERSE_V2 ADD_N GATHER_ND COS WHERE
    RANK ELU REVERSE_SEQUENCE MATRIX_DIAG QUANTIZE MATRIX_SET_DIAG ROUND HARD_SWISH IF WHILE
    NON_MAX_SUPPRESSION_V4 NON_MAX_SUPPRESSION_V5 SCATTER_ND SELECT_V2 DENSIFY SEGMENT_SUM
    BATCH_MATMUL PLACEHOLDER_FOR_GREATER_OP_CODES CUMSUM CALL_ONCE BROADCAST_TO RFFT2D CONV_3D
    IMAG REAL COMPLEX_ABS HASHTABLE HASHTABLE_FIND HASHTABLE_IMPORT HASHTABLE_SIZE REDUCE_ALL
    CONV_3D_TRANSPOSE VAR_HANDLE READ_VARIABLE ASSIGN_VARIABLE BROADCAST_ARGS
    RANDOM_STANDARD_NORMAL BUCKETIZE RANDOM_UNIFORM MULTINOMIAL GELU DYNAMIC_UPDATE_SLICE
    RELU_0_TO_1 UNSORTED_SEGMENT_PROD UNSORTED_SEGMENT_MAX UNSORTED_SEGMENT_SUM ATAN2
    UNSORTED_SEGMENT_MIN SIGN BITCAST BITWISE_XOR RIGHT_SHIFT STABLEHLO_LOGISTIC STABLEHLO_ADD
    STABLEHLO_DIVIDE STABLEHLO_MULTIPLY STABLEHLO_MAXIMUM STABLEHLO_RESHAPE STABLEHLO_CLAMP
    STABLEHLO_CONCATENATE STABLEHLO_BROADCAST_IN_DIM STABLEHLO_CONVOLUTION STABLEHLO_SLICE
    STABLEHLO_CUSTOM_CALL STABLEHLO_REDUCE STABLEHLO_ABS STABLEHLO_AND STABLEHLO_COSINE
    STABLEHLO_EXPONENTIAL STABLEHLO_FLOOR STABLEHLO_LOG STABLEHLO_MINIMUM STABLEHLO_NEGATE
    STABLEHLO_OR STABLEHLO_POWER STABLEHLO_REMAINDER STABLEHLO_RSQRT STABLEHLO_SELECT
    STABLEHLO_SUBTRACT STABLEHLO_TANH STABLEHLO_SCATTER STABLEHLO_COMPARE STABLEHLO_CONVERT
    STABLEHLO_DYNAMIC_SLICE STABLEHLO_DYNAMIC_UPDATE_SLICE STABLEHLO_PAD STABLEHLO_IOTA
    STABLEHLO_DOT_GENERAL STABLEHLO_REDUCE_WINDOW STABLEHLO_SORT STABLEHLO_WHILE
    STABLEHLO_GATHER STABLEHLO_TRANSPOSE DILATE STABLEHLO_RNG_BIT_GENERATOR REDUCE_WINDOW
    STABLEHLO_COMPOSITE STABLEHLO_SHIFT_LEFT STABLEHLO_CBRT STABLEHLO_CASE
""".split())

# TensorType -> (name, numpy dtype or None when edgeloop cannot hold it).
TENSOR_TYPES = {
    0: ("float32", np.float32), 1: ("float16", np.float16), 2: ("int32", np.int32),
    3: ("uint8", np.uint8), 4: ("int64", np.int64), 5: ("string", None), 6: ("bool", np.bool_),
    7: ("int16", np.int16), 8: ("complex64", np.complex64), 9: ("int8", np.int8),
    10: ("float64", np.float64), 12: ("uint64", np.uint64), 15: ("uint32", np.uint32),
    16: ("uint16", np.uint16), 17: ("int4", None),
}


def op_name(code: int) -> str:
    return OP_NAMES[code] if 0 <= code < len(OP_NAMES) else f"BUILTIN_{code}"


# -- a thin FlatBuffer table reader -------------------------------------------------

class _T:
    """One FlatBuffer table; `slot` is the field's index in the schema."""

    def __init__(self, buf: bytearray, pos: int):
        self.t = Table(buf, pos)

    def _off(self, slot: int) -> int:
        return self.t.Offset(4 + 2 * slot)

    def scalar(self, slot: int, flags, default=0):
        o = self._off(slot)
        return self.t.Get(flags, o + self.t.Pos) if o else default

    def table(self, slot: int) -> "_T | None":
        o = self._off(slot)
        return _T(self.t.Bytes, self.t.Indirect(o + self.t.Pos)) if o else None

    def string(self, slot: int) -> str:
        o = self._off(slot)
        return self.t.String(o + self.t.Pos).decode("utf-8", "replace") if o else ""

    def vector(self, slot: int, np_type) -> np.ndarray:
        o = self._off(slot)
        if not o:
            return np.zeros(0, np_type)
        start = self.t.Vector(o)
        n = self.t.VectorLen(o)
        return np.frombuffer(self.t.Bytes, np.dtype(np_type).newbyteorder("<"), n, start).copy()

    def tables(self, slot: int) -> list["_T"]:
        o = self._off(slot)
        if not o:
            return []
        start = self.t.Vector(o)
        return [_T(self.t.Bytes, self.t.Indirect(start + 4 * i)) for i in range(self.t.VectorLen(o))]


class Options:
    """An operator's builtin options table, read by schema slot.

    Kernels' host `prepare` reads the fields it needs, e.g. for Conv2DOptions
    `opts.int8(0)` is `padding`, `opts.int32(1)` is `stride_w`. Defaults are
    the schema's defaults (pass them: the FlatBuffer omits default values).
    """

    def __init__(self, kind: int, table: _T | None):
        self.kind = kind
        self._t = table

    def int8(self, slot, default=0):
        return self._t.scalar(slot, N.Int8Flags, default) if self._t else default

    def uint8(self, slot, default=0):
        return self._t.scalar(slot, N.Uint8Flags, default) if self._t else default

    def bool(self, slot, default=False):
        return bool(self._t.scalar(slot, N.BoolFlags, default)) if self._t else default

    def int32(self, slot, default=0):
        return self._t.scalar(slot, N.Int32Flags, default) if self._t else default

    def float32(self, slot, default=0.0):
        return self._t.scalar(slot, N.Float32Flags, default) if self._t else default

    def int32_vector(self, slot) -> list[int]:
        return [int(v) for v in self._t.vector(slot, np.int32)] if self._t else []


# -- the model as conversion sees it ---------------------------------------------

@dataclass
class Tensor:
    index: int
    name: str
    shape: tuple[int, ...]
    dtype: str  # numpy name ("int8", "int32", "float32", ...)
    scale: np.ndarray  # float32, one per channel (or one), empty when not quantized
    zero_point: np.ndarray  # int64
    quantized_dimension: int
    data: np.ndarray | None  # constant contents (shaped), None for activations
    is_variable: bool = False

    @property
    def is_constant(self) -> bool:
        return self.data is not None

    @property
    def nbytes(self) -> int:
        return int(np.prod(self.shape, dtype=np.int64)) * np.dtype(self.dtype).itemsize

    @property
    def per_channel(self) -> bool:
        return self.scale.size > 1


@dataclass
class Operator:
    index: int
    opcode: int
    name: str  # BuiltinOperator name, or the custom code for CUSTOM ops
    version: int
    inputs: list[int]  # tensor indices; -1 = optional input left out
    outputs: list[int]
    options: Options


@dataclass
class TFLiteModel:
    tensors: list[Tensor]
    operators: list[Operator]
    inputs: list[int]
    outputs: list[int]
    description: str = ""
    subgraph_count: int = 1
    extra: dict = field(default_factory=dict)

    def layer(self, op: Operator) -> str:
        """The name a user recognises an op by: its first output tensor's name."""
        return self.tensors[op.outputs[0]].name if op.outputs else f"op #{op.index}"


def read_tflite(data: bytes, source: str = "model") -> TFLiteModel:
    """Parse a .tflite FlatBuffer; raise ModelError naming `source` if it is not one."""
    if len(data) < 8 or data[4:8] != b"TFL3":
        raise ModelError(f"{source} is not a TensorFlow Lite model (no 'TFL3' identifier); "
                         "pass a .tflite file written by the TFLite converter")
    buf = bytearray(data)
    try:
        return _read(buf, source)
    except (IndexError, struct.error, ValueError) as e:
        raise ModelError(f"{source} is a damaged .tflite file ({e}); re-export it from the converter") from None


def _read(buf: bytearray, source: str) -> TFLiteModel:
    root = _T(buf, struct.unpack_from("<I", buf, 0)[0])
    codes = []
    for oc in root.tables(1):
        dep = oc.scalar(0, N.Int8Flags, 0)
        code = max(dep, oc.scalar(3, N.Int32Flags, 0))
        custom = oc.string(1)
        codes.append((code, custom, oc.scalar(2, N.Int32Flags, 1)))
    buffers = []
    for b in root.tables(4):
        if b.scalar(1, N.Uint64Flags, 0):
            raise ModelError(f"{source} keeps its weights outside the FlatBuffer (a >2 GB model); "
                             "edgeloop handles small models only")
        buffers.append(b.vector(0, np.uint8))
    subgraphs = root.tables(2)
    if not subgraphs:
        raise ModelError(f"{source} has no subgraph; re-export it from the converter")
    sg = subgraphs[0]
    tensors = []
    for i, t in enumerate(sg.tables(0)):
        ttype = t.scalar(1, N.Int8Flags, 0)
        tname, np_type = TENSOR_TYPES.get(ttype, (f"type{ttype}", None))
        shape = tuple(int(v) for v in t.vector(0, np.int32))
        q = t.table(4)
        scale = q.vector(2, np.float32) if q else np.zeros(0, np.float32)
        zp = q.vector(3, np.int64) if q else np.zeros(0, np.int64)
        qdim = q.scalar(6, N.Int32Flags, 0) if q else 0
        bidx = t.scalar(2, N.Uint32Flags, 0)
        raw = buffers[bidx] if bidx < len(buffers) else np.zeros(0, np.uint8)
        data = None
        if raw.size:
            if np_type is None:
                raise ModelError(f"{source}: constant tensor '{t.string(3)}' has type {tname}, "
                                 "which edgeloop cannot read; use int8 weights")
            data = np.frombuffer(raw.tobytes(), np.dtype(np_type).newbyteorder("<")).astype(np_type)
            data = data.reshape(shape) if shape else data.reshape(())
        tensors.append(Tensor(i, t.string(3), shape, tname, scale, zp, qdim, data,
                              bool(t.scalar(5, N.BoolFlags, 0))))
    ops = []
    for i, o in enumerate(sg.tables(3)):
        code, custom, version = codes[o.scalar(0, N.Uint32Flags, 0)]
        name = custom if code == 32 else op_name(code)
        opts = Options(o.scalar(3, N.Uint8Flags, 0), o.table(4))
        ops.append(Operator(i, code, name, version,
                            [int(v) for v in o.vector(1, np.int32)],
                            [int(v) for v in o.vector(2, np.int32)], opts))
    return TFLiteModel(tensors, ops, [int(v) for v in sg.vector(1, np.int32)],
                       [int(v) for v in sg.vector(2, np.int32)], root.string(3), len(subgraphs))
