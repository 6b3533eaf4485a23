"""Which kernel runs which TFLite op: the registry both ends read.

An entry maps a TFLite BuiltinOperator number to a module name. The board
imports `edgeloop_fw.runtime.kernels.<name>` (only for ops its model uses) and
calls its `eval`; the host converter imports `edgeloop.convert.ops.<name>` and
calls its `prepare`. Adding an op = one line here plus those two files
(docs/runtime-kernels.md) and its params in opspec.py.

VERSIONS is each kernel's param-layout version (opspec.py, generated here so
the board need not import the spec): the loader refuses a model whose op
table names another.
"""

KERNELS = {
    3: "conv_2d",              # CONV_2D
    4: "depthwise_conv_2d",    # DEPTHWISE_CONV_2D
    9: "fully_connected",      # FULLY_CONNECTED
    22: "reshape",             # RESHAPE
    25: "softmax",             # SOFTMAX
    0: "add",                  # ADD
    1: "pool_2d",              # AVERAGE_POOL_2D
    2: "concatenation",        # CONCATENATION
    14: "lut8",                # LOGISTIC
    17: "pool_2d",             # MAX_POOL_2D
    19: "lut8",                # RELU
    21: "lut8",                # RELU6
    28: "lut8",                # TANH
    40: "mean",                # MEAN
    114: "lut8",               # QUANTIZE (int8 -> int8)
    43: "reshape",             # SQUEEZE (same bytes, new shape)
    70: "reshape",             # EXPAND_DIMS
    39: "transpose",           # TRANSPOSE
    # --- ops1 ---
    41: "sub",                 # SUB
    18: "mul",                 # MUL
    55: "maximum_minimum",     # MAXIMUM
    57: "maximum_minimum",     # MINIMUM
    98: "lut8",                # LEAKY_RELU (table: host/edgeloop/convert/ops/leaky_relu.py)
    117: "lut8",               # HARD_SWISH (table: host/edgeloop/convert/ops/hard_swish.py)
    54: "prelu",               # PRELU
    6: "dequantize",           # DEQUANTIZE (int8 -> float32)
    34: "pad",                 # PAD
    60: "pad",                 # PADV2
    65: "strided_slice",       # SLICE
    45: "strided_slice",       # STRIDED_SLICE
    49: "split",               # SPLIT
    102: "split",              # SPLIT_V
    83: "concatenation",       # PACK (CONCATENATION's bytes)
    88: "split",               # UNPACK
    36: "gather",              # GATHER
    67: "transpose_conv",      # TRANSPOSE_CONV
    126: "batch_matmul",       # BATCH_MATMUL
    44: "lstm",                # UNIDIRECTIONAL_SEQUENCE_LSTM
}

# TFLM's 16x8 mode (int16 activations, int8 weights, int64 bias): an op whose
# first input or first output tensor is int16 runs the kernel named here, in a
# model file of format.FORMAT_VERSION_16X8. An opcode missing here is refused
# for int16 tensors, at convert time and at load.
KERNELS_16X8 = {
    9: "fully_connected_16x8",     # FULLY_CONNECTED
    3: "conv_2d_16x8",             # CONV_2D
    4: "depthwise_conv_2d_16x8",   # DEPTHWISE_CONV_2D
    0: "add_16x8",                 # ADD
    1: "pool_2d_16x8",             # AVERAGE_POOL_2D
    17: "pool_2d_16x8",            # MAX_POOL_2D
    22: "reshape",                 # RESHAPE (same bytes, any dtype)
    43: "reshape",                 # SQUEEZE
    70: "reshape",                 # EXPAND_DIMS
    2: "concatenation",            # CONCATENATION (a byte copy: sizes are bytes)
    40: "mean_16x8",               # MEAN
    114: "quantize_16x8",          # QUANTIZE (int16 -> int16, int8 <-> int16)
    25: "softmax_16x8",            # SOFTMAX
    19: "relu_16x8",               # RELU
    21: "relu_16x8",               # RELU6
    # --- data movement (copies of two-byte values; GATHER: TFLM refuses int16) ---
    34: "pad",                     # PAD
    60: "pad",                     # PADV2
    65: "strided_slice",           # SLICE
    45: "strided_slice",           # STRIDED_SLICE
    49: "split",                   # SPLIT
    102: "split",                  # SPLIT_V
    83: "concatenation",           # PACK
    88: "split",                   # UNPACK
    39: "transpose",               # TRANSPOSE
    55: "maximum_minimum",         # MAXIMUM
    57: "maximum_minimum",         # MINIMUM
    6: "dequantize_16x8",          # DEQUANTIZE (int16 -> float32)
    14: "logistic_16x8",           # LOGISTIC
    28: "logistic_16x8",           # TANH
    41: "sub_16x8",                # SUB
    18: "mul_16x8",                # MUL
    98: "leaky_relu_16x8",         # LEAKY_RELU
    67: "transpose_conv_16x8",     # TRANSPOSE_CONV
    126: "batch_matmul_16x8",      # BATCH_MATMUL
    54: "prelu_16x8",              # PRELU (int8 alpha)
    44: "lstm_16x8",               # UNIDIRECTIONAL_SEQUENCE_LSTM (hand-built: no converter makes one)
}


def kernel_name(opcode, wide):
    """The kernel of `opcode`, for an op touching int16 tensors when `wide`; None if there is none."""
    return (KERNELS_16X8 if wide else KERNELS).get(opcode)


# --- generated kernel versions: do not edit ---
VERSIONS = {
    "fully_connected": 1,
    "conv_2d": 1,
    "depthwise_conv_2d": 1,
    "pool_2d": 1,
    "add": 1,
    "mean": 1,
    "lut8": 1,
    "concatenation": 1,
    "softmax": 1,
    "reshape": 1,
    "transpose": 1,
    "sub": 1,
    "mul": 1,
    "maximum_minimum": 2,
    "prelu": 1,
    "dequantize": 1,
    "pad": 2,
    "strided_slice": 1,
    "split": 1,
    "gather": 1,
    "transpose_conv": 1,
    "batch_matmul": 1,
    "lstm": 1,
    "fully_connected_16x8": 1,
    "conv_2d_16x8": 1,
    "depthwise_conv_2d_16x8": 1,
    "pool_2d_16x8": 1,
    "add_16x8": 1,
    "mean_16x8": 1,
    "quantize_16x8": 1,
    "softmax_16x8": 1,
    "relu_16x8": 1,
    "dequantize_16x8": 1,
    "logistic_16x8": 1,
    "sub_16x8": 1,
    "mul_16x8": 1,
    "leaky_relu_16x8": 1,
    "transpose_conv_16x8": 1,
    "batch_matmul_16x8": 1,
    "prelu_16x8": 1,
    "lstm_16x8": 1,
}
# --- end generated ---
