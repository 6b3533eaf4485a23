"""PyTorch models (tests/tools/torch_zoo.py) on the virtual boards, byte for byte against TFLM.

The int8 flatbuffer is litert-torch's float model calibrated by TFLite's calibrator; the board
runs edgeloop's model file made from it, deployed as any model is.
"""

import numpy as np
import pytest

from tests.tools import torch_zoo
from tests.tools.board_models import assert_board_matches_tflm

pytestmark = [pytest.mark.sim, pytest.mark.tf]


@pytest.fixture(scope="module")
def cases(tmp_path_factory):
    pytest.importorskip("torch", reason="PyTorch is not installed (pip install 'edgeloop[torch]')")
    pytest.importorskip("litert_torch", reason="litert-torch is not installed (pip install 'edgeloop[torch]')")
    from edgeloop.convert.int8 import convert_tflite_bytes
    from edgeloop.convert.source import load_source

    d = tmp_path_factory.mktemp("torch_board")
    rng = np.random.default_rng(5)
    out = {}
    for name in sorted(torch_zoo.ZOO):
        source = load_source(*torch_zoo.save(name, d))
        shape = (1,) + torch_zoo.SHAPES[name]
        xs = [rng.integers(-128, 128, size=shape, dtype=np.int8) for _ in range(2)]
        out[f"torch_{name}"] = (source.tflite, convert_tflite_bytes(source.tflite, name).data, xs)
    return out


def test_pytorch_models_on_the_board_match_tflm(cases, any_board):
    assert_board_matches_tflm(any_board, cases)
