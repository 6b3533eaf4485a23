"""`edgeloop bench` on the rp2040 virtual board: the run it times is the real model, and the layer
table is the model's own, checked against references that are not edgeloop's code.

- The output bytes of the timed run equal TFLM's on the same input (a figure is never of a model
  that went wrong).
- The ops and their MACs match TensorFlow's own reading of the .tflite (op names and tensor shapes
  from tf.lite.Interpreter, MACs worked out here from them), not the converter's summaries.
- The CLI prints the table and refuses what it cannot time in one line.
"""

from __future__ import annotations

import numpy as np
import pytest
from click.testing import CliRunner

from edgeloop.cli import cli
from edgeloop.run import bench as B
from edgeloop.run import predict as P
from tests.tools.paths import REPO

pytestmark = pytest.mark.sim
MODELS = ["gesture", "keyword"]


def tf_layers(tflite: bytes) -> list[tuple[str, int]]:
    """(op name, MACs) per op, from TensorFlow's interpreter: shapes of each op's tensors."""
    tf = pytest.importorskip("tensorflow")
    it = tf.lite.Interpreter(model_content=tflite)
    shapes = {t["index"]: list(t["shape"]) for t in it.get_tensor_details()}
    rows = []
    for op in it._get_ops_details():
        name, ins, outs = op["op_name"], list(op["inputs"]), list(op["outputs"])
        out = shapes[outs[0]]
        if name == "CONV_2D":  # filter: out_c x kh x kw x in_c; every output element sums kh*kw*in_c
            _, kh, kw, cin = shapes[ins[1]]
            macs = int(np.prod(out)) * kh * kw * cin
        elif name == "DEPTHWISE_CONV_2D":  # filter: 1 x kh x kw x out_c
            _, kh, kw, _ = shapes[ins[1]]
            macs = int(np.prod(out)) * kh * kw
        elif name == "FULLY_CONNECTED":  # weights: units x inputs
            macs = int(np.prod(shapes[ins[1]]))
        elif name in ("MEAN", "AVERAGE_POOL_2D", "MAX_POOL_2D", "SOFTMAX", "ADD"):
            macs = None  # counted differently by different tools: compared only where they agree
        else:
            macs = 0
        rows.append((name, macs))
    return rows


@pytest.mark.parametrize("name", MODELS)
def test_bench_times_the_real_model_and_its_layers(fw_board, name):
    tflm = pytest.importorskip("tflite_micro.python.tflite_micro.runtime")
    target = P.open_target(REPO / "models" / name)
    result = B.run_bench(fw_board.port, target, seconds=0.3)
    tflite = (REPO / "models" / name / target.info.model["reference"]).read_bytes()

    ref = tflm.Interpreter.from_bytes(tflite)
    x = np.frombuffer(result.input, np.int8).reshape(ref.get_input_details(0)["shape"])
    ref.set_input(x, 0)
    ref.invoke()
    assert result.output == np.asarray(ref.get_output(0)).tobytes()

    want = tf_layers(tflite)
    assert [layer.op for layer in result.layers] == [w[0] for w in want]
    for layer, (_op, macs) in zip(result.layers, want):
        if macs is not None:
            assert layer.macs == macs, (layer, macs)
    assert result.runs >= 3 and result.whole_runs >= 3
    assert result.whole_us > 0 and all(layer.us >= 0 for layer in result.layers)
    # The MAC-heavy layers are where the time goes (probe noise aside): the busiest layer has MACs.
    assert max(result.layers, key=lambda layer: layer.us).macs > 0


def test_bench_cli_prints_the_table_and_refuses_in_one_line(fw_board, tmp_path):
    r = CliRunner().invoke(cli, ["bench", "--model", str(REPO / "models" / "gesture"), "--port", fw_board.port,
                                 "--seconds", "0.2"])
    assert r.exit_code == 0, r.output
    lines = r.output.splitlines()
    assert "18,420 MACs" in lines[0] and lines[1].split()[:2] == ["#", "op"]
    assert [ln.split()[1] for ln in lines[2:10]] == target_ops("gesture")
    assert lines[10].startswith("whole model: ")

    r = CliRunner().invoke(cli, ["bench", "--model", str(REPO / "models" / "gesture_trees"), "--port", fw_board.port])
    assert r.exit_code == 1 and "tree ensemble" in r.output and len(r.output.strip().splitlines()) == 1
    r = CliRunner().invoke(cli, ["bench", "--model", str(tmp_path / "nothing")])
    assert r.exit_code == 1 and "no model at" in r.output and "Traceback" not in r.output


def target_ops(name: str) -> list[str]:
    from edgeloop import modelinfo

    return list(modelinfo.load(REPO / "models" / name).model["ops"])
