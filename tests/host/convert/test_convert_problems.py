"""`convert` checks the whole model before refusing: every unsupported op, dtype and parameter,
each with its layer, in one message (one line from the CLI), and nothing written."""

import numpy as np
import pytest
from click.testing import CliRunner

from edgeloop.cli import cli
from edgeloop.convert.int8 import convert_tflite_bytes
from edgeloop.errors import ConversionError

from tests.tools import op_models as M
from tests.tools.op_models import Op, T


def many_problems() -> bytes:
    """x -> SQUARED_DIFFERENCE -> FC with a zero-point filter -> EXP, a HARD_SWISH in 16x8 mode (no such
    kernel, in TFLM either), an int32 output, plus a supported RELU that must not be named."""
    s = M.schema()
    B = s.BuiltinOperator
    q = dict(scale=0.05, zero_point=1)
    tensors = [
        T("x", (1, 8), **q), T("sq", (1, 8), **q),
        T("fc_w", (4, 8), scale=0.01, zero_point=3, data=np.ones((4, 8), np.int8)),
        T("fc_b", (4,), dtype="int32", scale=0.0005, data=np.zeros(4, np.int32)),
        T("fc", (1, 4), **q), T("relu", (1, 4), **q), T("e", (1, 4), **q), T("e2", (1, 4), **q),
        T("h", (1, 4), dtype="int16", scale=0.001, zero_point=0),
        T("th", (1, 4), dtype="int16", scale=1 / 32768, zero_point=0),
        T("out", (1, 4), dtype="int32", scale=0.001, zero_point=0),
    ]
    ops = [
        Op(B.SQUARED_DIFFERENCE, ["x", "x"], ["sq"]),
        Op(B.FULLY_CONNECTED, ["sq", "fc_w", "fc_b"], ["fc"], M.options("FullyConnectedOptions"),
           "FullyConnectedOptions"),
        Op(B.RELU, ["fc"], ["relu"]),
        Op(B.EXP, ["relu"], ["e"]),
        Op(B.EXP, ["relu"], ["e2"]),
        Op(B.HARD_SWISH, ["h"], ["th"]),
    ]
    return M.build(tensors, ops, ["x"], ["out"])


def test_every_problem_is_named_with_its_layer():
    with pytest.raises(ConversionError) as e:
        convert_tflite_bytes(many_problems(), "many.tflite")
    msg = str(e.value)
    assert "many.tflite has 5 problems" in msg, msg
    assert "op SQUARED_DIFFERENCE (layer 'sq') is not supported" in msg
    assert "op EXP (layers 'e', 'e2') is not supported" in msg  # one op, all its layers
    assert "FULLY_CONNECTED (layer 'fc')" in msg and "non-zero zero point" in msg
    assert "op HARD_SWISH (layer 'th') has int16 activations (16x8 mode)" in msg
    assert "model input/output 'out' is int32" in msg
    assert "'relu'" not in msg  # a supported op's layer is not a problem
    assert "\n" not in msg


def test_cli_lists_every_problem_in_one_line_and_writes_nothing(tmp_path):
    src = tmp_path / "many.tflite"
    src.write_bytes(many_problems())
    out = tmp_path / "many.elm"
    r = CliRunner().invoke(cli, ["convert", str(src), "-o", str(out)])
    assert r.exit_code != 0 and "Traceback" not in r.output
    lines = [ln for ln in r.output.splitlines() if ln.strip()]
    assert len(lines) == 1, r.output
    assert "(5)" in lines[0] and "SQUARED_DIFFERENCE" in lines[0] and "EXP" in lines[0]
    assert not out.exists() and sorted(p.name for p in tmp_path.iterdir()) == ["many.tflite"]


def test_one_problem_keeps_its_own_message():
    """A model with one refusal reads as before: the op's own sentence, no numbering."""
    s = M.schema()
    B = s.BuiltinOperator
    tensors = [T("x", (1, 8), scale=0.05, zero_point=1), T("y", (1, 8), scale=0.05, zero_point=1),
               T("z", (1, 8), dtype="int16", scale=0.05), T("o", (1, 8), scale=0.05)]
    ops = [Op(B.ADD, ["x", "z"], ["y"], M.options("AddOptions"), "AddOptions"), Op(B.RELU, ["y"], ["o"])]
    with pytest.raises(ConversionError) as e:
        convert_tflite_bytes(M.build(tensors, ops, ["x"], ["o"]))
    assert str(e.value).startswith("ADD (layer 'y'): second input 'z' is int16")
