"""hello_world_int8 (three FULLY_CONNECTED) under edgeloop's runtime vs TFLM, byte for byte."""

import numpy as np

from edgeloop.convert.int8 import convert_tflite

from tests.tools.runtime_helpers import HELLO, edgeloop_interpreter, edgeloop_run, need, tflm, tflm_run


def test_hello_world_every_int8_input_matches_tflm():
    converted = convert_tflite(need(HELLO))
    ours = edgeloop_interpreter(converted.data)
    ref = tflm(HELLO)
    xs = np.arange(-128, 128, dtype=np.int8)
    got = np.array([edgeloop_run(ours, np.array([[v]], np.int8)).item() for v in xs], np.int8)
    want = np.array([tflm_run(ref, np.array([[v]], np.int8)).item() for v in xs], np.int8)
    mismatches = [(int(x), int(g), int(w)) for x, g, w in zip(xs, got, want) if g != w]
    assert not mismatches, f"(input, edgeloop, tflm): {mismatches[:10]}"
    assert len(set(want.tolist())) > 50  # the sine really varies: the test can fail


def test_hello_world_plan_is_smaller_than_tflm_arena():
    converted = convert_tflite(need(HELLO))
    assert [o.name for o in converted.ops] == ["FULLY_CONNECTED"] * 3
    assert converted.macs == 16 + 256 + 16
    assert 0 < converted.arena_size <= 1936  # TFLM's arena for the same model


def test_hello_world_accumulators_stay_small_ints():
    converted = convert_tflite(need(HELLO))
    assert not converted.allocating_ops
    assert all(0 < o.acc_bound < 2**30 for o in converted.ops)
