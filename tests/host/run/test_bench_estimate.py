"""`edgeloop bench`'s estimate for a board's chip: counted figures applied to the model's layers.

The figures (boards/speed/) come from QEMU counts (benchmarks/bench_mlperf.py --fit prints
how close they land on each MLPerf Tiny model). Here: the layers the estimate adds up are
the model's own, read by TensorFlow (op names, output shapes, MACs worked out from its
tensor shapes), not the converter's summaries; every board that names a core has its
figures; a board without any, and a broken figures file, are one line.
"""

from __future__ import annotations

import math

import pytest
from click.testing import CliRunner

from edgeloop.boards import profiles
from edgeloop.boards.speed import load_core
from edgeloop.cli import cli
from edgeloop.errors import BoardProfileError
from edgeloop.run import bench as B
from edgeloop.run import predict as P
from tests.tools.paths import REPO


def tf_rows(tflite: bytes):
    """(op, output elements, MACs) per op from TensorFlow's interpreter."""
    tf = pytest.importorskip("tensorflow")
    from tests.firmware.board.test_bench_board import tf_layers

    it = tf.lite.Interpreter(model_content=tflite)
    shapes = {t["index"]: list(t["shape"]) for t in it.get_tensor_details()}
    outs = [math.prod(shapes[op["outputs"][0]]) for op in it._get_ops_details()]
    return [(op, n, macs) for (op, macs), n in zip(tf_layers(tflite), outs)]


@pytest.mark.parametrize("board", ["rp2040", "nicla_vision"])
@pytest.mark.parametrize("name", ["gesture", "keyword"])
def test_the_estimate_adds_up_the_models_own_layers(board, name):
    target = P.open_target(REPO / "models" / name)
    est, profile = B.estimate_for(target, board)
    speed = load_core(profile.speed_core)
    rows = tf_rows((REPO / "models" / name / target.info.model["reference"]).read_bytes())
    assert len(est.layers) == len(rows)
    for got, (op, elements, macs) in zip(est.layers, rows):
        if op in ("CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED"):  # the rest: per element, MACs or not
            want = speed.per_call + macs * speed.per_mac[op]
        else:
            want = speed.per_call + elements * speed.per_element.get(op, speed.per_element["default"])
        assert got == pytest.approx(want), (op, got, want)
    # µs at the profile's clock through its cycles per instruction
    assert est.us(est.instructions) == pytest.approx(
        est.instructions * speed.cycles_per_instruction / profile.clock_mhz)


def test_every_board_naming_a_core_has_its_figures():
    named = [p for p in profiles.load_all() if p.speed_core]
    assert {p.name for p in named} >= {"rp2040", "nicla_vision"}
    for p in named:
        s = load_core(p.speed_core)
        assert s.per_mac and "default" in s.per_element and s.cycles_per_instruction > 0


def test_estimate_cli_needs_no_board_and_refuses_in_one_line():
    r = CliRunner().invoke(cli, ["bench", "--model", str(REPO / "models" / "keyword"), "--board", "nicla_vision",
                                 "--estimate"])
    assert r.exit_code == 0, r.output
    lines = r.output.splitlines()
    assert "344,006 MACs" in lines[0] and "nicla_vision" in lines[0] and "400 MHz" in lines[0]
    assert lines[-1].startswith("estimate: ") and "inferences/s at 400 MHz" in lines[-1]
    r = CliRunner().invoke(cli, ["bench", "--model", str(REPO / "models" / "keyword"), "--board", "esp32s3",
                                 "--estimate"])
    assert r.exit_code != 0 and "Traceback" not in r.output
    assert len(r.output.strip().splitlines()) == 1 and "not been counted on that core" in r.output


def test_a_broken_figures_file_names_its_field(tmp_path):
    (tmp_path / "speed").mkdir()
    good = (REPO / "boards" / "speed" / "cortex-m0.toml").read_text()
    (tmp_path / "speed" / "cortex-m0.toml").write_text(good.replace("\nper_call = ", "\nper_call = -", 1))
    with pytest.raises(BoardProfileError, match="per_call"):
        load_core("cortex-m0", tmp_path)
    with pytest.raises(BoardProfileError, match="no counted figures for core 'cortex-m9'"):
        load_core("cortex-m9", tmp_path)
