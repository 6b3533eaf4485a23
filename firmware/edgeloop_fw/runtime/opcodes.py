"""Which kernel runs which TFLite op: the registry both ends read.

An entry maps a TFLite BuiltinOperator number to a module name. The board
imports `edgeloop_fw.runtime.kernels.<name>` (only for ops its model uses) and
calls its `eval`; the host converter imports `edgeloop.convert.ops.<name>` and
calls its `prepare`. Adding an op = one line here plus those two files
(docs/runtime-kernels.md).
"""

KERNELS = {
    3: "conv_2d",              # CONV_2D
    4: "depthwise_conv_2d",    # DEPTHWISE_CONV_2D
    9: "fully_connected",      # FULLY_CONNECTED
    22: "reshape",             # RESHAPE
    25: "softmax",             # SOFTMAX
}
