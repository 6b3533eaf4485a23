"""Keras models in TFLM's 16x8 mode (int16 activations, int8 weights, int64 bias) and their inputs,
for the host tests (tests/host/convert/test_ops_16x8.py) and the board tests
(tests/firmware/board/test_runtime_16x8_board.py) from one place.

The reference each is compared with is the TFLite converter's own 16x8 mode run by TFLM.
"""

from __future__ import annotations

import numpy as np


def to_16x8(tf, model, x) -> bytes:
    """The TFLite converter's 16x8 quantization of `model`, calibrated on the float samples `x`."""
    conv = tf.lite.TFLiteConverter.from_keras_model(model)
    conv.optimizations = [tf.lite.Optimize.DEFAULT]
    conv.representative_dataset = lambda: ([x[i:i + 1]] for i in range(len(x)))
    conv.target_spec.supported_ops = [tf.lite.OpsSet.EXPERIMENTAL_TFLITE_BUILTINS_ACTIVATIONS_INT16_WEIGHTS_INT8]
    conv.inference_input_type = conv.inference_output_type = tf.int16
    return bytes(conv.convert())


def randomize(model, rng) -> None:
    """Non-zero biases (random init leaves them at 0 and would hide a bias bug); BatchNormalization's
    statistics away from 0 and 1 (so folding them into the convolution changes its weights)."""
    for layer in model.layers:
        for v in layer.weights:
            if "bias" in v.path or v.path.endswith("beta"):
                v.assign(rng.normal(0, 0.5, v.shape).astype("float32"))
            elif v.path.endswith("gamma") or v.path.endswith("moving_variance"):
                v.assign(rng.uniform(0.5, 2, v.shape).astype("float32"))
            elif v.path.endswith("moving_mean"):
                v.assign(rng.normal(0, 0.3, v.shape).astype("float32"))


def int16_inputs(shape, scale, x, rng) -> list[np.ndarray]:
    """Calibration samples as the model sees them, full-range random codes, the two extremes."""
    q = np.clip(np.round(x[:2] / scale), -32768, 32767).astype(np.int16)
    out = [q[i:i + 1].reshape(shape) for i in range(len(q))]
    out += [rng.integers(-32768, 32768, size=shape).astype(np.int16) for _ in range(2)]
    return out + [np.full(shape, -32768, np.int16), np.full(shape, 32767, np.int16)]


def every_16x8_op():
    """One small model through every 16x8 kernel: CONV_2D, DEPTHWISE_CONV_2D, ADD (also
    broadcast), AVERAGE/MAX_POOL_2D, MEAN, QUANTIZE, CONCATENATION, RESHAPE, FULLY_CONNECTED,
    SOFTMAX, RELU6."""
    import keras
    from keras import layers as L

    keras.utils.set_random_seed(7)
    inp = keras.Input((9, 7, 2), batch_size=1)
    x = L.ReLU(max_value=6.0)(inp)  # first in the model: a RELU6 of its own, nothing to fuse into
    x = L.Conv2D(5, 3, strides=(2, 1), padding="same", activation="relu")(x)
    x = L.DepthwiseConv2D(3, padding="same", depth_multiplier=2)(x)
    x = L.Add()([x, L.Conv2D(10, 1)(x)])
    x = L.AveragePooling2D(2, padding="same")(x)
    x = L.MaxPooling2D((2, 1))(x)
    x = L.Add()([x, L.GlobalAveragePooling2D(keepdims=True)(x)])  # MEAN, broadcast back by the ADD
    wide = L.Conv2D(3, 1, kernel_initializer=keras.initializers.RandomNormal(0, 4))(x)
    x = L.Concatenate()([x, wide])  # of two scales: the converter puts a QUANTIZE before it
    model = keras.Model(inp, L.Softmax()(L.Dense(4, activation="relu6")(L.Flatten()(x))))
    rng = np.random.default_rng(3)
    randomize(model, rng)
    return model, (rng.normal(0, 2, (16, 9, 7, 2))).astype(np.float32)


def ds_cnn_small():
    """DS-CNN's shape (MLPerf Tiny KWS) at a tenth of its size: conv, depthwise-separable blocks,
    average pooling, flatten, dense."""
    import keras
    from keras import layers as L

    inp = keras.Input((25, 10, 1), batch_size=1)
    x = L.Conv2D(16, (5, 3), strides=(2, 2), padding="same", activation="relu")(inp)
    for _ in range(2):
        x = L.DepthwiseConv2D(3, padding="same", activation="relu")(x)
        x = L.Conv2D(16, 1, activation="relu")(x)
    x = L.AveragePooling2D(pool_size=(13, 5))(x)
    x = L.Flatten()(x)
    return keras.Model(inp, L.Dense(4)(x))


def ds_cnn_kws():
    """MLPerf Tiny's keyword-spotting DS-CNN at its real size (49x10 MFCC in, a 10x4 stride-2
    convolution to 64 channels, four depthwise-separable blocks with batch normalization, 25x5
    average pooling, 12 classes; 2.6 M MACs), less the final softmax, which has no 16x8 kernel."""
    import keras
    from keras import layers as L

    inp = keras.Input((49, 10, 1), batch_size=1)
    x = L.Conv2D(64, (10, 4), strides=(2, 2), padding="same")(inp)
    x = L.ReLU()(L.BatchNormalization()(x))
    for _ in range(4):
        x = L.ReLU()(L.BatchNormalization()(L.DepthwiseConv2D(3, padding="same")(x)))
        x = L.ReLU()(L.BatchNormalization()(L.Conv2D(64, 1)(x)))
    x = L.AveragePooling2D(pool_size=(25, 5))(x)
    return keras.Model(inp, L.Dense(12)(L.Flatten()(x)))


def quantize_model(in_dtype: str, out_dtype: str, s_in: float, zp_in: int, s_out: float, zp_out: int,
                   n: int) -> bytes:
    """A .tflite of one QUANTIZE from a [1, n] `in_dtype` tensor to an `out_dtype` one: int8 <-> int16
    QUANTIZE is legal in TFLite and run by TFLM, but the converter's 16x8 mode (int16 input and
    output only) never emits it, so the flatbuffer is built here with TensorFlow's own schema classes."""
    return quantize_chain([(in_dtype, s_in, zp_in), (out_dtype, s_out, zp_out)], n)


def quantize_chain(tensors, n: int) -> bytes:
    """A .tflite of QUANTIZE ops from each [1, n] tensor (dtype, scale, zero point) to the next."""
    import flatbuffers
    from tensorflow.lite.python import schema_py_generated as S

    def tensor(i, dtype, scale, zp):
        t = S.TensorT()
        t.name, t.shape, t.buffer = f"t{i}", [1, n], i + 1
        t.type = {"int8": S.TensorType.INT8, "int16": S.TensorType.INT16}[dtype]
        t.quantization = S.QuantizationParametersT()
        t.quantization.scale, t.quantization.zeroPoint = [scale], [zp]
        return t

    code = S.OperatorCodeT()
    code.builtinCode = code.deprecatedBuiltinCode = S.BuiltinOperator.QUANTIZE
    code.version = 1
    graph = S.SubGraphT()
    graph.tensors = [tensor(i, *t) for i, t in enumerate(tensors)]
    graph.inputs, graph.outputs, graph.operators = [0], [len(tensors) - 1], []
    for i in range(len(tensors) - 1):
        op = S.OperatorT()
        op.opcodeIndex, op.inputs, op.outputs = 0, [i], [i + 1]
        graph.operators.append(op)
    model = S.ModelT()
    model.version, model.operatorCodes, model.subgraphs = 3, [code], [graph]
    model.buffers = [S.BufferT() for _ in range(len(tensors) + 1)]
    b = flatbuffers.Builder(1024)
    b.Finish(model.Pack(b), file_identifier=b"TFL3")
    return bytes(b.Output())


def movement_16x8() -> bytes:
    """One int16 model through every 16x8 data-movement and selection kernel, schema-built (no
    TensorFlow; the converter leaves PADV2's constant in float32, which TFLM refuses): PAD, PADV2
    with an int16 constant, SLICE, STRIDED_SLICE (backwards), MAXIMUM, MINIMUM with a broadcast
    constant, TRANSPOSE, SPLIT, UNPACK, PACK, SPLIT_V, then DEQUANTIZE to float32 from [1, 4, 5, 6]."""
    from tests.tools.op_models import T, Op, build, options

    s = 0.003

    def t(name, shape, **kw):
        return T(name, shape, "int16", s, 0, **kw)

    def ints(name, v):
        v = np.asarray(v, np.int32)
        return T(name, v.shape, "int32", data=v)

    rng = np.random.default_rng(1816)
    tensors = [t("x", (1, 4, 5, 6)),
               ints("pa", [[0, 0], [1, 0], [0, 2], [1, 1]]), t("a", (1, 5, 7, 8)),
               ints("pb", [[0, 0], [0, 1], [1, 0], [0, 0]]), t("c", (1,), data=np.array([-12345], np.int16)),
               t("b", (1, 5, 6, 6)),
               ints("sb", [0, 1, 1, 0]), ints("sn", [1, 4, 5, 6]), t("a2", (1, 4, 5, 6)),
               ints("b0", [0, 4, 1, 0]), ints("e0", [1, 0, 6, 6]), ints("st", [1, -1, 1, 1]), t("b2", (1, 4, 5, 6)),
               t("m", (1, 4, 5, 6)),
               t("k", (1, 1, 1, 6), data=rng.integers(-20000, 20000, size=(1, 1, 1, 6)).astype(np.int16)),
               t("n", (1, 4, 5, 6)),
               ints("perm", [0, 2, 1, 3]), t("tr", (1, 5, 4, 6)),
               ints("ax3", 3), t("s0", (1, 5, 4, 3)), t("s1", (1, 5, 4, 3)),
               *[t(f"u{i}", (1, 4, 3)) for i in range(5)],
               t("p", (1, 3, 4, 3)),
               ints("sizes", [3, 2]), ints("ax1", 1), t("v0", (1, 3, 4, 3)), t("v1", (1, 2, 4, 3)),
               t("q", (1, 3, 4, 3)), T("out", (1, 3, 4, 3), "float32")]
    ops = [Op(34, ["x", "pa"], ["a"]),                                           # PAD
           Op(60, ["x", "pb", "c"], ["b"]),                                      # PADV2
           Op(65, ["a", "sb", "sn"], ["a2"]),                                    # SLICE
           Op(45, ["b", "b0", "e0", "st"], ["b2"], options("StridedSliceOptions"), "StridedSliceOptions"),
           Op(55, ["a2", "b2"], ["m"]),                                          # MAXIMUM
           Op(57, ["m", "k"], ["n"]),                                            # MINIMUM, broadcast constant
           Op(39, ["n", "perm"], ["tr"]),                                        # TRANSPOSE
           Op(49, ["ax3", "tr"], ["s0", "s1"], options("SplitOptions", numSplits=2), "SplitOptions"),
           Op(88, ["s0"], [f"u{i}" for i in range(5)], options("UnpackOptions", num=5, axis=1), "UnpackOptions"),
           Op(83, ["u4", "u0", "u2"], ["p"], options("PackOptions", valuesCount=3, axis=1), "PackOptions"),
           Op(102, ["s1", "sizes", "ax1"], ["v0", "v1"], options("SplitVOptions", numSplits=2), "SplitVOptions"),
           Op(55, ["p", "v0"], ["q"]),                                           # MAXIMUM
           Op(6, ["q"], ["out"])]                                                # DEQUANTIZE
    return build(tensors, ops, ["x"], ["out"])
