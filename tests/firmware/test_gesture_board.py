"""The shipped gesture models on real MicroPython (the WebAssembly build), against the host.

- The shared feature code (edgeloop_fw.features) gives the board the same
  bytes as the host on every window of every real take.
- The held-out takes replayed through the simulated IMU (replay sensor) and
  the board's app: the int8 input the app computes equals the host's byte for
  byte, every on-board prediction equals TFLM's on the host, and the accuracy
  per class equals the model card's.
- The tree model under the board's evaluator equals the host's evaluator.

Runs through tests/firmware/wasm_board.py (files straight into the board's
RAM filesystem, one script, stdout captured).
"""

from __future__ import annotations

import binascii
import json
import re
from array import array
from pathlib import Path

import numpy as np
import pytest

import wasm_board
from edgeloop import replay
from edgeloop_fw import features as F
from edgeloop_fw import protocol as P
from edgeloop_fw import trees as board_trees

REPO = Path(__file__).resolve().parents[2]
PARQUET = REPO / ".." / "shared" / "data" / "gestures" / "cgestures.parquet"
CNN = REPO / "models" / "gesture"
TREES = REPO / "models" / "gesture_trees"
pytestmark = [
    pytest.mark.sim,
    pytest.mark.skipif(wasm_board.available() is not None, reason=str(wasm_board.available())),
    pytest.mark.skipif(not PARQUET.exists(), reason=f"shared test data not found at {PARQUET}"),
]


def firmware_files() -> dict[str, bytes]:
    """The firmware package as deployed, minus the audio front end and the optional kernel levels."""
    fw = REPO / "firmware" / "edgeloop_fw"
    out = {}
    for p in sorted(fw.rglob("*.py")):
        rel = p.relative_to(fw)
        if rel.parts[0] == "audio" or rel.parts[:2] in (("runtime", "viper"), ("runtime", "native")):
            continue
        out[f"/lib/edgeloop_fw/{rel.as_posix()}"] = p.read_bytes()
    return out


def takes_mg() -> dict[str, np.ndarray]:
    import pyarrow.parquet as pq

    files = sorted(set(pq.read_table(PARQUET, columns=["file"])["file"].to_pylist()))
    return {f: replay.load(PARQUET, take=f).data for f in files}


def windows(mg: np.ndarray, window: int, hop: int) -> np.ndarray:
    return np.array([mg[s:s + window] for s in range(0, len(mg) - window + 1, hop)])


def lines(out: str, tag: str) -> list[str]:
    return [ln.split(" ", 1)[1] for ln in out.splitlines() if ln.startswith(tag + " ")]


def test_features_on_the_board_equal_the_host_byte_for_byte():
    info = json.loads((CNN / "model.json").read_text())
    inp = info["model"]["input"]
    ws = np.concatenate([windows(mg, 50, 25) for mg in takes_mg().values()]).astype("<i2")
    code = f"""
import sys, binascii
sys.path.insert(0, '/lib')
from array import array
from edgeloop_fw import features as F
from edgeloop_fw.runtime.loader import Model
m = Model(open('/gesture.elm', 'rb'))
mul = F.input_multiplier(m.inputs[0].scale)
print('MUL', mul, m.inputs[0].zero_point)
w = array('h', bytes(2 * 150))
q = bytearray(150)
feats = array('h', bytes(2 * F.n_window_features(3)))
with open('/windows.bin', 'rb') as f:
    while f.readinto(w) == 300:
        F.quantize_window(w, q, mul, m.inputs[0].zero_point)
        F.window_features(w, 3, feats)
        print('Q', binascii.hexlify(q).decode())
        print('T', binascii.hexlify(feats).decode())
"""
    files = firmware_files()
    files["/gesture.elm"] = (CNN / "gesture.elm").read_bytes()
    files["/windows.bin"] = ws.tobytes()
    out = wasm_board.run(code, files)
    assert lines(out, "MUL") == [f"{inp['multiplier']} {inp['zero_point']}"]
    board_q, board_t = lines(out, "Q"), lines(out, "T")
    assert len(board_q) == len(board_t) == len(ws) == 19 * 15
    for w, bq, bt in zip(ws, board_q, board_t):
        q = F.quantize_window(array("h", w.tobytes()), bytearray(150), inp["multiplier"], inp["zero_point"])
        t = F.window_features(array("h", w.tobytes()), 3, array("h", bytes(2 * F.n_window_features(3))))
        assert binascii.unhexlify(bq) == bytes(q)
        assert binascii.unhexlify(bt) == t.tobytes()  # both little-endian int16


FIND_ROOT = ("import os, sys\nROOT = ''\nfor r in ('', '/flash', '/home'):\n    try:\n"
             "        os.stat(r + '/gesture.elm')\n        ROOT = r\n        break\n    except OSError:\n"
             "        pass\nsys.path.append(ROOT + '/lib')\n")
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
def test_held_out_takes_replayed_through_the_app_on_the_rp2040_virtual_board(virtual_board):
    """Replay sensor -> Windower -> features -> runtime -> frames, on the board; TFLM on the host."""
    from tflite_micro.python.tflite_micro import runtime

    from edgeloop.device import Device

    info = json.loads((CNN / "model.json").read_text())
    inp = info["model"]["input"]
    window, hop, classes = info["window"], info["hop"], info["classes"]
    held = [n.split(":", 1)[1] for n in info["split"]["test"]]
    takes = takes_mg()
    flash = Path(virtual_board.flash_dir)
    files = {k.lstrip("/"): v for k, v in firmware_files().items()}
    files["gesture.elm"] = (CNN / "gesture.elm").read_bytes()
    for i, name in enumerate(held):
        files[f"take{i}.bin"] = replay.load(PARQUET, take=name).to_bytes()
    for name, data in files.items():
        (flash / name).parent.mkdir(parents=True, exist_ok=True)
        (flash / name).write_bytes(data)
    virtual_board.restart()
    wires = []
    with Device(virtual_board.port) as dev:
        dev.exec(FIND_ROOT, timeout=60)
        for module in ("protocol", "features", "runtime.loader", "runtime.interpreter", "app"):
            dev.exec(f"import edgeloop_fw.{module}", timeout=120)  # one import per execution (GC between)
        dev.exec(SINK, timeout=60)
        for i, name in enumerate(held):
            cfg = {"sensor": {"kind": "replay", "file": f"/take{i}.bin", "loop": False}, "window": window,
                   "hop": hop, "model": "/gesture.elm", "classes": classes}
            dev.exec(f"cfg = {cfg!r}\ncfg['model'] = ROOT + cfg['model']\n"
                     "cfg['sensor']['file'] = ROOT + cfg['sensor']['file']\nsink = Sink()\n"
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
    ev = info["evaluation"]
    assert labels == ev["labels"] and board_top == ev["predictions"]["board"]
    y, p = np.array(labels), np.array(board_top)
    for i, c in enumerate(classes):
        assert abs(ev["per_class"]["board"][c] - (p[y == i] == i).mean()) < 1e-12
    assert abs(ev["overall"]["board"] - (p == y).mean()) < 1e-12
    print(f"rp2040 virtual board: {len(p)} windows, accuracy {(p == y).mean():.1%}, "
          f"mean latency {np.mean(latency) / 1000:.1f} ms (features + inference)")


def test_tree_model_on_the_board_equals_the_host_evaluator():
    info = json.loads((TREES / "model.json").read_text())
    csv = (TREES / "gesture_trees.csv").read_bytes()
    takes = takes_mg()
    held = [n.split(":", 1)[1] for n in info["split"]["test"]]
    ws = np.concatenate([windows(takes[n], info["window"], info["hop"]) for n in held]).astype("<i2")
    code = """
import sys
sys.path.insert(0, '/lib')
from array import array
from edgeloop_fw import features as F
from edgeloop_fw import trees
model = trees.load('/gesture_trees.csv')
w = array('h', bytes(300))
feats = array('h', bytes(2 * F.n_window_features(3)))
with open('/windows.bin', 'rb') as f:
    while f.readinto(w) == 300:
        print('P', model.predict(F.window_features(w, 3, feats)))
"""
    files = firmware_files()
    files["/gesture_trees.csv"] = csv
    files["/windows.bin"] = ws.tobytes()
    out = wasm_board.run(code, files)
    board = [int(v) for v in lines(out, "P")]
    host_model = board_trees.parse(csv.decode().splitlines())
    host = [host_model.predict(F.window_features(array("h", w.tobytes()), 3,
                                                 array("h", bytes(2 * F.n_window_features(3))))) for w in ws]
    assert board == host == info["evaluation"]["predictions"]["board"]
