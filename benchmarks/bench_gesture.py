"""Time per gesture window on the virtual board, next to the host and TFLM from the same run.

    .venv/bin/python benchmarks/bench_gesture.py

For the shipped models/gesture (int8 CNN) and models/gesture_trees (emlearn
trees) on real held-out windows of ../shared/data/gestures:
- virtual board (real MicroPython 1.27, WebAssembly build, rp2040 profile:
  heap capped at the Pico's, firmware as `edgeloop deploy` puts it there,
  driven over the pty; portable kernels): ms per window for the input
  quantization, the CNN inference, the tree features and the tree vote;
  heap the loaded CNN retains;
- the same firmware code under CPython on this machine;
- TFLM (C++) running the same int8 .tflite, as the reference figure.
The WebAssembly clock ticks in whole milliseconds, so each figure is a
total over all windows divided by their number. The board runs 25 windows
per raw-REPL execution (it collects garbage only between them); only the
work inside an execution is timed.
"""

from __future__ import annotations

import io
import sys
import time
from array import array
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # the checkout: tests.tools
PARQUET = ROOT / ".." / "shared" / "data" / "gestures" / "cgestures.parquet"
CNN = ROOT / "models" / "gesture"
TREES = ROOT / "models" / "gesture_trees"

CHUNK = 25  # windows per execution
BOARD = [
    "from edgeloop_fw import features as F",
    "from edgeloop_fw import trees",
    "from edgeloop_fw.runtime.loader import Model",
    "from edgeloop_fw.runtime.interpreter import Interpreter",
    "import gc, time\nfrom array import array\ngc.collect()\nbase = gc.mem_alloc()\n"
    "it = Interpreter(Model(open('/gesture.elm', 'rb')))\nt_in = it.model.inputs[0]\n"
    "mul = F.input_multiplier(t_in.scale)",
    """
gc.collect()
loaded = gc.mem_alloc() - base
forest = trees.load('/gesture_trees.csv')
f = open('/windows.bin', 'rb')
w = array('h', bytes(300))
q = bytearray(t_in.nbytes)
feats = array('h', bytes(2 * F.n_window_features(3)))
n = tq = tc = tf = tt = 0
def chunk(count):
    global n, tq, tc, tf, tt
    for _ in range(count):
        if f.readinto(w) != 300:
            return
        t0 = time.ticks_ms()
        F.quantize_window(w, q, mul, t_in.zero_point)
        t1 = time.ticks_ms()
        it.set_input(q)
        it.invoke()
        t2 = time.ticks_ms()
        F.window_features(w, 3, feats)
        t3 = time.ticks_ms()
        forest.predict(feats)
        t4 = time.ticks_ms()
        tq += time.ticks_diff(t1, t0); tc += time.ticks_diff(t2, t1)
        tf += time.ticks_diff(t3, t2); tt += time.ticks_diff(t4, t3)
        n += 1
""",
]
RESULT = "print('RESULT', n, tq, tc, tf, tt, loaded)"


def held_out_windows(info: modelinfo.ModelInfo) -> np.ndarray:
    from edgeloop.sim import replay

    out = []
    for name in info.split["test"]:
        mg = replay.load(PARQUET, take=name.split(":", 1)[1]).data
        out += [mg[s:s + info.window] for s in range(0, len(mg) - info.window + 1, info.hop)]
    return np.array(out).astype("<i2")


def host_times(ws: np.ndarray, info: modelinfo.ModelInfo) -> dict:
    from edgeloop_fw import features as F
    from edgeloop_fw import trees
    from edgeloop_fw.runtime.interpreter import Interpreter
    from edgeloop_fw.runtime.loader import Model
    from tflite_micro.python.tflite_micro import runtime

    it = Interpreter(Model(io.BytesIO((CNN / "gesture.elm").read_bytes())), levels=("kernels",))
    ref = runtime.Interpreter.from_bytes((CNN / "gesture.tflite").read_bytes())
    forest = trees.parse((TREES / "gesture_trees.csv").read_text().splitlines())
    inp = info.model["input"]
    q = bytearray(ws[0].size)
    feats = array("h", bytes(2 * F.n_window_features(3)))
    t = {"quantize": 0.0, "cnn": 0.0, "tflm": 0.0, "features": 0.0, "trees": 0.0}
    for w in ws:
        a = array("h", w.tobytes())
        t0 = time.perf_counter()
        F.quantize_window(a, q, inp["multiplier"], inp["zero_point"])
        t1 = time.perf_counter()
        it.set_input(q)
        it.invoke()
        t2 = time.perf_counter()
        ref.set_input(np.frombuffer(bytes(q), np.int8).reshape(1, *w.shape), 0)
        ref.invoke()
        t3 = time.perf_counter()
        F.window_features(a, 3, feats)
        t4 = time.perf_counter()
        forest.predict(feats)
        t5 = time.perf_counter()
        for k, dt in zip(t, (t1 - t0, t2 - t1, t3 - t2, t4 - t3, t5 - t4)):
            t[k] += dt
    return {k: 1000 * v / len(ws) for k, v in t.items()}


def board(ws: np.ndarray) -> str:
    """The RESULT line from the rp2040 virtual board."""
    from tests.tools.fw_board import FirmwareBoard

    with FirmwareBoard("rp2040") as fb:
        fb.put({"/gesture.elm": (CNN / "gesture.elm").read_bytes(),
                "/gesture_trees.csv": (TREES / "gesture_trees.csv").read_bytes(), "/windows.bin": ws.tobytes()})
        out = fb.run(BOARD + [f"chunk({CHUNK})"] * (len(ws) // CHUNK + 1) + [RESULT])
    return [ln for ln in out.splitlines() if ln.startswith("RESULT")][0]


def main() -> None:
    from tests.tools.fw_board import unavailable

    why = unavailable()
    if why or not PARQUET.exists():
        sys.exit(f"cannot run: {why or f'no data at {PARQUET}'}")
    from edgeloop import modelinfo

    info = modelinfo.load(CNN)
    ws = held_out_windows(info)
    line = board(ws)
    n, tq, tc, tf, tt, loaded = (int(v) for v in line.split()[1:])
    host = host_times(ws, info)
    macs = info.model["macs"]
    print(f"gesture models on {n} held-out windows (window {info.window} x 3, {macs:,} MACs per CNN inference)")
    print(f"{'ms per window':28s} {'virtual board':>14s} {'CPython':>10s} {'TFLM (C++)':>11s}")
    print(f"{'CNN input quantization':28s} {tq / n:14.2f} {host['quantize']:10.3f} {'':>11s}")
    print(f"{'CNN inference':28s} {tc / n:14.2f} {host['cnn']:10.3f} {host['tflm']:11.4f}")
    print(f"{'tree features (17)':28s} {tf / n:14.2f} {host['features']:10.3f} {'':>11s}")
    print(f"{'tree vote (10 trees)':28s} {tt / n:14.2f} {host['trees']:10.3f} {'':>11s}")
    print(f"CNN MAC/s on the virtual board: {macs * n / max(tc, 1) * 1000:,.0f}; TFLM here: "
          f"{macs / (host['tflm'] / 1000):,.0f}")
    print(f"heap the loaded CNN retains on the virtual board: {loaded:,} B "
          f"(arena {info.model['arena_bytes']:,} B; TFLM's arena {info.model['tflm_arena_bytes']:,} B)")


if __name__ == "__main__":
    main()
