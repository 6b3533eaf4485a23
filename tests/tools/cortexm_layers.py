"""Single-layer int8 models for the Cortex-M proof and benchmark, with TFLM's output.

micro_speech's two layers at their real shapes, CMSIS-NN's anchor conv and
FC shapes (docs: shared notes), and odd zoo-like layers (padding, strides,
dilation, row counts that are not a multiple of 4). Weights are random with
fixed seeds; the reference is TFLM running the same .tflite.
"""

from __future__ import annotations

import numpy as np

LAYERS = {
    "speech_dw": ("dw", (49, 40, 1), dict(kernel_size=(10, 8), depth_multiplier=8, strides=2, padding="same",
                                           activation="relu")),
    "speech_fc": ("fc", (4000,), dict(units=4)),
    # models/keyword's first layer: one input channel, 8 filters of 10x8, stride 2
    "kws_conv": ("conv", (49, 40, 1), dict(filters=8, kernel_size=(10, 8), strides=2, padding="same",
                                            activation="relu")),
    "anchor_conv": ("conv", (25, 20, 8), dict(filters=16, kernel_size=3, padding="same", activation="relu")),
    "anchor_fc": ("fc", (256,), dict(units=64, activation="relu")),
    "odd_conv": ("conv", (13, 10, 5), dict(filters=7, kernel_size=3, strides=(3, 2), padding="same")),
    "odd_conv_dilated": ("conv", (12, 11, 3), dict(filters=9, kernel_size=(2, 3), dilation_rate=(3, 2))),
    "odd_dw": ("dw", (11, 10, 3), dict(kernel_size=(3, 2), depth_multiplier=3, dilation_rate=2, padding="valid")),
    "odd_dw4": ("dw", (11, 9, 3), dict(kernel_size=(3, 5), depth_multiplier=4, strides=(3, 2), padding="same")),
    "odd_dw4_dilated": ("dw", (12, 7, 2), dict(kernel_size=(3, 2), depth_multiplier=4, dilation_rate=(2, 1))),
    "odd_fc": ("fc", (37,), dict(units=6, activation="relu")),
    # depth multiplier 1 (el_dw1.c): DS-CNN's shape; 11 channels = 2 blocks of 4 + 3 alone,
    # stride 2 with SAME padding, inputs all positive (zero point -128) and per-channel
    # weight scales 1e-4..1e4 under relu6 (multipliers from ~1e-7, right shifts past 20,
    # to > 1, left shifts); 5 channels under VALID with inputs all negative (zero point
    # 127); a dilated VALID window over 8 channels
    "dw1_dscnn": ("dw", (25, 5, 64), dict(kernel_size=3, padding="same", activation="relu")),
    "dw1_same_s2_zpmin_spread": ("dw", (9, 7, 11), dict(kernel_size=3, strides=2, padding="same",
                                                        activation="relu6", calib=(40.0, 5.0),
                                                        weight_spread=4)),
    "dw1_valid_zpmax": ("dw", (8, 9, 5), dict(kernel_size=(2, 3), strides=(2, 1), calib=(-40.0, 5.0))),
    "dw1_dilated_valid": ("dw", (10, 9, 8), dict(kernel_size=3, dilation_rate=(2, 3))),
    # 3x3, stride 1 down the rows (ARMv7E-M's row-pair planes, el_dw3_v7em.S): VALID with
    # stride 2 across, 11 channels (2 blocks of 4 + 3 on the generic loop), 8 output rows,
    # inputs all negative (zero point 127); SAME over 7 rows (the odd last row) with inputs
    # all positive (zero point -128) under relu; SAME with stride 2 across (padding on the
    # right only)
    "dw3_valid_sw2_zpmax": ("dw", (10, 11, 11), dict(kernel_size=3, strides=(1, 2), calib=(-40.0, 5.0))),
    "dw3_same_odd_zpmin": ("dw", (7, 4, 8), dict(kernel_size=3, padding="same", activation="relu",
                                                 calib=(40.0, 5.0))),
    "dw3_same_sw2": ("dw", (9, 8, 12), dict(kernel_size=3, strides=(1, 2), padding="same")),
    # rounding ties: the output scale rewritten so the largest multiplier is 0.4 (right shifts
    # of 1-3) and inputs within 3 of the zero point, so most outputs are unclamped and many
    # land exactly half way, of both signs (TFLM rounds those away from zero)
    "dw3_ties": ("dw", (12, 6, 8), dict(kernel_size=3, padding="same", max_multiplier=0.4, x_near_zp=3)),
    # 3x3 windows the Xtensa dw3 takes (viper/xtensa.py): a dilated SAME window on an input
    # too narrow for some outputs' shifted taps (those stay in the viper loop), multiplier 2,
    # zero point 127; strides (2, 3) with multiplier 3, zero point -128, spread scales
    "dw3_narrow": ("dw", (6, 5, 3), dict(kernel_size=3, dilation_rate=2, depth_multiplier=2, padding="same",
                                         calib=(-40.0, 5.0))),
    "dw3_s2_m3": ("dw", (11, 8, 4), dict(kernel_size=3, strides=(2, 3), depth_multiplier=3, padding="same",
                                         calib=(40.0, 5.0), weight_spread=3)),
    # the MLPerf Tiny KWS DS-CNN's other layer shapes (kws_ref_model.tflite: the 10x4 stride-2
    # stem over the 49x10 MFCCs, the 64->12 classifier; dw1_dscnn, pw_dscnn are its blocks)
    "conv_dscnn": ("conv", (49, 10, 1), dict(filters=64, kernel_size=(10, 4), strides=2, padding="same",
                                             activation="relu")),
    "fc_dscnn": ("fc", (64,), dict(units=12)),
    # 1x1 conv (ARMv6-M's int32 path): DS-CNN's 64->64 pointwise layer; 13->11 channels
    # (2 blocks of 4 rows + 3 on the byte loop, dot length padded 13 -> 16) with the
    # zero point at -128 and weights scaled by 10**-4..10**4 under relu6 (window gathered);
    # 6->8 with stride 2 and the zero point at 127 (every row widened: the pixel read in place)
    "pw_dscnn": ("conv", (25, 5, 64), dict(filters=64, kernel_size=1, activation="relu")),
    "pw_odd_zpmin_spread": ("conv", (7, 6, 13), dict(filters=11, kernel_size=1, activation="relu6",
                                                     calib=(40.0, 5.0), weight_spread=4)),
    "pw_zpmax_s2": ("conv", (5, 4, 6), dict(filters=8, kernel_size=1, strides=2, calib=(-40.0, 5.0))),
    # rounding ties through the short requantization (ARMv7E-M, el_requant_sat_v7em.S): the
    # output scale rewritten so right shifts are 1-3, inputs within 1 of the zero point
    "pw_ties": ("conv", (6, 5, 8), dict(filters=8, kernel_size=1, max_multiplier=0.4, x_near_zp=1)),
    # ARMv7E-M's two-pixel 1x1 kernel (el_pw2p_v7em.S, requantized in the call): 72 input
    # channels (18 steps of 4: a first pass of 2 into the 16-step unrolled loop, then one of
    # 16) onto 6 filters (3 blocks of 2 rows, not a multiple of 4) over 15 pixels (the last
    # one alone); 20 channels (5 steps) onto 10 filters with stride 2 over 5x3 pixels and
    # rounding ties (right shifts 1-3, inputs within 1 of the zero point); 16 channels onto
    # 12 filters with weight scales 1e-4..1e4 under relu6 (some channels need the long
    # requantization, so the layer takes the one-pixel kernels)
    "pw2p_k72_c6_odd": ("conv", (5, 3, 72), dict(filters=6, kernel_size=1, activation="relu", calib=(40.0, 5.0))),
    "pw2p_k20_s2_ties": ("conv", (9, 5, 20), dict(filters=10, kernel_size=1, strides=2, padding="same",
                                                  max_multiplier=0.4, x_near_zp=1)),
    "pw2p_spread": ("conv", (4, 3, 16), dict(filters=12, kernel_size=1, activation="relu6", weight_spread=4)),
    # 1-3 input channels (el_ops.c's row strip, el_pw4_v6m against the strip in place on
    # ARMv6-M): filter counts not a multiple of 4, row dilation, strides 3x2 / 1x3, zero
    # points -128 / 127 with weight scales 1e-3..1e3 (kws_conv above is models/keyword's layer)
    "conv_c1_valid_dilated_rows_zpmin": ("conv", (12, 11, 1), dict(filters=6, kernel_size=(3, 4),
                                                                   dilation_rate=(2, 1), calib=(40.0, 5.0),
                                                                   weight_spread=3)),
    "conv_c2_same_s3x2_zpmax": ("conv", (11, 9, 2), dict(filters=5, kernel_size=(4, 3), strides=(3, 2),
                                                         padding="same", activation="relu6", calib=(-40.0, 5.0),
                                                         weight_spread=3)),
    # one input channel on ARMv7E-M's two-pixel kernel (el_pw2p_v7em.S on two strips):
    # a 3x3 window (9 taps, the last step part zero) over 7x7 outputs, so pixel pairs
    # straddle rows, 4 filters; the MLPerf KWS stem shape is conv_dscnn
    "conv_c1_k9_rows": ("conv", (7, 7, 1), dict(filters=4, kernel_size=3, padding="same", activation="relu")),
    "conv_c3_same_s1x3": ("conv", (9, 10, 3), dict(filters=9, kernel_size=(2, 5), strides=(1, 3), padding="same")),
    # TRANSPOSE_CONV (el_tconv.c): 9 output channels = 2 groups of 4 (the assembly dot4 over
    # 16 input channels) + 1 alone, stride 2 SAME; 3 channels (dot1 only) over 5 inputs with
    # strides (1, 3) VALID and the zero point at -128 (Keras's zero bias keeps a RELU
    # unfused, so none here: test_native_kernels' chains fuse it); 6 channels over 11 inputs
    # (dot length 11: 8 in assembly plus 3), a 4x4 filter at stride 3 SAME (taps skipped by
    # the stride phase), zero point 127 and weights scaled 10**-3..10**3
    "tconv_same_s2": ("tconv", (5, 4, 16), dict(filters=9, kernel_size=3, strides=2, padding="same")),
    "tconv_valid_zpmin": ("tconv", (4, 3, 5), dict(filters=3, kernel_size=(2, 3), strides=(1, 3),
                                                   calib=(40.0, 5.0))),
    "tconv_s3_zpmax_spread": ("tconv", (3, 5, 11), dict(filters=6, kernel_size=4, strides=3, padding="same",
                                                        calib=(-40.0, 5.0), weight_spread=3)),
}
BENCH = ("speech_dw", "kws_conv", "speech_fc", "anchor_conv", "anchor_fc", "dw1_dscnn", "pw_dscnn")
SCRATCH = 32768  # bytes: the largest case's el_*_scratch_size on any core (pw_dscnn on ARMv6-M: ~19 KB)


def extremes(kw: dict, calib=(0.1, 1.0)):
    """A case's layer arguments without its test-only keys, the calibration's (mean, std)
    and a function that spreads the weights' per-channel scales.

    calib far from 0 puts the input zero point at -128 or 127 (the range always
    holds 0); weight_spread=e scales output channel i by 10**(-e .. e), so the
    requantization multipliers span ~10**(2e) (tiny ones shift right a long way,
    big ones under a narrow relu6 output range are > 1 and shift left)."""
    kw = dict(kw)
    calib = kw.pop("calib", calib)
    spread = kw.pop("weight_spread", 0)
    kw.pop("max_multiplier", None)
    kw.pop("x_near_zp", None)

    def apply(layer):
        if spread:
            ws = layer.get_weights()
            k = ws[0]
            f = 10.0 ** np.linspace(-spread, spread, k.shape[-2] * k.shape[-1]).reshape(k.shape[-2:])
            layer.set_weights([k * f, *ws[1:]])
    return kw, calib, apply


def build(case: str):
    """(int8 .tflite bytes, one int8 input, TFLM's output bytes) for a layer case."""
    import keras
    import tensorflow as tf
    from tflite_micro.python.tflite_micro import runtime

    kind, shape, kw = LAYERS[case]
    kw, (mean, std), spread = extremes(kw)
    keras.utils.set_random_seed(sum(map(ord, case)))
    inp = keras.Input(shape, batch_size=1)
    L = keras.layers
    layer = {"conv": L.Conv2D, "dw": L.DepthwiseConv2D, "fc": L.Dense, "tconv": L.Conv2DTranspose}[kind](**kw)
    model = keras.Model(inp, layer(inp))
    spread(layer)
    rng = np.random.default_rng(2)
    calib = rng.normal(mean, std, (16, *shape)).astype(np.float32)
    conv = tf.lite.TFLiteConverter.from_keras_model(model)
    conv.optimizations = [tf.lite.Optimize.DEFAULT]
    conv.representative_dataset = lambda: ([calib[i:i + 1]] for i in range(len(calib)))
    conv.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    conv.inference_input_type = conv.inference_output_type = tf.int8
    tflite = bytes(conv.convert())
    x = rng.integers(-128, 128, (1, *shape), dtype=np.int8)
    opts = LAYERS[case][2]
    if "max_multiplier" in opts:
        tflite, zp = _rescale_output(tflite, opts["max_multiplier"])
        k = opts["x_near_zp"]
        x = np.clip(zp + rng.integers(-k, k + 1, (1, *shape)), -128, 127).astype(np.int8)
    ref = runtime.Interpreter.from_bytes(tflite)
    ref.set_input(x, 0)
    ref.invoke()
    return tflite, x.tobytes(), ref.get_output(0).astype(np.int8).tobytes()


def _rescale_output(tflite: bytes, top: float):
    """The model with its output scale set so that the largest per-channel multiplier
    (input scale * weight scale / output scale) is `top`, and the input zero point.
    TFLM derives its multipliers from these scales, so it stays the reference."""
    import flatbuffers

    from tests.tools.op_models import schema

    s = schema()
    model = s.ModelT.InitFromObj(s.Model.GetRootAsModel(tflite, 0))
    sub = model.subgraphs[0]
    (op,) = [o for o in sub.operators if len(o.inputs) >= 2]
    x_t, w_t, y_t = sub.tensors[op.inputs[0]], sub.tensors[op.inputs[1]], sub.tensors[op.outputs[0]]
    s_in = float(x_t.quantization.scale[0])
    y_t.quantization.scale = [s_in * max(float(v) for v in w_t.quantization.scale) / top]
    b = flatbuffers.Builder(1024)
    b.Finish(model.Pack(b), file_identifier=b"TFL3")
    return bytes(b.Output()), int(x_t.quantization.zeroPoint[0])


# used by the Xtensa proof and benchmark only (tests/firmware/cpython/test_xtensa_asm.py,
# benchmarks/bench_xtensa.py); the bare-metal Cortex-M program keeps its own set
XTENSA_ONLY = ("dw3_narrow", "dw3_s2_m3", "conv_dscnn", "fc_dscnn")


def cases(names=tuple(k for k in LAYERS if k not in XTENSA_ONLY)):
    """[(Case, TFLM bytes)] for the bare-metal program."""
    from edgeloop.convert.int8 import convert_tflite_bytes
    from tests.tools.cortexm import case_from_model

    out = []
    for name in names:
        tflite, x, want = build(name)
        out.append((case_from_model(convert_tflite_bytes(tflite, name).data, x, name), want))
    return out


# The light ops (el_misc.c, el_softmax.c) as single-op models: odd windows, padding,
# two-input ADD with and without broadcast, softmax rows of several lengths.
def _light_model(case: str):
    import keras
    L = keras.layers
    if case.startswith("batch_matmul"):  # two activations, one broadcast over the other's batches
        # named so that the converter's (sorted) input order is Keras's: the calibration feeds by position
        a = keras.Input((3, 5, 7) if case == "batch_matmul" else (1, 9, 5), batch_size=1, name="a_lhs")
        b = keras.Input((1, 7, 6) if case == "batch_matmul" else (4, 5, 11), batch_size=1, name="b_rhs")
        return keras.Model([a, b], keras.ops.matmul(a, b))
    if case.startswith("add"):
        a = keras.Input((5, 7, 3), batch_size=1)
        b = keras.Input((5, 7, 3) if case == "add" else (1, 7, 1), batch_size=1)
        return keras.Model([a, b], L.Add()([a, b]) if case == "add" else keras.ops.add(a, b))
    inp = keras.Input({"softmax": (3, 10), "softmax_wide": (300,)}.get(case, (11, 9, 4)), batch_size=1)
    layer = {
        "avg_pool_same": L.AveragePooling2D((3, 2), strides=(2, 2), padding="same"),
        "avg_pool_valid": L.AveragePooling2D((2, 3), strides=(1, 2)),
        "max_pool_same": L.MaxPooling2D(3, strides=2, padding="same"),
        "softmax": L.Softmax(),
        "softmax_wide": L.Softmax(),
    }[case]
    return keras.Model(inp, layer(inp))


LIGHT = ("avg_pool_same", "avg_pool_valid", "max_pool_same", "add", "add_broadcast", "softmax", "softmax_wide",
         "batch_matmul", "batch_matmul_bcast_lhs")


def build_light(case: str):
    """(int8 .tflite bytes, one int8 array per input, TFLM's output bytes)."""
    import keras
    import tensorflow as tf
    from tflite_micro.python.tflite_micro import runtime

    keras.utils.set_random_seed(sum(map(ord, case)))
    model = _light_model(case)
    shapes = [tuple(t.shape[1:]) for t in model.inputs]
    rng = np.random.default_rng(4)
    scales = [1.0 + i for i in range(len(shapes))]  # ADD's inputs on different scales
    calib = [[rng.normal(0.0, s, (1, *sh)).astype(np.float32) for s, sh in zip(scales, shapes)] for _ in range(16)]
    conv = tf.lite.TFLiteConverter.from_keras_model(model)
    conv.optimizations = [tf.lite.Optimize.DEFAULT]
    conv.representative_dataset = lambda: iter(calib)
    conv.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    conv.inference_input_type = conv.inference_output_type = tf.int8
    tflite = bytes(conv.convert())
    ref = runtime.Interpreter.from_bytes(tflite)
    xs = []  # in the .tflite's input order, which need not be Keras's
    for i, d in enumerate(tf.lite.Interpreter(model_content=tflite).get_input_details()):
        x = rng.integers(-128, 128, tuple(d["shape"]), dtype=np.int8)
        ref.set_input(x, i)
        xs.append(x.tobytes())
    ref.invoke()
    return tflite, xs, ref.get_output(0).astype(np.int8).tobytes()


def light_cases(names=LIGHT):
    """[(Case, TFLM bytes)] for the light ops on bare metal."""
    from edgeloop.convert.int8 import convert_tflite_bytes
    from tests.tools.cortexm import light_case_from_model

    out = []
    for name in names:
        tflite, xs, want = build_light(name)
        out.append((light_case_from_model(convert_tflite_bytes(tflite, name).data, xs, name), want))
    return out
