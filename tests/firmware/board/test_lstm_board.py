"""The random LSTMs of tests/tools/lstm_models.py on the virtual board and the unix ports,
byte for byte against TFLM (reset before each reference run, as edgeloop starts every
inference from the reset state)."""

import pytest

from tests.tools import lstm_models
from tests.tools.board_models import assert_board_matches_tflm

pytestmark = [pytest.mark.sim, pytest.mark.tf]


@pytest.fixture(scope="module")
def cases():
    from edgeloop.convert.int8 import convert_tflite_bytes

    out = {}
    for shape in lstm_models.SHAPES:
        tflite, _ref, xs = lstm_models.reference(*shape)
        steps, feats, units = shape[:3]
        out[f"lstm_{steps}x{feats}_{units}"] = (tflite, convert_tflite_bytes(tflite, "lstm").data, xs[2:6])
    return out


def test_random_lstms_on_the_board_match_tflm(cases, any_board):
    assert_board_matches_tflm(any_board, cases)
