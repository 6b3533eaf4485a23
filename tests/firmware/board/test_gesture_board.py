"""The shipped gesture models on the rp2040 virtual board (real MicroPython, heap capped), against the host.

- The shared feature code (edgeloop_fw.features) gives the board the same
  bytes as the host on every window of every real take.
- The held-out takes replayed through the simulated IMU (replay sensor) and
  the board's app: the int8 input the app computes equals the host's byte for
  byte, every on-board prediction equals TFLM's on the host, and the accuracy
  per class equals the model card's.
- The tree model under the board's evaluator equals the host's evaluator.

The firmware is deployed as `edgeloop deploy` lays it out (tests/firmware/
fw_board.py), models and windows go through the same deploy library, and
every script runs over the pty in parts: this board collects garbage only
between raw-REPL executions, so a loop that prints runs a bounded number of
windows per execution.
"""

from __future__ import annotations

import binascii
import re
from array import array
from pathlib import Path

import numpy as np
import pytest

from edgeloop import modelinfo
from edgeloop.sim import replay
from edgeloop_fw import features as F
from edgeloop_fw import protocol as P
from edgeloop_fw import trees as board_trees
from tests.tools.paths import REPO

PARQUET = REPO / ".." / "shared" / "data" / "gestures" / "cgestures.parquet"
CNN = REPO / "models" / "gesture"
TREES = REPO / "models" / "gesture_trees"
pytestmark = [
    pytest.mark.sim,
    pytest.mark.skipif(not PARQUET.exists(), reason=f"shared test data not found at {PARQUET}"),
]


def takes_mg() -> dict[str, np.ndarray]:
    import pyarrow.parquet as pq

    files = sorted(set(pq.read_table(PARQUET, columns=["file"])["file"].to_pylist()))
    return {f: replay.load(PARQUET, take=f).data for f in files}


def windows(mg: np.ndarray, window: int, hop: int) -> np.ndarray:
    return np.array([mg[s:s + window] for s in range(0, len(mg) - window + 1, hop)])


def lines(out: str, tag: str) -> list[str]:
    return [ln.split(" ", 1)[1] for ln in out.splitlines() if ln.startswith(tag + " ")]


CHUNK = 25  # windows per execution


def test_features_on_the_board_equal_the_host_byte_for_byte(any_board):
    fw_board = any_board
    info = modelinfo.load(CNN)
    inp = info.model["input"]
    ws = np.concatenate([windows(mg, 50, 25) for mg in takes_mg().values()]).astype("<i2")
    code = ["from edgeloop_fw import features as F", "from edgeloop_fw.runtime.loader import Model", """
import binascii
from array import array
m = Model(open('/gesture.elm', 'rb'))
mul = F.input_multiplier(m.inputs[0].scale)
print('MUL', mul, m.inputs[0].zero_point)
w = array('h', bytes(2 * 150))
q = bytearray(150)
feats = array('h', bytes(2 * F.n_window_features(3)))
f = open('/windows.bin', 'rb')
def chunk(n):
    for _ in range(n):
        if f.readinto(w) != 300:
            return
        F.quantize_window(w, q, mul, m.inputs[0].zero_point)
        F.window_features(w, 3, feats)
        print('Q', binascii.hexlify(q).decode())
        print('T', binascii.hexlify(feats).decode())
"""] + [f"chunk({CHUNK})"] * (len(ws) // CHUNK + 1)
    fw_board.put({"/gesture.elm": (CNN / "gesture.elm").read_bytes(), "/windows.bin": ws.tobytes()})
    out = fw_board.run(code)
    assert lines(out, "MUL") == [f"{inp['multiplier']} {inp['zero_point']}"]
    board_q, board_t = lines(out, "Q"), lines(out, "T")
    assert len(board_q) == len(board_t) == len(ws) == 19 * 15
    for w, bq, bt in zip(ws, board_q, board_t):
        q = F.quantize_window(array("h", w.tobytes()), bytearray(150), inp["multiplier"], inp["zero_point"])
        t = F.window_features(array("h", w.tobytes()), 3, array("h", bytes(2 * F.n_window_features(3))))
        assert binascii.unhexlify(bq) == bytes(q)
        assert binascii.unhexlify(bt) == t.tobytes()  # both little-endian int16


SINK = """
import binascii
from edgeloop_fw import protocol as P
from edgeloop_fw.app import App
from edgeloop_fw.serial_link import Output
class Sink:
    def __init__(self):
        self.parts = []
    def write(self, buf, off=0, n=None):
        n = len(buf) - off if n is None else n
        self.parts.append(bytes(buf[off:off + n]))
        return n
def step(n):
    for _ in range(n):
        app.step_block()
"""


def decode(wire: bytes) -> list[tuple[int, dict]]:
    frames = []
    for chunk in wire.split(b"\0"):
        if chunk:
            kind, _seq, _t, payload = P.frame_decode(chunk)
            frames.append((kind, P.decode_payload(kind, payload)))
    return frames


@pytest.mark.slow
def test_held_out_takes_replayed_through_the_app_on_the_rp2040_virtual_board(any_board):
    fw_board = any_board
    """Replay sensor -> Windower -> features -> runtime -> frames, on the board; TFLM on the host."""
    from tflite_micro.python.tflite_micro import runtime

    info = modelinfo.load(CNN)
    inp = info.model["input"]
    window, hop, classes = info.window, info.hop, info.classes
    held = [n.split(":", 1)[1] for n in info.split["test"]]
    takes = takes_mg()
    files = {"/gesture.elm": (CNN / "gesture.elm").read_bytes()}
    for i, name in enumerate(held):
        files[f"/take{i}.bin"] = replay.load(PARQUET, take=name).to_bytes()
    fw_board.put(files)
    wires = []
    with fw_board.session() as dev:
        for module in ("protocol", "features", "runtime.loader", "runtime.interpreter", "app"):
            dev.exec(f"import edgeloop_fw.{module}", timeout=120)  # one import per execution (GC between)
        dev.exec(SINK, timeout=60)
        for i, name in enumerate(held):
            cfg = {"sensor": {"kind": "replay", "file": f"/take{i}.bin", "loop": False}, "window": window,
                   "hop": hop, "model": "/gesture.elm", "classes": classes}
            dev.exec(f"cfg = {cfg!r}\nsink = Sink()\n"
                     "app = App(cfg, flags=P.STREAM_INFERENCE | P.STREAM_FEATURES, mode=P.MODE_INFER, "
                     "out=Output(sink))\napp.begin()\n", timeout=60)
            left = len(takes[name])
            while left:  # a few windows per execution: this board collects garbage between them
                n = min(hop, left)
                dev.exec(f"step({n})", timeout=300)
                left -= n
            wires.append(binascii.unhexlify(dev.exec("print(binascii.hexlify(b''.join(sink.parts)).decode())",
                                                     timeout=60).strip()))
    ref = runtime.Interpreter.from_bytes((CNN / "gesture.tflite").read_bytes())
    board_top, host_top, labels, latency = [], [], [], []
    for name, wire in zip(held, wires):
        got = decode(wire)
        feats = [f for k, f in got if k == P.MSG_FEATURES]
        infs = [f for k, f in got if k == P.MSG_INFERENCE]
        ws = windows(takes[name], window, hop)
        assert len(feats) == len(infs) == len(ws), name
        for w, fe, inf in zip(ws, feats, infs):
            q = F.quantize_window(array("h", w.astype("<i2").tobytes()), bytearray(w.size),
                                  inp["multiplier"], inp["zero_point"])
            assert bytes(v & 0xFF for v in fe["data"]) == bytes(q)  # the app's input bytes are the host's
            ref.set_input(np.frombuffer(bytes(q), np.int8).reshape(1, window, -1), 0)
            ref.invoke()
            host_top.append(int(np.asarray(ref.get_output(0)).reshape(-1).argmax()))
            board_top.append(inf["top"])
            latency.append(inf["latency_us"])
            labels.append(classes.index(re.sub(r".*_(\w+)\.npy$", r"\1", name)))
    assert board_top == host_top  # every window
    ev = info.evaluation
    assert labels == ev["labels"] and board_top == ev["predictions"]["board"]
    y, p = np.array(labels), np.array(board_top)
    for i, c in enumerate(classes):
        assert abs(ev["per_class"]["board"][c] - (p[y == i] == i).mean()) < 1e-12
    assert abs(ev["overall"]["board"] - (p == y).mean()) < 1e-12
    print(f"rp2040 virtual board: {len(p)} windows, accuracy {(p == y).mean():.1%}, "
          f"mean latency {np.mean(latency) / 1000:.1f} ms (features + inference)")


def test_tree_model_on_the_board_equals_the_host_evaluator(any_board):
    fw_board = any_board
    info = modelinfo.load(TREES)
    csv = (TREES / "gesture_trees.csv").read_bytes()
    takes = takes_mg()
    held = [n.split(":", 1)[1] for n in info.split["test"]]
    ws = np.concatenate([windows(takes[n], info.window, info.hop) for n in held]).astype("<i2")
    code = ["from edgeloop_fw import features as F", "from edgeloop_fw import trees", """
from array import array
model = trees.load('/gesture_trees.csv')
w = array('h', bytes(300))
feats = array('h', bytes(2 * F.n_window_features(3)))
f = open('/windows.bin', 'rb')
def chunk(n):
    for _ in range(n):
        if f.readinto(w) != 300:
            return
        print('P', model.predict(F.window_features(w, 3, feats)))
"""] + [f"chunk({CHUNK})"] * (len(ws) // CHUNK + 1)
    fw_board.put({"/gesture_trees.csv": csv, "/windows.bin": ws.tobytes()})
    out = fw_board.run(code)
    board = [int(v) for v in lines(out, "P")]
    host_model = board_trees.parse(csv.decode().splitlines())
    host = [host_model.predict(F.window_features(array("h", w.tobytes()), 3,
                                                 array("h", bytes(2 * F.n_window_features(3))))) for w in ws]
    assert board == host == info.evaluation["predictions"]["board"]
