"""UNIDIRECTIONAL_SEQUENCE_LSTM in 16x8 (int16 input/hidden/output, int8 weights, int64 biases)
under edgeloop's portable kernel (CPython) vs TensorFlow Lite Micro: identical int16 values.

No converter makes a 16x8 LSTM, so each model is a Keras LSTM of tests/tools/lstm_models.SHAPES
converted to int8 and rebuilt by hand in TFLM's 16x8 form (lstm_models.to_16x8). An int16
output has 256 times the int8 output's resolution, so a one-off rounding anywhere in a gate,
the cell or the hidden state shows up here as a differing value.
"""

from __future__ import annotations

import functools
import io

import numpy as np
import pytest

from edgeloop_fw.runtime.validate import check
from tests.tools import lstm_models
from tests.tools.runtime_helpers import edgeloop_interpreter, tflm_run

pytestmark = pytest.mark.tf


@functools.lru_cache(maxsize=None)
def _keras(steps, feats, units, seed, sequences):
    return lstm_models.convert(steps, feats, units, seed, sequences)


def _both(wide: bytes):
    from edgeloop.convert.int8 import convert_tflite_bytes

    runtime = pytest.importorskip("tflite_micro.python.tflite_micro.runtime",
                                  reason="tflite-micro (the TFLM reference) is not installed")
    t = convert_tflite_bytes(wide, "lstm16")
    check(io.BytesIO(t.data))  # the board's model-file check takes every field
    return t, edgeloop_interpreter(t.data), runtime.Interpreter.from_bytes(wide)


def _run(ours, x: np.ndarray) -> np.ndarray:
    ours.set_input(np.ascontiguousarray(x, "<i2").tobytes())
    ours.invoke()
    return np.frombuffer(ours.get_output(), "<i2")


def _inputs(ours, x: np.ndarray, seed: int) -> list[np.ndarray]:
    """Calibration samples at the int16 scale, full-range random codes, a quieter random
    input that keeps the gates off their saturated ends, and both extremes."""
    scale = ours.model.inputs[0].scale
    q = np.clip(np.floor(x[:3] / scale + 0.5), -32768, 32767).astype(np.int16)
    rng = np.random.default_rng(seed + 200)
    shape = (1,) + x.shape[1:]
    return ([q[i:i + 1] for i in range(3)] + [rng.integers(-32768, 32768, shape).astype(np.int16) for _ in range(3)]
            + [rng.integers(-2048, 2048, shape).astype(np.int16),
               np.full(shape, -32768, np.int16), np.full(shape, 32767, np.int16)])


def _compare(ours, ref, xs) -> set[bytes]:
    outputs = set()
    for i, xi in enumerate(xs):
        want = tflm_run(ref, xi).reshape(-1)
        got = _run(ours, xi)
        diff = np.flatnonzero(got != want)
        assert diff.size == 0, (f"input #{i}: {diff.size} values differ, first at {diff[:4].tolist()}: "
                                f"edgeloop {got[diff[:4]]} vs TFLM {want[diff[:4]]}")
        outputs.add(want.tobytes())
    return outputs


@pytest.mark.parametrize("steps,feats,units,seed,sequences", lstm_models.SHAPES)
def test_lstm_16x8_matches_tflm(steps, feats, units, seed, sequences):
    tflite, x = _keras(steps, feats, units, seed, sequences)
    t, ours, ref = _both(lstm_models.to_16x8(tflite))
    assert [o.name for o in t.ops] == ["UNIDIRECTIONAL_SEQUENCE_LSTM"] + ([] if sequences else ["STRIDED_SLICE"])
    xs = _inputs(ours, x, seed)
    outputs = _compare(ours, ref, xs)
    assert len(outputs) >= len(xs) - 1, "different inputs gave one output: the comparison proves little"
    values = np.frombuffer(b"".join(outputs), "<i2")
    assert np.unique(values).size > min(values.size // 4, 64), "the outputs take few values: not a real 16-bit test"


def test_a_float32_scale_product_misses_tflm_by_one():
    """TFLM rounds the gate FC multiplier to 16 bits; with a float32 scale product (the int8
    LSTM's until 2026-12-07, patched in here) one recurrent multiplier of SHAPES[4]'s model lies exactly on that rounding's tie and values
    drift by a unit, so the host takes the product in double (quant.conv_multiplier_per_tensor). Every
    step's output (return_sequences) shows it; the last step alone does not for these inputs."""
    from edgeloop.convert.ops import lstm, lstm_16x8

    steps, feats, units, seed, _last = lstm_models.SHAPES[4]
    tflite, x = _keras(steps, feats, units, seed, True)
    wide = lstm_models.to_16x8(tflite)
    _t, ours, ref = _both(wide)
    _compare(ours, ref, _inputs(ours, x, seed))
    from tests.tools.scale_tie import float32_product

    mp = pytest.MonkeyPatch()
    try:
        mp.setattr(lstm, "conv_multiplier_per_tensor", float32_product)  # the int8 LSTM's product until 2026-12-07
        mp.setattr(lstm_16x8, "_multipliers", lstm.gate_multipliers)
        _t, float32, _ref = _both(wide)
    finally:
        mp.undo()
    assert any(not np.array_equal(_run(float32, xi), tflm_run(ref, xi).reshape(-1))
               for xi in _inputs(ours, x, seed)), "the float32 product gave TFLM's values: no tie is covered"


def test_a_binding_cell_clip_matches_tflm():
    """With a clip well inside the int16 cell range TFLM clamps the cell every step: the values
    must follow it and differ from the unclipped model's (the clip really binds)."""
    tflite, x = _keras(12, 4, 6, 7, True)
    _t, ours, ref = _both(lstm_models.to_16x8(lstm_models.with_cell_clip(tflite, 0.25)))
    _t, plain, _ref = _both(lstm_models.to_16x8(tflite))
    xs = _inputs(ours, x, 7)
    _compare(ours, ref, xs)
    changed = sum(not np.array_equal(_run(plain, xi), tflm_run(ref, xi).reshape(-1)) for xi in xs)
    assert changed >= len(xs) // 2, f"the clip changed {changed} of {len(xs)} outputs: it hardly binds"


def test_every_inference_starts_from_the_reset_state():
    tflite, x = _keras(9, 5, 7, 1, True)
    _t, ours, ref = _both(lstm_models.to_16x8(tflite))
    a, b = _inputs(ours, x, 1)[3:5]
    first = _run(ours, a).copy()
    _run(ours, b)
    assert np.array_equal(_run(ours, a), first)
    assert np.array_equal(tflm_run(ref, a).reshape(-1), first)


def test_a_16x8_lstm_with_int32_biases_is_refused_in_one_line():
    """TFLM runs such a model without an error but gives one output for every input
    (docs/runtime-kernels.md): edgeloop names the bias and the type it takes."""
    from edgeloop.convert.int8 import convert_tflite_bytes
    from edgeloop.errors import ConversionError

    tflite, _x = _keras(9, 5, 7, 1, True)
    with pytest.raises(ConversionError) as e:
        convert_tflite_bytes(lstm_models.to_16x8(tflite, bias64=False), "lstm16.tflite")
    msg = str(e.value)
    assert "UNIDIRECTIONAL_SEQUENCE_LSTM" in msg and "is int32" in msg and "int64 bias" in msg, msg
    assert "\n" not in msg


def test_the_16x8_params_keep_lstms_table_index():
    """kernels/lstm_16x8.py calls kernels/lstm.py's sigmoid and tanh, which read the table at
    lstm's SIGMOID: both layouts must put it there."""
    from edgeloop_fw.runtime import opspec

    assert opspec.names("lstm_16x8")["SIGMOID"] == opspec.names("lstm")["SIGMOID"]


def test_any_one_field_of_a_16x8_lstm_changed_is_refused_or_runs():
    """validate._lstm_16x8 against crafted params: the board's check refuses in one line or the
    model runs (an IndexError, a ZeroDivisionError or a hang would be the bug)."""
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st

    from tests.tools import model_mutations as M

    tflite, _x = _keras(6, 11, 4, 4, False)
    t, _ours, _ref = _both(lstm_models.to_16x8(tflite))
    blob = t.data
    assert M.outcome(blob)[0] == "ran"
    fields = M.fields(blob)

    @settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(data=st.data())
    def mutated(data):
        field = data.draw(st.sampled_from(fields))
        old = M.value_of(blob, field)
        value = data.draw(st.one_of(st.sampled_from(M.INTERESTING), st.integers(-2 ** 31, 2 ** 32 - 1),
                                    st.integers(-3, 3).map(lambda d: old + d), st.just(old * 2)))
        verdict, detail = M.outcome(M.mutate(blob, field, value))
        assert verdict in ("refused", "ran")
        if verdict == "refused":
            assert "\n" not in detail

    mutated()
