"""int16 LOGISTIC, TANH and PRELU (TFLM's 16x8 mode) under edgeloop's runtime vs TensorFlow Lite Micro,
on every int16 input code: TFLM interpolates in a stored 256-entry sigmoid table, which edgeloop
computes (convert/ops/lstm.sigmoid_table) and ships in the file. Every input code at several
input scales runs through every interval of the table, so one wrong entry, a wrong rescale
(TFLM's power-of-two shortcut, its doubling loop, its rounding) or a wrong sign fold fails.
"""

from __future__ import annotations

import numpy as np
import pytest

from tests.tools import op_models as M
from tests.tools.op_models import Op, T
from tests.tools.runtime_helpers import edgeloop_interpreter

SEED = 20261207
CODES = np.arange(-32768, 32768).astype(np.int16).reshape(1, -1)
# 2**-12 and (TANH) 2**-11: TFLM's power-of-two case; just off a power of two, still inside
# CheckedLog2's 1e-3 tolerance (the shortcut's 3, not the loop's 24583); 2**-15 and 2**-9: powers
# of two the loop handles; the rest: the loop at shifts from 30 down to 1 and a multiplier of 32766.
SCALES = [2.0 ** -12, 2.0 ** -11, 2.0 ** -12 * 1.0003, 2.0 ** -15, 2.0 ** -9, 1e-3, 3.7e-4, 1e-7, 0.05, 0.9,
          2.6665]


def tflm_out(tflite: bytes, x: np.ndarray) -> np.ndarray:
    runtime = pytest.importorskip("tflite_micro.python.tflite_micro.runtime",
                                  reason="tflite-micro (the TFLM reference) is not installed")
    interp = runtime.Interpreter.from_bytes(tflite, arena_size=1 << 20)
    interp.set_input(x, 0)
    interp.invoke()
    return interp.get_output(0).copy()


def single(opcode_name: str, scale: float, out_scale: float = 1 / 32768) -> bytes:
    op = getattr(M.schema().BuiltinOperator, opcode_name)
    tensors = [T("x", (1, 65536), dtype="int16", scale=scale), T("y", (1, 65536), dtype="int16", scale=out_scale)]
    return M.build(tensors, [Op(op, ["x"], ["y"])], ["x"], ["y"])


@pytest.mark.parametrize("name", ["LOGISTIC", "TANH"])
@pytest.mark.parametrize("scale", SCALES)
def test_int16_logistic_and_tanh_match_tflm_on_every_input_code(name, scale):
    from edgeloop.convert.int8 import convert_tflite_bytes

    tflite = single(name, scale)
    converted = convert_tflite_bytes(tflite, name.lower())
    assert [o.name for o in converted.ops] == [name]
    want = tflm_out(tflite, CODES)
    assert want.dtype == np.int16 and len(np.unique(want)) > 4  # scale 2.67: 5 distinct outputs
    ours = edgeloop_interpreter(converted.data)
    ours.set_input(CODES.tobytes())
    ours.invoke()
    got = np.frombuffer(ours.get_output(), np.int16).reshape(want.shape)
    diff = np.flatnonzero(got != want)
    assert diff.size == 0, f"{diff.size} codes differ, first {CODES[0, diff[:5]]}: {got[0, diff[:5]]} vs {want[0, diff[:5]]}"


def test_the_shipped_table_is_what_tflm_interpolates_in():
    """Each table entry read back from TFLM: at scale 2**-12 LOGISTIC's rescaled input of code c is
    3c, so code 512k / 3 (k a multiple of 3, up to 189 within int16) lands exactly on entry k,
    whose output is (entry + 1) >> 1: every bit but the last (the tests over every code see
    those through the interpolation)."""
    from edgeloop.convert.ops.logistic_16x8 import table

    t = np.frombuffer(table(), "<u2").astype(np.int64)
    assert t[0] == 32768 and t[-1] == 65535 and np.all(np.diff(t) >= 0)
    k = np.arange(0, 190, 3)
    codes = (512 * k // 3).astype(np.int16).reshape(1, -1)
    want = tflm_out(single("LOGISTIC", 2.0 ** -12), np.resize(codes, (1, 65536)))[0, :len(k)]
    assert list(want) == list((t[k] + 1) >> 1)


@pytest.mark.parametrize("problem", ["output scale", "input scale", "zero point"])
def test_int16_logistic_outside_tflm_limits_is_refused_naming_why(problem):
    from edgeloop.convert.int8 import convert_tflite_bytes
    from edgeloop.errors import ConversionError

    if problem == "output scale":
        tflite, match = single("LOGISTIC", 1e-3, out_scale=1 / 16384), r"LOGISTIC output must have scale 2\*\*-15"
    elif problem == "input scale":
        tflite, match = single("TANH", 3.0), r"TANH input scale 3 is above TFLM's limit"
    else:
        tensors = [T("x", (1, 8), dtype="int16", scale=1e-3, zero_point=5),
                   T("y", (1, 8), dtype="int16", scale=1 / 32768)]
        tflite = M.build(tensors, [Op(M.schema().BuiltinOperator.LOGISTIC, ["x"], ["y"])], ["x"], ["y"])
        match = r"zero point 5"
    with pytest.raises(ConversionError, match=match):
        convert_tflite_bytes(tflite, "bad")


@pytest.mark.tf
@pytest.mark.parametrize("act", ["sigmoid", "tanh"])
def test_keras_sigmoid_and_tanh_in_16x8_match_tflm(act):
    """The converter's own 16x8 model: a Dense then the activation, random calibration spread."""
    tf = pytest.importorskip("tensorflow", reason="TensorFlow is not installed (pip install 'edgeloop[tf]')")
    import keras
    from keras import layers as L

    from edgeloop.convert.int8 import convert_tflite_bytes
    from tests.host.convert.test_ops_16x8 import assert_identical
    from tests.tools.models_16x8 import int16_inputs, randomize, to_16x8

    rng = np.random.default_rng([SEED, 14, act == "tanh"])
    keras.utils.set_random_seed(SEED)
    inp = keras.Input((12,), batch_size=1)
    model = keras.Model(inp, L.Activation(act)(L.Dense(40)(inp)))
    randomize(model, rng)
    x = (rng.normal(0, 1, (16, 12)) * 10.0 ** rng.uniform(-1, 1)).astype(np.float32)
    tflite = to_16x8(tf, model, x)
    converted = convert_tflite_bytes(tflite, act)
    assert {"LOGISTIC" if act == "sigmoid" else "TANH"} <= {o.name for o in converted.ops}
    t = edgeloop_interpreter(converted.data).model.inputs[0]
    assert len(assert_identical(tflite, converted.data, int16_inputs((1, 12), t.scale, x, rng))) > 2


@pytest.mark.parametrize("n", range(4))
def test_int16_prelu_with_int8_alpha_matches_tflm_on_every_input_code(n):
    """PRELU of an int16 input and an int8 constant alpha (TFLM's only int16 pairing; the
    converter's 16x8 mode does not emit PRELU, so the model is built by hand): random scales,
    alpha's zero point, alpha per channel (broadcast) or one per value; every int16 code once."""
    from edgeloop.convert.int8 import convert_tflite_bytes

    rng = np.random.default_rng([SEED, 54, n])
    s_in = float(10.0 ** rng.uniform(-4, -1))
    s_alpha = float(10.0 ** rng.uniform(-3, -1))
    s_out = s_in * float(10.0 ** rng.uniform(-0.7, 0.7))
    shape, a_shape = ((1, 256, 256), (256,)) if n % 2 == 0 else ((1, 65536), (1, 65536))
    alpha = rng.integers(-128, 128, size=a_shape).astype(np.int8)
    tensors = [T("x", shape, dtype="int16", scale=s_in),
               T("a", a_shape, dtype="int8", scale=s_alpha, zero_point=int(rng.integers(-20, 21)), data=alpha),
               T("y", shape, dtype="int16", scale=s_out)]
    tflite = M.build(tensors, [Op(M.schema().BuiltinOperator.PRELU, ["x", "a"], ["y"])], ["x"], ["y"])
    converted = convert_tflite_bytes(tflite, "prelu")
    assert [o.name for o in converted.ops] == ["PRELU"]
    codes = rng.permutation(np.arange(-32768, 32768)).astype(np.int16).reshape(shape)
    want = tflm_out(tflite, codes)
    assert len(np.unique(want)) > 1000
    ours = edgeloop_interpreter(converted.data)
    ours.set_input(codes.tobytes())
    ours.invoke()
    got = np.frombuffer(ours.get_output(), np.int16).reshape(want.shape)
    diff = np.flatnonzero(got != want)
    assert diff.size == 0, f"{diff.size} codes differ: {got.ravel()[diff[:5]]} vs {want.ravel()[diff[:5]]}"
