"""micro_speech (RESHAPE, DEPTHWISE_CONV_2D, FULLY_CONNECTED, SOFTMAX) vs TFLM, byte for byte.

Inputs are the real front-end features of the four 1 s recordings, computed
here by TFLM's audio preprocessor model.
"""

import numpy as np
import pytest

from edgeloop.convert.int8 import convert_tflite

from tests.tools.runtime_helpers import CLIPS, SPEECH, edgeloop_interpreter, edgeloop_run, need, speech_features, tflm, tflm_run

LABELS = ("silence", "unknown", "yes", "no")


@pytest.fixture(scope="module")
def converted():
    return convert_tflite(need(SPEECH))


@pytest.mark.parametrize("clip", CLIPS)
def test_micro_speech_recording_matches_tflm(converted, clip):
    x = speech_features(clip)
    ref = tflm(SPEECH)
    want = tflm_run(ref, x)
    got = edgeloop_run(edgeloop_interpreter(converted.data), x)
    assert got.tobytes() == want.tobytes(), f"edgeloop {got} vs tflm {want}"
    expected = {"yes": "yes", "no": "no", "silence": "silence", "noise": "silence"}[clip]
    assert LABELS[int(np.argmax(got))] == expected


def test_micro_speech_random_features_match_tflm(converted):
    """Random features exercise softmax rows that real speech does not (seeded)."""
    rng = np.random.default_rng(1234)
    ours, ref = edgeloop_interpreter(converted.data), tflm(SPEECH)
    for _ in range(5):
        x = rng.integers(-128, 128, (1, 1960)).astype(np.int8)
        assert edgeloop_run(ours, x).tobytes() == tflm_run(ref, x).tobytes()


def test_micro_speech_arena_is_within_tflm_arena(converted):
    assert [o.name for o in converted.ops] == ["RESHAPE", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED", "SOFTMAX"]
    # input (1960) and the depthwise output (4000) are alive together; TFLM needs 7,584
    assert 1960 + 4000 <= converted.arena_size <= 7584


def test_micro_speech_accumulators_stay_small_ints_on_a_32_bit_board(converted):
    """The zero-allocation guarantee needs |accumulator| < 2**30; the converter's bound says so,
    and the bound really bounds the accumulators of the real recordings."""
    assert not converted.allocating_ops
    bounds = {o.name: o.acc_bound for o in converted.ops}
    assert 0 < bounds["DEPTHWISE_CONV_2D"] < 2**30 and 0 < bounds["FULLY_CONNECTED"] < 2**30


def test_accumulator_bound_is_an_upper_bound():
    from itertools import product

    from edgeloop.convert.ops.common import acc_bound
    w = np.array([[1, -2, 3], [-127, 127, 0]])
    bias = np.array([5, -9])
    for off in (0, 3, -128, 127):
        worst = max(abs(int(bias[c]) + sum(int(w[c, k]) * (x[k] + off) for k in range(3)))
                    for c in range(2) for x in product((-128, 127), repeat=3))
        assert worst <= acc_bound(bias, w, off) <= worst + 3 * 255 * 127  # a bound, and not a silly one
