"""The C kernels (host gcc build, through ctypes) give TFLM's bytes.

Whole models run under edgeloop's interpreter with every op that has a C
kernel (FULLY_CONNECTED, CONV_2D, DEPTHWISE_CONV_2D, the pools, ADD, MEAN, SOFTMAX,
CONCATENATION and the table ops) swapped for it, compared byte for byte with
TFLM (tflite-micro): hello_world on all 256 inputs, micro_speech on real
features, the runtime's Keras zoo, and layer cases chosen to hit every path
of the C (row groups of 4 plus 1-3 left over, dot lengths not a multiple of
8, padding on every side, strides that do not divide, dilation, depth
multipliers 1 and 3). The requantization is checked against TFLM's C formula
on hostile values.
"""

from __future__ import annotations

import random

import numpy as np
import pytest

from tests.tools.cortexm_layers import extremes
from tests.tools.native_helpers import NATIVE, host_kernels, native_interpreter
from tests.tools.runtime_helpers import CLIPS, HELLO, SPEECH, need, speech_features, tflm, tflm_run


@pytest.fixture(scope="module")
def kernels(tmp_path_factory):
    return host_kernels(tmp_path_factory)


def run(interp, x):
    interp.set_input(np.ascontiguousarray(x, np.int8).tobytes())
    interp.invoke()
    return np.frombuffer(interp.get_output(), np.int8)


def compare(kernels, blob, ref, xs, want_ops):
    interp, used = native_interpreter(kernels, blob)
    assert set(used) == set(want_ops), used
    for i, x in enumerate(xs):
        want = tflm_run(ref, x).reshape(-1)
        got = run(interp, x)
        bad = np.flatnonzero(got != want)
        assert not len(bad), f"input {i}: C kernels vs TFLM differ at bytes {bad[:8].tolist()}"


def test_hello_world_all_256_inputs(kernels):
    from edgeloop.convert.int8 import convert_tflite

    xs = [np.array([[v]], np.int8) for v in range(-128, 128)]
    compare(kernels, convert_tflite(need(HELLO)).data, tflm(HELLO), xs, ["fully_connected"])


def test_micro_speech_real_features(kernels):
    from edgeloop.convert.int8 import convert_tflite

    xs = [speech_features(c) for c in CLIPS]
    rng = np.random.default_rng(3)
    xs += [rng.integers(-128, 128, (1, 1960), dtype=np.int8), np.full((1, 1960), 127, np.int8)]
    compare(kernels, convert_tflite(need(SPEECH)).data, tflm(need(SPEECH)), xs,
            ["depthwise_conv_2d", "fully_connected", "softmax"])


# --- requantization ------------------------------------------------------------------------

def _srdhm(a, b):
    if a == b == -2**31:
        return 2**31 - 1
    n = a * b + ((1 << 30) if a * b >= 0 else 1 - (1 << 30))
    return abs(n) // 2**31 * (1 if n >= 0 else -1)  # C's / truncates toward zero


def _mbqm(x, m, s):
    v = _srdhm(x * (1 << max(s, 0)), m)
    e = max(-s, 0)
    mask = (1 << e) - 1
    return (v >> e) + (1 if (v & mask) > (mask >> 1) + (1 if v < 0 else 0) else 0)


def test_requantization_matches_tflm_formula_on_hostile_values(kernels):
    rng = random.Random(11)
    accs = [-2**31, 2**31 - 1, -1, 0, 1, 2**30, -2**30, 0x7FFF, -0x8000]
    mults = [0, 1, 2**30, 2**31 - 1, -2**31, 0x40000001, 0x7FFF8000]
    cases = [(a, m, s) for a in accs for m in mults for s in (-31, -1, 0)]
    cases += [(a, 2**30, 0) for a in range(-255, 256, 2)]  # exact ties of the high multiply
    for _ in range(3000):
        a, m = rng.randrange(-2**31, 2**31), rng.randrange(2**30, 2**31)
        s = rng.randrange(-31, 1)
        cases.append((a, m, s))
        small = rng.randrange(-2**20, 2**20)
        cases.append((small, m, rng.randrange(0, 10)))  # left shifts that stay inside int32
        # sums that fit 16 bits take ARMv6-M's two-product short case (any multiplier sign)
        cases.append((rng.randrange(-2**15, 2**15), rng.randrange(-2**31 + 1, 2**31), rng.randrange(-31, 1)))
    cases += [(a, m, s) for a in (-2**15, 2**15 - 1, -2**15 + 1) for m in mults for s in (-12, 0, 1)]
    bad = [(a, m, s) for a, m, s in cases if kernels.mbqm(a, m, s) != _mbqm(a, m, s)]
    assert not bad, bad[:5]
    # ARMv6-M's high product from four 16x16 multiplies (no 64-bit multiply there)
    bad = [(a, m, s) for a, m, s in cases if kernels.mbqm_halves(a, m, s) != _mbqm(a, m, s)]
    assert not bad, bad[:5]


# --- softmax -------------------------------------------------------------------------------

def _c_softmax(kernels, rows, mult, shift, diff_min):
    import ctypes

    from edgeloop.convert.ops.softmax import exp_table
    from tests.tools.native_host import _addr

    table = bytearray(np.asarray(exp_table(mult, shift, diff_min), "<i4").tobytes())
    x = bytearray(np.asarray(rows, np.int8).tobytes())
    y = bytearray(len(x))
    kernels.lib.el_softmax_s8(len(rows), len(rows[0]), _addr(table), len(table) // 4, _addr(x), _addr(y))
    return np.frombuffer(bytes(y), np.int8).tolist()


def test_softmax_rows_scales_and_depths_equal_tflm_formula(kernels):
    """Scales from tiny (every k within diff_min) to large (most k cut off), depths 1..MAX_DEPTH,
    flat rows (the sum's largest values) and ties; TFLM itself is checked on micro_speech and the
    zoo's softmax models."""
    from edgeloop.convert.ops.softmax import MAX_DEPTH
    from tests.tools.softmax_reference import params_for, tflm_softmax_row

    rng = random.Random(7)
    cases = []
    for scale in (1e-3, 0.01, 0.05, 0.1, 0.25, 1.0, 2.0):
        for depth in (1, 2, 3, 7, 40, 255):
            cases.append((scale, [[rng.randrange(-128, 128) for _ in range(depth)] for _ in range(3)]))
        cases.append((scale, [[127] * 7, [-128] * 7, [5, 5, 4, -128, -128, 0, 5]]))
    for depth in (256, 511, 512, 1023, 1024, MAX_DEPTH):  # the sum crossing 2**27 .. 2**30
        cases.append((0.05, [[3] * depth, [(i * 37) % 256 - 128 for i in range(depth)]]))
    for scale, rows in cases:
        mult, shift, diff_min = params_for(scale)
        want = [v for r in rows for v in tflm_softmax_row(r, mult, shift, diff_min)]
        assert _c_softmax(kernels, rows, mult, shift, diff_min) == want, (scale, len(rows[0]))


@pytest.mark.tf
@pytest.mark.parametrize("shape", [(9, 5, 7, 1, True), (1, 3, 1, 2, True), (16, 2, 13, 3, False),
                                   (6, 11, 4, 4, False), (20, 6, 12, 5, False)], ids=lambda s: "%dx%dx%d" % s[:3])
def test_lstm_gate_sums(kernels, shape):
    """The LSTM's gate sums from el_mat_vec_s8 (4 UNITS rows, all in blocks of four; dot
    lengths 1-13, odd and below 8) under kernels/lstm.py's gate arithmetic, on
    calibration-like, random and extreme inputs. The single-row path of el_mat_vec_s8:
    test_native_module's mat_vec case."""
    from edgeloop.convert.int8 import convert_tflite_bytes
    from tests.tools import lstm_models

    tflite, ref, xs = lstm_models.reference(*shape)
    compare(kernels, convert_tflite_bytes(tflite, "lstm").data, ref, xs, ["lstm"])


# --- Keras models ---------------------------------------------------------------------------

@pytest.mark.tf
@pytest.mark.slow
@pytest.mark.parametrize("name", ["dense_mlp", "conv1d", "conv2d", "depthwise", "residual", "mixed_scales",
                                  "global_pool", "pooling", "activations", "add_broadcast", "sigmoid_only",
                                  "tanh_only", "lstm", "lstm_seq"])
def test_zoo_model(kernels, tmp_path, name):
    pytest.importorskip("tensorflow", reason="TensorFlow is not installed (pip install 'edgeloop[tf]')")
    import io

    from tests.tools import keras_zoo
    from edgeloop.convert.int8 import convert_tflite_bytes
    from edgeloop_fw.runtime.loader import Model

    tflite = keras_zoo.to_tflite(name, tmp_path)
    blob = convert_tflite_bytes(tflite, name).data
    inp = Model(io.BytesIO(blob)).inputs[0]
    runtime = pytest.importorskip("tflite_micro.python.tflite_micro.runtime")
    ops = {n for _o, n, _p, _t in Model(io.BytesIO(blob)).ops} & set(NATIVE)
    compare(kernels, blob, runtime.Interpreter.from_bytes(tflite), keras_zoo.int8_inputs(name, inp.scale, inp.zero_point), ops)


def _layer(kind, shape, **kw):
    import keras
    L = keras.layers
    inp = keras.Input(shape, batch_size=1)
    kw, calib, spread = extremes(kw, (0.2, 1.0))
    if kind == "conv":
        layer = L.Conv2D(**kw)
    elif kind == "dw":
        layer = L.DepthwiseConv2D(**kw)
    else:
        layer = L.Dense(**kw)
        inp2 = L.Flatten()(inp)
        model = keras.Model(inp, layer(inp2))
        spread(layer)
        return model, calib
    model = keras.Model(inp, layer(inp))
    spread(layer)
    return model, calib


LAYERS = {
    # 7 output channels: one group of 4 + 3 single rows; dot length 3*3*5 = 45
    "conv_same_stride3x2": ("conv", (13, 10, 5), dict(filters=7, kernel_size=3, strides=(3, 2), padding="same")),
    "conv_dilated_valid": ("conv", (12, 11, 3), dict(filters=9, kernel_size=(2, 3), dilation_rate=(3, 2),
                                                     activation="relu")),
    "conv_1x1_wide": ("conv", (5, 7, 33), dict(filters=6, kernel_size=1, activation="relu6")),
    "conv_even_kernel_same": ("conv", (9, 8, 2), dict(filters=4, kernel_size=(4, 2), padding="same", strides=2)),
    # 1-3 input channels (el_ops.c's row strip; dilated columns keep the gather): models/keyword's
    # first layer; filter counts not a multiple of 4 (a block padded with zero rows); row
    # dilation; strides 3x2 and 1x3; inputs all positive or all negative (zero point -128 /
    # 127) with per-channel weight scales 1e-3..1e3 (long right shifts to left shifts)
    "conv_c1_keyword": ("conv", (49, 40, 1), dict(filters=8, kernel_size=(10, 8), strides=2, padding="same",
                                                  activation="relu")),
    "conv_c1_valid_dilated_rows_zpmin": ("conv", (12, 11, 1), dict(filters=6, kernel_size=(3, 4),
                                                                   dilation_rate=(2, 1), calib=(40.0, 5.0),
                                                                   weight_spread=3)),
    "conv_c2_same_s3x2_zpmax": ("conv", (11, 9, 2), dict(filters=5, kernel_size=(4, 3), strides=(3, 2),
                                                         padding="same", activation="relu6", calib=(-40.0, 5.0),
                                                         weight_spread=3)),
    "conv_c3_same_s1x3": ("conv", (9, 10, 3), dict(filters=9, kernel_size=(2, 5), strides=(1, 3), padding="same")),
    "conv_c3_dilated_cols_gather": ("conv", (10, 12, 3), dict(filters=4, kernel_size=3, dilation_rate=(1, 2),
                                                              padding="same", activation="relu")),
    "dw_mult1_same": ("dw", (9, 11, 6), dict(kernel_size=3, padding="same", strides=(2, 3))),
    "dw_mult3_dilated": ("dw", (11, 10, 2), dict(kernel_size=(3, 2), depth_multiplier=3, dilation_rate=2)),
    "dw_mult8_microspeech_like": ("dw", (17, 13, 1), dict(kernel_size=(10, 8), depth_multiplier=8,
                                                          strides=2, padding="same", activation="relu")),
    # multiplier 4: the row strip (el_dw.c) with three input channels, an odd filter
    # height (ARMv7E-M pads it to even), strides 3x2 and padding; then row dilation
    "dw_mult4_strip_same": ("dw", (11, 9, 3), dict(kernel_size=(3, 5), depth_multiplier=4, strides=(3, 2),
                                                   padding="same")),
    "dw_mult4_strip_dilated_rows": ("dw", (12, 7, 2), dict(kernel_size=(3, 2), depth_multiplier=4,
                                                           dilation_rate=(2, 1), activation="relu")),
    # depth multiplier 1 (el_dw1.c, channels innermost): whole blocks of 4 plus 1-3
    # channels alone; SAME/VALID, stride 2, dilation; inputs all positive or all
    # negative (zero point -128 / 127); per-channel weight scales 1e-4..1e4 under
    # relu6 (multipliers from tiny, long right shifts, to > 1, left shifts)
    "dw_mult1_dscnn_like": ("dw", (25, 5, 64), dict(kernel_size=3, padding="same", activation="relu")),
    "dw_mult1_same_s2_zpmin_spread": ("dw", (9, 7, 11), dict(kernel_size=3, strides=2, padding="same",
                                                             activation="relu6", calib=(40.0, 5.0),
                                                             weight_spread=4)),
    "dw_mult1_valid_s2_zpmax_spread": ("dw", (8, 9, 5), dict(kernel_size=(2, 3), strides=(2, 1),
                                                             calib=(-40.0, 5.0), weight_spread=3)),
    "dw_mult1_dilated_valid_13ch": ("dw", (10, 9, 13), dict(kernel_size=3, dilation_rate=(2, 3))),
    "dw_mult1_one_channel_same": ("dw", (6, 7, 1), dict(kernel_size=(3, 4), padding="same", strides=2)),
    "fc_odd": ("fc", (37,), dict(units=6, activation="relu")),
    "fc_one_unit_long": ("fc", (4001,), dict(units=1)),
}


@pytest.mark.tf
@pytest.mark.slow
@pytest.mark.parametrize("case", sorted(LAYERS))
def test_layer(kernels, case):
    pytest.importorskip("tensorflow", reason="TensorFlow is not installed (pip install 'edgeloop[tf]')")
    import tensorflow as tf
    from edgeloop.convert.int8 import convert_tflite_bytes

    kind, shape, kw = LAYERS[case]
    tf.keras.utils.set_random_seed(sum(map(ord, case)))
    model, (mean, std) = _layer(kind, shape, **kw)
    rng = np.random.default_rng(1)
    calib = rng.normal(mean, std, (16, *shape)).astype(np.float32)
    conv = tf.lite.TFLiteConverter.from_keras_model(model)
    conv.optimizations = [tf.lite.Optimize.DEFAULT]
    conv.representative_dataset = lambda: ([calib[i:i + 1]] for i in range(len(calib)))
    conv.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    conv.inference_input_type = conv.inference_output_type = tf.int8
    tflite = bytes(conv.convert())
    runtime = pytest.importorskip("tflite_micro.python.tflite_micro.runtime")
    xs = [rng.integers(-128, 128, (1, *shape), dtype=np.int8) for _ in range(4)]
    xs += [np.full((1, *shape), v, np.int8) for v in (-128, 127)]
    op = {"conv": "conv_2d", "dw": "depthwise_conv_2d", "fc": "fully_connected"}[kind]
    compare(kernels, convert_tflite_bytes(tflite, case).data, runtime.Interpreter.from_bytes(tflite), xs, [op])


def _geom(in_hwc, out_hwc, filt, stride=(1, 1), dilation=(1, 1), pad=(0, 0)):
    import ctypes
    vals = (1, *in_hwc, *out_hwc, *filt, *stride, *dilation, *pad, 1)
    return (ctypes.c_int32 * 16)(*vals)


@pytest.mark.parametrize("case", [
    # one channel, 20x20 filters: weights of 40 rows (the board's group for k = 400) are
    # too many for the strip's 16 KB cap, those of 8 are not, so a last group of 8
    # takes the strip while the first groups gather
    ((80, 79, 1), (61, 60, 40), (20, 20)),
    ((49, 40, 1), (25, 20, 8), (10, 8), (2, 2)),       # models/keyword's layer: every group on the strip
    ((32, 200, 3), (30, 66, 16), (3, 3), (1, 3)),      # three channels; the strip itself near its cap
    ((12, 11, 2), (10, 5, 7), (3, 2), (1, 1), (1, 2)),  # dilated columns: gather only
])
def test_conv_scratch_never_shrinks_as_rows_grow(kernels, case):
    """The board sizes one scratch buffer by scratch_size(p, group) and runs a smaller last
    group in it: whichever path (strip or gather) a smaller call takes must fit."""
    import ctypes
    fn = kernels.lib.el_conv_range_scratch_bytes
    fn.argtypes, fn.restype = [ctypes.c_void_p, ctypes.c_int32], ctypes.c_int32
    g = _geom(*case)
    sizes = [fn(ctypes.addressof(g), n) for n in range(1, case[1][2] + 1)]
    assert all(a <= b for a, b in zip(sizes, sizes[1:])), sizes


@pytest.mark.tf
@pytest.mark.parametrize("seed", range(4))
def test_transpose_conv_chain(kernels, seed):
    """Three randomized TRANSPOSE_CONVs in a row (tf_op_models.transpose_conv_chain: filters,
    strides, SAME/VALID, 1-9 channels, bias or none, RELU or none, per-channel scales), every
    one on el_tconv.c, on random and extreme inputs."""
    import io

    from edgeloop.convert.int8 import convert_tflite_bytes
    from edgeloop_fw.runtime.loader import Model
    from tests.tools import tf_op_models

    tflite = tf_op_models.transpose_conv_chain_tflite(seed)
    assert tf_op_models.op_names(tflite).count("TRANSPOSE_CONV") == 3
    shape = tuple(tf_op_models.random_inputs(tflite, 0)[0].shape)
    rng = np.random.default_rng(seed)
    xs = [rng.integers(-128, 128, shape, dtype=np.int8) for _ in range(4)]
    xs += [np.full(shape, v, np.int8) for v in (-128, 127)]
    blob = convert_tflite_bytes(tflite, "tconv").data
    ops = [n for _o, n, _p, _t in Model(io.BytesIO(blob)).ops]
    assert ops.count("transpose_conv") == 3
    compare(kernels, blob, tf_op_models.tflm_interpreter(tflite), xs, set(ops) & set(NATIVE))


@pytest.mark.tf
@pytest.mark.parametrize("seed", range(4))
def test_batch_matmul_chain(kernels, seed):
    """Three BATCH_MATMULs of activations (tf_op_models.batch_matmul_chain: adj_x, adj_y,
    broadcast over either batch dimension, column counts around the groups of 4) on el_bmm.c,
    on random and extreme inputs."""
    import io

    from edgeloop.convert.int8 import convert_tflite_bytes
    from edgeloop_fw.runtime.loader import Model
    from tests.tools import tf_op_models

    tflite = tf_op_models.batch_matmul_chain_tflite(seed)
    shape = tuple(tf_op_models.random_inputs(tflite, 0)[0].shape)
    rng = np.random.default_rng(seed)
    xs = [rng.integers(-128, 128, shape, dtype=np.int8) for _ in range(4)]
    xs += [np.full(shape, v, np.int8) for v in (-128, 127)]
    blob = convert_tflite_bytes(tflite, "bmm").data
    ops = [n for _o, n, _p, _t in Model(io.BytesIO(blob)).ops]
    assert ops.count("batch_matmul") == 3, ops
    compare(kernels, blob, tf_op_models.tflm_interpreter(tflite), xs, set(ops) & set(NATIVE))
