"""TFLM's 16x8 mode (int16 activations, int8 weights, int64 bias) under edgeloop's runtime
(CPython running the board's portable kernels) vs TensorFlow Lite Micro: identical bytes.

Each case is one op of random geometry and random input scale (the calibration
data is spread by a random power of ten, so the requantization multipliers and
shifts differ per case), quantized by the TFLite converter's own 16x8 mode;
then a DS-CNN-style Keras model through `edgeloop convert --activations int16`.
"""

from __future__ import annotations

import io

import numpy as np
import pytest
from click.testing import CliRunner

from tests.tools.models_16x8 import ds_cnn_small, int16_inputs, randomize, to_16x8
from tests.tools.runtime_helpers import edgeloop_interpreter, tflm_run

pytestmark = pytest.mark.tf

SEED = 20261207


@pytest.fixture(scope="module")
def tf():
    return pytest.importorskip("tensorflow", reason="TensorFlow is not installed (pip install 'edgeloop[tf]')")


def tflm(tflite: bytes, arena_size=None):
    runtime = pytest.importorskip("tflite_micro.python.tflite_micro.runtime",
                                  reason="tflite-micro (the TFLM reference) is not installed")
    return runtime.Interpreter.from_bytes(tflite, arena_size=arena_size)


def single_op(kind: str, rng):
    """A Keras model whose 16x8 conversion is `kind` (plus what Keras needs around it), of random geometry."""
    import keras
    from keras import layers as L

    act = [None, "relu", "relu6"][rng.integers(3)]
    if kind == "fully_connected":
        inp = keras.Input((int(rng.integers(1, 40)),), batch_size=1)
        return keras.Model(inp, L.Dense(int(rng.integers(1, 20)), activation=act)(inp))
    h, w, c = int(rng.integers(3, 12)), int(rng.integers(3, 12)), int(rng.integers(1, 6))
    inp = keras.Input((h, w, c), batch_size=1)
    pad = ["same", "valid"][rng.integers(2)]
    k = (int(rng.integers(1, min(h, 4) + 1)), int(rng.integers(1, min(w, 4) + 1)))
    dilated = rng.random() < 0.3 and pad == "same"
    stride = (1, 1) if dilated else (int(rng.integers(1, 3)), int(rng.integers(1, 3)))
    dil = (int(rng.integers(1, 3)), int(rng.integers(1, 3))) if dilated else (1, 1)
    if kind == "conv_2d":
        y = L.Conv2D(int(rng.integers(1, 7)), k, strides=stride, padding=pad, dilation_rate=dil, activation=act)(inp)
    elif kind == "depthwise_conv_2d":
        y = L.DepthwiseConv2D(k, strides=stride, padding=pad, dilation_rate=dil,
                              depth_multiplier=int(rng.integers(1, 3)), activation=act)(inp)
    elif kind in ("max_pool_2d", "average_pool_2d"):
        pool = L.MaxPooling2D if kind == "max_pool_2d" else L.AveragePooling2D
        y = pool(k, strides=stride, padding=pad)(inp)
    elif kind == "add":  # two 1x1 convolutions of different scales into the ADD
        a = L.Conv2D(c, 1)(inp)
        b = L.Conv2D(c, 1, kernel_initializer=keras.initializers.RandomNormal(0, float(rng.uniform(0.1, 3))))(inp)
        y = L.Add()([a, b])  # no activation: a fused ReLU can leave a degenerate output scale
    elif kind == "concatenation":  # two branches of one scale (a MaxPool keeps its input's)
        a = L.Conv2D(int(rng.integers(1, 5)), 1)(inp)
        y = L.Concatenate(axis=int(rng.integers(1, 4)))([a, L.MaxPooling2D(1)(a)])
    elif kind == "quantize":  # two 1x1 convolutions of different scales into one CONCATENATION:
        a = L.Conv2D(int(rng.integers(1, 4)), 1)(inp)  # the converter requantizes one to the other's
        b = L.Conv2D(int(rng.integers(1, 4)), 1,
                     kernel_initializer=keras.initializers.RandomNormal(0, float(rng.uniform(2, 5))))(inp)
        y = L.Concatenate()([a, b])
    elif kind == "softmax":  # a row of random length, from a Dense so the input scale is the converter's
        y = L.Softmax()(L.Dense(int(rng.integers(2, 40)))(L.Flatten()(inp)))
    elif kind == "mean":
        y = L.GlobalAveragePooling2D()(inp) if rng.random() < 0.5 else L.GlobalAveragePooling1D()(
            L.Reshape((h * w, c))(inp))
    elif kind == "reshape":
        y = L.Dense(3)(L.Reshape((h * w * c,))(inp))
    return keras.Model(inp, y)


def assert_identical(tflite: bytes, elm: bytes, xs) -> set:
    ours, ref = edgeloop_interpreter(elm), tflm(tflite)
    outs = set()
    for i, x in enumerate(xs):
        ref.set_input(x, 0)  # TFLM overwrites its input during invoke: set it every time
        ref.invoke()
        want = ref.get_output(0).copy()
        assert want.dtype == np.int16
        ours.set_input(np.ascontiguousarray(x).tobytes())
        ours.invoke()
        got = np.frombuffer(ours.get_output(), np.int16).reshape(want.shape)
        diff = np.flatnonzero(got != want)
        assert diff.size == 0, (f"input #{i}: {diff.size} values differ, first at {diff[:5]}: "
                                f"edgeloop {got.reshape(-1)[diff[:5]]} vs TFLM {want.reshape(-1)[diff[:5]]}")
        outs.add(want.tobytes())
    return outs


KINDS = ["fully_connected", "conv_2d", "depthwise_conv_2d", "add", "max_pool_2d", "average_pool_2d", "reshape",
         "concatenation", "mean", "quantize", "softmax"]
CASES = [(kind, n) for kind in KINDS for n in range(3)]


@pytest.mark.parametrize("kind,n", CASES)
def test_random_16x8_op_matches_tflm(tf, kind, n):
    import keras

    from edgeloop.convert.int8 import convert_tflite_bytes

    rng = np.random.default_rng([SEED, KINDS.index(kind), n])
    keras.utils.set_random_seed(int(rng.integers(1 << 30)))
    model = single_op(kind, rng)
    randomize(model, rng)
    shape = (1,) + tuple(model.inputs[0].shape[1:])
    x = (rng.normal(0, 1, (16,) + shape[1:]) * 10.0 ** rng.uniform(-2, 2)).astype(np.float32)
    tflite = to_16x8(tf, model, x)
    converted = convert_tflite_bytes(tflite, kind)
    names = {o.name for o in converted.ops}
    assert kind.upper() in names or kind == "add" and "ADD" in names, names
    assert converted.data[4:6] == b"\x02\x00"  # format version 2: an int8-only runtime refuses it
    t = edgeloop_interpreter(converted.data).model.inputs[0]
    outs = assert_identical(tflite, converted.data, int16_inputs(shape, t.scale, x, rng))
    assert len(outs) > 2, "the same output for every input: the comparison proves nothing"


def test_ds_cnn_through_the_cli_with_int16_activations_matches_tflm(tf, tmp_path):
    import keras

    from edgeloop.cli import cli
    from edgeloop.convert.keras import convert_keras

    rng = np.random.default_rng(SEED)
    keras.utils.set_random_seed(SEED)
    model = ds_cnn_small()
    randomize(model, rng)
    model.save(tmp_path / "ds.keras")
    x = rng.normal(0, 1, (40, 25, 10, 1)).astype(np.float32) * 3
    np.savez(tmp_path / "calib.npz", x=x[:24])
    y = np.asarray(model(x[24:])).argmax(axis=1)
    y[:3] = (y[:3] + 1) % 4  # some wrong labels: accuracy is not trivially 100 %
    np.savez(tmp_path / "val.npz", x=x[24:], y=y)
    r = CliRunner().invoke(cli, ["convert", str(tmp_path / "ds.keras"), "--calib", str(tmp_path / "calib.npz"),
                                 "--activations", "int16", "-o", str(tmp_path / "ds.elm"),
                                 "--validate", str(tmp_path / "val.npz"), "--board", "rp2040"])
    assert r.exit_code == 0, r.output
    assert "identical to TFLM on 16/16" in r.output, r.output
    assert "16x8 TFLite (TFLM)" in r.output and "float (TensorFlow)" in r.output
    elm = (tmp_path / "ds.elm").read_bytes()
    # The same conversion as a library call gives the .tflite TFLM runs: compare on every kind of input.
    tflite = convert_keras(tmp_path / "ds.keras", x[:24], activations="int16").tflite
    from edgeloop.convert.int8 import convert_tflite_bytes
    assert convert_tflite_bytes(tflite, "ds").data == elm
    t = edgeloop_interpreter(elm).model.inputs[0]
    assert t.dtype == 7 and t.zero_point == 0
    outs = assert_identical(tflite, elm, int16_inputs((1, 25, 10, 1), t.scale, x[24:], rng))
    assert len(outs) > 2


@pytest.mark.parametrize("n", range(4))
def test_int16_softmax_matches_tflm_on_many_rows_and_scales(tf, n):
    """Rows straight from the input, so its scale spans 1e-5..1e-1 (the exp rescale's shift from
    negative to positive); random and calibrated codes, each model several rows at once."""
    import keras
    from keras import layers as L

    from edgeloop.convert.int8 import convert_tflite_bytes

    rng = np.random.default_rng([SEED, 25, n])
    rows, depth = int(rng.integers(1, 5)), int(rng.integers(2, 300))
    inp = keras.Input((rows, depth), batch_size=1)
    x = (rng.normal(0, 1, (16, rows, depth)) * 10.0 ** rng.uniform(-1, 3)).astype(np.float32)
    tflite = to_16x8(tf, keras.Model(inp, L.Softmax()(inp)), x)
    converted = convert_tflite_bytes(tflite, "softmax")
    assert [o.name for o in converted.ops] == ["SOFTMAX"]
    scale = edgeloop_interpreter(converted.data).model.inputs[0].scale
    xs = [rng.integers(-32768, 32768, size=(1, rows, depth)).astype(np.int16) for _ in range(40)]
    xs += [np.clip(np.round(v / scale), -32768, 32767).astype(np.int16)[None] for v in x]
    assert len(assert_identical(tflite, converted.data, xs)) > 40


@pytest.mark.parametrize("act", ["relu", "relu6"])
@pytest.mark.parametrize("n", range(3))
def test_int16_relu_matches_tflm_on_every_input_code(tf, act, n):
    """A standalone RELU / RELU6 (first in the model, so nothing fuses it) of random input scale;
    the input holds every int16 code once. TFLM's RELU6 clamps the codes without rescaling them."""
    import keras
    from keras import layers as L

    from edgeloop.convert.int8 import convert_tflite_bytes

    rng = np.random.default_rng([SEED, 19, n, act == "relu6"])
    inp = keras.Input((65536,), batch_size=1)
    layer = L.ReLU(max_value=6.0) if act == "relu6" else L.ReLU()
    x = (rng.normal(0, 1, (8, 65536)) * 10.0 ** rng.uniform(-1, 1.5)).astype(np.float32)
    tflite = to_16x8(tf, keras.Model(inp, layer(inp)), x)
    converted = convert_tflite_bytes(tflite, act)
    assert [o.name for o in converted.ops] == [act.upper()]
    codes = np.arange(-32768, 32768).astype(np.int16).reshape(1, -1)
    ours, ref = edgeloop_interpreter(converted.data), tflm(tflite, arena_size=1 << 20)
    want = tflm_run(ref, codes)
    ours.set_input(codes.tobytes())
    ours.invoke()
    got = np.frombuffer(ours.get_output(), np.int16).reshape(want.shape)
    assert len(np.unique(want)) > 100
    diff = np.flatnonzero(got != want)
    assert diff.size == 0, f"{diff.size} codes differ, first {codes[0, diff[:5]]}: {got[0, diff[:5]]} vs {want[0, diff[:5]]}"


QUANTIZE_ENDS = [("int8", "int16"), ("int16", "int8"), ("int16", "int16")]


@pytest.mark.parametrize("ends", QUANTIZE_ENDS, ids=["->".join(e) for e in QUANTIZE_ENDS])
@pytest.mark.parametrize("n", range(4))
def test_quantize_with_an_int16_end_matches_tflm_on_every_input_code(tf, ends, n):
    """One QUANTIZE, random scales (ratios from 1/1000 to 1000, equal ones and powers of two too)
    and int8 zero points; the input holds every code of its type once."""
    from tests.tools.models_16x8 import quantize_model

    src, dst = ends
    rng = np.random.default_rng([SEED, 7, QUANTIZE_ENDS.index(ends), n])
    s_in = float(10.0 ** rng.uniform(-4, 0))
    ratio = [1.0, 2.0 ** int(rng.integers(-8, 9)), 10.0 ** rng.uniform(-3, 3), 10.0 ** rng.uniform(-3, 3)][n]
    zp = {"int8": lambda: int(rng.integers(-128, 128)), "int16": lambda: 0}
    codes = np.arange(-128, 128) if src == "int8" else np.arange(-32768, 32768)
    assert_quantize_matches(quantize_model(src, dst, s_in, zp[src](), s_in / ratio, zp[dst](), codes.size),
                            codes.astype(src), dst)


def assert_quantize_matches(tflite: bytes, codes: np.ndarray, dst: str) -> None:
    from edgeloop.convert.int8 import convert_tflite_bytes

    converted = convert_tflite_bytes(tflite, "quantize")
    assert [o.name for o in converted.ops] == ["QUANTIZE"]
    ours, ref = edgeloop_interpreter(converted.data), tflm(tflite, arena_size=1 << 20)
    x = codes.reshape(1, -1)
    ref.set_input(x, 0)
    ref.invoke()
    want = ref.get_output(0).copy()
    assert want.dtype == np.dtype(dst) and len(np.unique(want)) > 2
    ours.set_input(x.tobytes())
    ours.invoke()
    got = np.frombuffer(ours.get_output(), dst).reshape(want.shape)
    diff = np.flatnonzero(got != want)
    assert diff.size == 0, (f"{diff.size} codes differ, first {codes[diff[:5]]}: edgeloop {got[0, diff[:5]]} "
                            f"vs TFLM {want[0, diff[:5]]}")


def test_a_chain_of_quantize_through_an_odd_sized_int8_tensor_matches_tflm(tf):
    from edgeloop.convert.int8 import convert_tflite_bytes
    from tests.tools.models_16x8 import quantize_chain

    tflite = quantize_chain([("int16", 0.001, 0), ("int8", 0.05, 3), ("int16", 0.0003, 0),
                             ("int16", 0.002, 0)], 7)
    x = np.array([[-32768, -2500, -1, 0, 3, 900, 32767]], np.int16)
    ours, ref = edgeloop_interpreter(convert_tflite_bytes(tflite, "chain").data), tflm(tflite)
    ours.set_input(x.tobytes())
    ours.invoke()
    assert np.frombuffer(ours.get_output(), np.int16).tolist() == tflm_run(ref, x).reshape(-1).tolist()


def test_the_memory_plan_keeps_int16_buffers_at_even_offsets_beside_odd_int8_ones():
    """Largest first, a 6-byte buffer living beside a 7-byte int8 one would start at byte 7; the
    board's check refuses an odd offset for an int16 tensor, so a 16x8 plan pads (align 2)."""
    from edgeloop.convert.graph import OpPlan
    from edgeloop.convert.plan import plan_memory

    plans = [OpPlan([], reads=[0], writes=[1]), OpPlan([], reads=[1], writes=[2])]
    sizes = {0: 7, 1: 6, 2: 6}
    odd, _ = plan_memory(sizes, plans, [0], [2], {})
    assert odd[1].offset == 7  # what the plan gives without padding: the case is real
    even, arena = plan_memory(sizes, plans, [0], [2], {}, align=2)
    assert all(b.offset % 2 == 0 for b in even.values()) and arena % 2 == 0


def test_quantize_whose_rescale_overflows_tflms_int32_is_refused(tf):
    from edgeloop.convert.int8 import convert_tflite_bytes
    from edgeloop.errors import ConversionError
    from tests.tools.models_16x8 import quantize_model

    tflite = quantize_model("int16", "int16", 1.0, 0, 2.0 ** -16, 0, 8)  # a left shift of 17: 32767 << 17
    with pytest.raises(ConversionError, match="overflows TFLM's int32 rescale"):
        convert_tflite_bytes(tflite, "quantize")
    tflite = quantize_model("int8", "int16", 1.0, -128, 2.0 ** -23, 0, 8)  # (127 + 128) << 24 passes 2**31
    with pytest.raises(ConversionError, match="overflows TFLM's int32 rescale"):
        convert_tflite_bytes(tflite, "quantize")
    # A shift of 16 takes -32768 to -2**31 exactly: still TFLM's int32, and the same bytes here.
    codes = np.arange(-32768, 32768).astype(np.int16)
    assert_quantize_matches(quantize_model("int16", "int16", 1.0, 0, 2.0 ** -15, 0, codes.size), codes, "int16")


def test_int16_mean_over_more_values_than_tflms_int32_sum_holds_is_refused(tf):
    """257 * 256 int16 values of 32767 sum past 2**31 in TFLM's int32 accumulator: refused, not wrapped."""
    import keras
    from keras import layers as L

    from edgeloop.convert.int8 import convert_tflite_bytes
    from edgeloop.errors import ConversionError

    inp = keras.Input((257, 256, 1), batch_size=1)
    x = np.random.default_rng(2).normal(0, 1, (4, 257, 256, 1)).astype(np.float32)
    tflite = to_16x8(tf, keras.Model(inp, L.GlobalAveragePooling2D()(inp)), x)
    with pytest.raises(ConversionError, match=r"mean over 65792 int16 values can overflow TFLM's int32 sum"):
        convert_tflite_bytes(tflite, "mean")
    inp = keras.Input((256, 256, 1), batch_size=1)  # 2**16 values: the sum still fits
    tflite = to_16x8(tf, keras.Model(inp, L.GlobalAveragePooling2D()(inp)), x[:, :256])
    assert [o.name for o in convert_tflite_bytes(tflite, "mean").ops] == ["MEAN"]


def test_an_int8_only_reader_refuses_a_16x8_model_by_version(tf):
    """What a board of before 16x8 does: its loader reads version 1 only (the header check is the
    one the old loader has), so a 16x8 file is refused instead of read as int8 bytes."""
    import keras
    from keras import layers as L

    from edgeloop.convert.int8 import convert_tflite_bytes
    from edgeloop_fw.runtime import format as F
    from edgeloop_fw.runtime.loader import ModelFileError, read_header

    inp = keras.Input((5,), batch_size=1)
    tflite = to_16x8(tf, keras.Model(inp, L.Dense(3)(inp)), np.ones((4, 5), np.float32))
    data = convert_tflite_bytes(tflite, "fc").data
    head, *_ = read_header(io.BytesIO(data))
    assert int.from_bytes(head[4:6], "little") == F.FORMAT_VERSION_16X8 != F.FORMAT_VERSION
    bad = bytearray(data)
    bad[4:6] = (F.FORMAT_VERSION_16X8 + 1).to_bytes(2, "little")
    with pytest.raises(ModelFileError, match="format version 3"):
        read_header(io.BytesIO(bytes(bad)))


def test_cli_refuses_int16_for_an_int8_tflite(tmp_path):
    from edgeloop.cli import cli
    from tests.tools.runtime_helpers import HELLO, need

    r = CliRunner().invoke(cli, ["convert", str(need(HELLO)), "--activations", "int16", "-o", str(tmp_path / "h.elm")])
    assert r.exit_code != 0 and "Traceback" not in r.output
    assert "already quantized with int8 activations" in r.output
    assert not (tmp_path / "h.elm").exists()
