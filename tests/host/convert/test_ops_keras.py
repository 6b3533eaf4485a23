"""Every op a Keras model becomes after int8 conversion, under edgeloop's runtime
(CPython) vs TensorFlow Lite Micro: identical output bytes, not a tolerance.

The models come from keras_zoo (fixed seeds, odd shapes, strides, SAME/VALID
padding, dilation); each is converted once per session.
"""

from __future__ import annotations

import numpy as np
import pytest

from tests.tools import keras_zoo
from tests.tools.runtime_helpers import edgeloop_interpreter, edgeloop_run, tflm_run

pytestmark = pytest.mark.tf


class Zoo:
    """Converted zoo models, built on first use and kept for the session."""

    def __init__(self, workdir):
        self.workdir = workdir
        self._cache = {}

    def get(self, name):
        if name not in self._cache:
            from edgeloop.convert.int8 import convert_tflite_bytes

            tflite = keras_zoo.to_tflite(name, self.workdir)
            self._cache[name] = (tflite, convert_tflite_bytes(tflite, name))
        return self._cache[name]


@pytest.fixture(scope="session")
def zoo(tmp_path_factory):
    pytest.importorskip("tensorflow", reason="TensorFlow is not installed (pip install 'edgeloop[tf]')")
    return Zoo(tmp_path_factory.mktemp("keras_zoo"))


def tflm_interpreter(tflite: bytes):
    runtime = pytest.importorskip("tflite_micro.python.tflite_micro.runtime",
                                  reason="tflite-micro (the TFLM reference) is not installed")
    return runtime.Interpreter.from_bytes(tflite)


@pytest.mark.parametrize("name", sorted(keras_zoo.ZOO))
def test_zoo_model_matches_tflm_byte_for_byte(zoo, name):
    tflite, converted = zoo.get(name)
    ops = {o.name for o in converted.ops}
    missing = keras_zoo.OPS[name] - ops
    assert not missing, f"the converter no longer emits {missing} for {name}; ops are {sorted(ops)}"
    ours = edgeloop_interpreter(converted.data)
    ref = tflm_interpreter(tflite)
    t = ours.model.inputs[0]
    outputs = set()
    for i, x in enumerate(keras_zoo.int8_inputs(name, t.scale, t.zero_point)):
        want = tflm_run(ref, x)
        got = edgeloop_run(ours, x).reshape(want.shape)
        diff = np.flatnonzero(got != want)
        assert diff.size == 0, (f"{name} input #{i}: {diff.size} bytes differ, first at {diff[:5]}: "
                                f"edgeloop {got.reshape(-1)[diff[:5]]} vs TFLM {want.reshape(-1)[diff[:5]]}")
        outputs.add(want.tobytes())
    assert len(outputs) > 2, f"{name} gives the same output for every input: the comparison proves nothing"


@pytest.mark.parametrize("name", ["sigmoid_only", "tanh_only"])
def test_logistic_and_tanh_agree_with_tflm_on_all_256_codes(zoo, name):
    tflite, converted = zoo.get(name)
    ours = edgeloop_interpreter(converted.data)
    x = np.arange(-128, 128, dtype=np.int8).reshape(1, 256)
    want = tflm_run(tflm_interpreter(tflite), x)
    got = edgeloop_run(ours, x).reshape(want.shape)
    bad = [(int(a), int(g), int(w)) for a, g, w in zip(x[0], got[0], want[0]) if g != w]
    assert not bad, f"(input code, edgeloop, TFLM): {bad[:10]}"
    assert len(set(want[0].tolist())) > 60  # the curve really spans many codes


def test_concatenation_with_unequal_scales_goes_through_quantize(zoo):
    """The converter requantizes the tanh branch (QUANTIZE int8→int8) before
    CONCATENATION; edgeloop runs that QUANTIZE as a table."""
    _, converted = zoo.get("mixed_scales")
    names = [o.name for o in converted.ops]
    assert names.index("QUANTIZE") < names.index("CONCATENATION")


def test_plan_is_not_larger_than_tflm_arena(zoo):
    """The host's memory plan for a multi-branch model (ADD, CONCATENATION)
    needs no more than TFLM's own arena for the same model."""
    from edgeloop.reference.arena import smallest_arena

    tflite, converted = zoo.get("residual")
    tflm = smallest_arena(tflite)
    assert tflm is not None
    assert 0 < converted.arena_size <= tflm
