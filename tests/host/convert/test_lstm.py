"""UNIDIRECTIONAL_SEQUENCE_LSTM (int8, int16 cell) under edgeloop's portable kernel (CPython)
vs TensorFlow Lite Micro: identical bytes, on Keras LSTMs of several shapes (tests/tools/lstm_models.py).
"""

from __future__ import annotations

import io

import numpy as np
import pytest

from edgeloop_fw.runtime.validate import check
from tests.tools import lstm_models
from tests.tools.runtime_helpers import edgeloop_interpreter, edgeloop_run, tflm_run

pytestmark = pytest.mark.tf

def _convert(steps, feats, units, seed, sequences=True):
    from edgeloop.convert.int8 import convert_tflite_bytes

    tflite, x = lstm_models.convert(steps, feats, units, seed, sequences)
    t = convert_tflite_bytes(tflite, "lstm")
    want_ops = ["UNIDIRECTIONAL_SEQUENCE_LSTM"] + ([] if sequences else ["STRIDED_SLICE"])
    assert [o.name for o in t.ops] == want_ops, [o.name for o in t.ops]
    check(io.BytesIO(t.data))  # the board's model-file check takes every field
    runtime = pytest.importorskip("tflite_micro.python.tflite_micro.runtime",
                                  reason="tflite-micro (the TFLM reference) is not installed")
    return tflite, edgeloop_interpreter(t.data), runtime.Interpreter.from_bytes(tflite), x


def _inputs(ours, x, seed):
    t = ours.model.inputs[0]
    return lstm_models.inputs(t.scale, t.zero_point, x, seed)


@pytest.mark.parametrize("steps,feats,units,seed,sequences", lstm_models.SHAPES)
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



def test_a_binding_cell_clip_matches_tflm():
    """With a clip below the cell state's int16 range TFLM clamps the cell every step: the
    outputs must follow it, and differ from the unclipped model's (the clip really binds)."""
    from edgeloop.convert.int8 import convert_tflite_bytes

    tflite, plain, _ref, x = _convert(12, 4, 6, 7)
    clipped = lstm_models.with_cell_clip(tflite, 0.25)
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


def test_a_hand_built_16x8_lstm_converts_and_matches_tflm_byte_for_byte():
    """TFLite's converter makes no 16x8 LSTM, but TFLM runs a hand-built one (int16 input and
    hidden state, int64 biases): edgeloop converts it (it once refused it by name) and gives
    TFLM's bytes. The randomized cases are in test_lstm_16x8.py."""
    from edgeloop.convert.int8 import convert_tflite_bytes

    tflite, _x = lstm_models.convert(9, 5, 7, 1)
    wide = lstm_models.to_16x8(tflite)
    runtime = pytest.importorskip("tflite_micro.python.tflite_micro.runtime")
    ref = runtime.Interpreter.from_bytes(wide)
    t = convert_tflite_bytes(wide, "lstm16.tflite")
    check(io.BytesIO(t.data))
    ours = edgeloop_interpreter(t.data)
    rng = np.random.default_rng(9)
    outs = set()
    for _ in range(4):
        xi = rng.integers(-32768, 32768, (1, 9, 5)).astype(np.int16)
        want = tflm_run(ref, xi)
        ours.set_input(xi.astype("<i2").tobytes())
        ours.invoke()
        assert np.frombuffer(ours.get_output(), "<i2").tolist() == want.reshape(-1).tolist()
        outs.add(want.tobytes())
    assert len(outs) == 4, "TFLM's 16x8 LSTM gave one output for different inputs: it does not really run"


def test_gate_multipliers_at_a_scale_product_tie_match_tflm():
    """The installed TFLM takes each gate FC's input*weight scale product in double, though its
    source reads a float32 product (docs/runtime-kernels.md, the LSTM 16x8 section). With the
    input scale of SHAPES[0]'s model stepped 2,692 float32 ulps up (found by a scan comparing
    the two products' outputs), one random input's bytes differ between the products: the
    float32 one misses TFLM there (tests/tools/scale_tie.py), the converter's matches."""
    import flatbuffers

    from edgeloop.convert.int8 import convert_tflite_bytes
    from edgeloop.convert.ops import lstm
    from tests.tools.op_models import schema
    from tests.tools.scale_tie import float32_product

    runtime = pytest.importorskip("tflite_micro.python.tflite_micro.runtime",
                                  reason="tflite-micro (the TFLM reference) is not installed")
    tflite, _x = lstm_models.convert(9, 5, 7, 1, True)
    s = schema()
    model = s.ModelT.InitFromObj(s.Model.GetRootAsModel(tflite, 0))
    sg = model.subgraphs[0]
    sg.tensors[sg.operators[0].inputs[0]].quantization.scale = [0.054192766547203064]
    b = flatbuffers.Builder(1024)
    b.Finish(model.Pack(b), file_identifier=b"TFL3")
    tie = bytes(b.Output())
    xi = np.random.default_rng(2).integers(-128, 128, (1, 9, 5)).astype(np.int8)
    want = tflm_run(runtime.Interpreter.from_bytes(tie), xi).reshape(-1)
    mp = pytest.MonkeyPatch()
    try:
        mp.setattr(lstm, "conv_multiplier_per_tensor", float32_product)
        old = edgeloop_run(edgeloop_interpreter(convert_tflite_bytes(tie, "lstm").data), xi).reshape(-1)
    finally:
        mp.undo()
    assert not np.array_equal(old, want), "the float32 product gave TFLM's bytes: the model holds no tie"
    got = edgeloop_run(edgeloop_interpreter(convert_tflite_bytes(tie, "lstm").data), xi).reshape(-1)
    assert np.array_equal(got, want)
