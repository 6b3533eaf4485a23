"""UNIDIRECTIONAL_SEQUENCE_LSTM (int8, int16 cell) under edgeloop's portable kernel (CPython)
vs TensorFlow Lite Micro: identical bytes, on Keras LSTMs of several shapes.

The models are built with tf_keras: its LSTM is what the TFLite converter fuses into
one UNIDIRECTIONAL_SEQUENCE_LSTM (Keras 3's becomes a WHILE loop).
"""

from __future__ import annotations

import io

import numpy as np
import pytest

from edgeloop_fw.runtime.validate import check
from tests.tools.runtime_helpers import edgeloop_interpreter, edgeloop_run, tflm_run

pytestmark = pytest.mark.tf

# (time steps, features, units, seed, every step or the last): odd sizes, one unit, more units
# than features. Keras' last state is the whole sequence and a STRIDED_SLICE after conversion.
SHAPES = [(9, 5, 7, 1, True), (1, 3, 1, 2, True), (16, 2, 13, 3, False), (6, 11, 4, 4, False), (20, 6, 12, 5, False)]


def _convert(steps, feats, units, seed, sequences=True):
    tf = pytest.importorskip("tensorflow", reason="TensorFlow is not installed (pip install 'edgeloop[tf]')")
    keras = pytest.importorskip("tf_keras", reason="tf_keras is not installed (make setup installs it)")
    from edgeloop.convert.int8 import convert_tflite_bytes

    keras.utils.set_random_seed(seed)
    inp = keras.Input((steps, feats), batch_size=1)
    model = keras.Model(inp, keras.layers.LSTM(units, return_sequences=sequences)(inp))
    rng = np.random.default_rng(seed)
    for w in model.weights:  # non-zero biases, or a bias bug hides
        if "bias" in w.name:
            w.assign(rng.normal(0, 0.5, w.shape).astype("float32"))
    x = (rng.normal(0, 1, (24, steps, feats)) * (0.5 + 2 * rng.random(feats))).astype(np.float32)
    conv = tf.lite.TFLiteConverter.from_keras_model(model)
    conv.optimizations = [tf.lite.Optimize.DEFAULT]
    conv.representative_dataset = lambda: ([x[i:i + 1]] for i in range(len(x)))
    conv.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    conv.inference_input_type = conv.inference_output_type = tf.int8
    tflite = bytes(conv.convert())
    t = convert_tflite_bytes(tflite, "lstm")
    want_ops = ["UNIDIRECTIONAL_SEQUENCE_LSTM"] + ([] if sequences else ["STRIDED_SLICE"])
    assert [o.name for o in t.ops] == want_ops, [o.name for o in t.ops]
    check(io.BytesIO(t.data))  # the board's model-file check takes every field
    runtime = pytest.importorskip("tflite_micro.python.tflite_micro.runtime",
                                  reason="tflite-micro (the TFLM reference) is not installed")
    return tflite, edgeloop_interpreter(t.data), runtime.Interpreter.from_bytes(tflite), x


def _inputs(ours, x, seed):
    """Calibration-like samples, full-range random codes, and both extremes."""
    t = ours.model.inputs[0]
    q = np.clip(np.floor(x[:3] / t.scale + 0.5) + t.zero_point, -128, 127).astype(np.int8)
    rng = np.random.default_rng(seed + 100)
    shape = (1,) + x.shape[1:]
    return ([q[i:i + 1] for i in range(3)] + [rng.integers(-128, 128, shape, dtype=np.int8) for _ in range(3)]
            + [np.full(shape, -128, np.int8), np.full(shape, 127, np.int8)])


@pytest.mark.parametrize("steps,feats,units,seed,sequences", SHAPES)
def test_lstm_matches_tflm_byte_for_byte(steps, feats, units, seed, sequences):
    _tflite, ours, ref, x = _convert(steps, feats, units, seed, sequences)
    outputs = set()
    for i, xi in enumerate(_inputs(ours, x, seed)):
        want = tflm_run(ref, xi)
        got = edgeloop_run(ours, xi).reshape(want.shape)
        diff = np.argwhere(got != want)
        assert diff.size == 0, (f"input #{i}: {len(diff)} bytes differ, first at "
                                f"{diff[:4].tolist()}: edgeloop {got[got != want][:4]} vs TFLM {want[got != want][:4]}")
        outputs.add(want.tobytes())
    assert len(outputs) > 4, "the LSTM gives the same output for different inputs: the comparison proves nothing"


def test_every_inference_starts_from_the_reset_state():
    """Two runs of one input give one output on edgeloop; TFLM without a reset carries the
    state over and gives another, so the state really matters and is really reset."""
    _tflite, ours, ref, x = _convert(9, 5, 7, 1)
    a, b = _inputs(ours, x, 1)[3:5]
    first = edgeloop_run(ours, a)
    edgeloop_run(ours, b)
    assert np.array_equal(edgeloop_run(ours, a), first)
    ref.reset()
    for xi in (a, b, a):
        ref.set_input(xi, 0)
        ref.invoke()
    carried = ref.get_output(0).reshape(first.shape)
    assert not np.array_equal(carried, first), "TFLM's carried state made no difference"
    assert np.array_equal(tflm_run(ref, a).reshape(first.shape), first)



def _with_cell_clip(tflite: bytes, clip: float) -> bytes:
    """The model with the LSTM's cell_clip option rewritten (Keras' 10.0 never binds in int16)."""
    import flatbuffers

    from tests.tools.op_models import schema

    s = schema()
    model = s.ModelT.InitFromObj(s.Model.GetRootAsModel(tflite, 0))
    for op in model.subgraphs[0].operators:
        if model.operatorCodes[op.opcodeIndex].builtinCode == s.BuiltinOperator.UNIDIRECTIONAL_SEQUENCE_LSTM:
            op.builtinOptions.cellClip = clip
    b = flatbuffers.Builder(1024)
    b.Finish(model.Pack(b), file_identifier=b"TFL3")
    return bytes(b.Output())


def test_a_binding_cell_clip_matches_tflm():
    """With a clip below the cell state's int16 range TFLM clamps the cell every step: the
    outputs must follow it, and differ from the unclipped model's (the clip really binds)."""
    from edgeloop.convert.int8 import convert_tflite_bytes

    tflite, plain, _ref, x = _convert(12, 4, 6, 7)
    clipped = _with_cell_clip(tflite, 0.25)
    t = convert_tflite_bytes(clipped, "clipped")
    check(io.BytesIO(t.data))
    ours = edgeloop_interpreter(t.data)
    runtime = pytest.importorskip("tflite_micro.python.tflite_micro.runtime")
    ref = runtime.Interpreter.from_bytes(clipped)
    changed = 0
    for i, xi in enumerate(_inputs(ours, x, 7)):
        want = tflm_run(ref, xi)
        got = edgeloop_run(ours, xi).reshape(want.shape)
        assert np.array_equal(got, want), f"input #{i}: {np.flatnonzero(got != want).size} bytes differ"
        changed += not np.array_equal(edgeloop_run(plain, xi).reshape(want.shape), want)
    assert changed, "the clip changed no output: it does not bind"
