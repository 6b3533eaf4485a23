"""A hand-built 16x8 LSTM (tests/tools/lstm_models.to_16x8) on the virtual board and the unix
ports, every inference under heap_lock, against TFLM: the board's own small ints give TFLM's
int64 gate sums and int16 values, and an inference allocates nothing."""

import numpy as np
import pytest

from tests.firmware.board.test_runtime_board import board, locked_outputs  # noqa: F401  (the fixture)
from tests.tools import lstm_models
from tests.tools.runtime_helpers import tflm_run

pytestmark = [pytest.mark.sim, pytest.mark.tf]


def test_a_16x8_lstm_on_the_board_matches_tflm_allocation_free(board):  # noqa: F811
    runtime = pytest.importorskip("tflite_micro.python.tflite_micro.runtime")
    from edgeloop.convert.int8 import convert_tflite_bytes

    tflite, x = lstm_models.convert(9, 5, 7, 1, True)
    wide = lstm_models.to_16x8(tflite)
    converted = convert_tflite_bytes(wide, "lstm16")
    assert [o.name for o in converted.ops] == ["UNIDIRECTIONAL_SEQUENCE_LSTM"]
    ref = runtime.Interpreter.from_bytes(wide)
    scale = float(ref.get_input_details(0)["quantization_parameters"]["scales"][0])
    rng = np.random.default_rng(16)
    xs = [np.clip(np.floor(x[:1] / scale + 0.5), -32768, 32767).astype(np.int16),  # calibrated
          rng.integers(-32768, 32768, (1, 9, 5)).astype(np.int16),  # full range
          np.full((1, 9, 5), -32768, np.int16)]
    want = [tflm_run(ref, v).astype("<i2").tobytes().hex() for v in xs]
    assert len(set(want)) == len(want), "the inputs give equal outputs: the comparison proves little"
    dev = board({"l16.elm": converted.data, **{f"x{i}.bin": v.astype("<i2").tobytes() for i, v in enumerate(xs)}})
    assert locked_outputs(dev, "l16.elm", len(xs)) == want
