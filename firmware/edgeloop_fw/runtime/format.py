"""The on-board model file layout: the one place both ends take it from.

The host writer (edgeloop.convert.writer) and the board reader (loader.py)
import these constants, so the two cannot drift apart. docs/model-format.md
describes the layout in prose. All integers are little-endian.
"""

from . import const

MAGIC = b"EDLM"
FORMAT_VERSION = const(1)
# A model with int16 activations (TFLM's 16x8 mode) is written as version 2:
# the tensor table's dtype may then be int16 and its ops run the 16x8 kernels
# (opcodes.KERNELS_16X8). A runtime of before 16x8 refuses it by version
# instead of reading 16-bit tensors as int8 bytes; int8 models stay version 1.
FORMAT_VERSION_16X8 = const(2)

# magic, version, flags, file_size, sha256 (of bytes [HASHED_FROM, file_size))
HEADER_FMT = "<4sHHI32s"
HASHED_FROM = const(44)
# arena_size, params_offset, params_count, const_offset, const_size,
# n_tensors, n_ops, n_inputs, n_outputs, names_offset, names_size
SUMMARY_FMT = "<IIIIIHHHHII"
SUMMARY_AT = const(44)
TABLES_AT = const(80)  # HASHED_FROM + calcsize(SUMMARY_FMT)

# dtype, rank, flags, reserved, shape[6], zero_point, scale, nbytes,
# arena offset, name offset (into the names blob), name length
TENSOR_FMT = "<BBBB6iifIIIH2x"
TENSOR_SIZE = const(52)
MAX_RANK = const(6)
TENSOR_INPUT = const(1)
TENSOR_OUTPUT = const(2)

# opcode (TFLite BuiltinOperator), kernel version, first param index,
# param count, first input tensor, first output tensor (0xFFFF = none)
OP_FMT = "<HHIIHH"
OP_SIZE = const(16)

# TFLite TensorType numbers, as in the tensor table's dtype field.
DTYPE_FLOAT32 = const(0)
DTYPE_INT32 = const(2)
DTYPE_UINT8 = const(3)
DTYPE_INT16 = const(7)
DTYPE_INT8 = const(9)
DTYPE_NAMES = {0: "float32", 2: "int32", 3: "uint8", 7: "int16", 9: "int8"}
DTYPE_SIZES = {0: 4, 2: 4, 3: 1, 7: 2, 9: 1}
CONST_ALIGN = const(4)
