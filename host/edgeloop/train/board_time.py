"""Time a freshly trained gesture model on the virtual board, for the model card.

The card's "measured" figure comes from real MicroPython (the WebAssembly
build behind a pty, with a board profile's heap), running the same firmware
files a deploy would copy: the board's feature code and runtime (or the
tree evaluator) on real held-out windows. The WebAssembly clock ticks in
milliseconds, so the figure is a total over several windows divided by
their number. Any failure (no Node, no npm package) returns the reason
instead: a card without a measured time is still a card.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

SCRIPT = """
import os, sys, time
ROOT = ''
for r in ('', '/flash', '/home'):
    try:
        os.stat(r + '/windows.bin')
        ROOT = r
        break
    except OSError:
        pass
sys.path.append(ROOT + '/lib')
"""
RUN = """
from array import array
from edgeloop_fw import features as F
data = open(ROOT + '/windows.bin', 'rb').read()
CH = %(channels)d
N = len(data) // (2 * CH * %(window)d)
w = array('h', bytes(2 * CH * %(window)d))
if %(cnn)r:
    from edgeloop_fw.runtime.loader import Model
    from edgeloop_fw.runtime.interpreter import Interpreter
    it = Interpreter(Model(open(ROOT + '/model.bin', 'rb')))
    t_in = it.model.inputs[0]
    mul = F.input_multiplier(t_in.scale)
    q = bytearray(t_in.nbytes)
else:
    from edgeloop_fw import trees
    forest = trees.load(ROOT + '/model.bin')
    feats = array('h', bytes(2 * F.n_window_features(CH)))
n = len(w) * 2
t0 = time.ticks_ms()
for k in range(N):
    w[:] = array('h', data[n * k:n * (k + 1)])
    if %(cnn)r:
        F.quantize_window(w, q, mul, t_in.zero_point)
        it.set_input(q)
        it.invoke()
    else:
        forest.predict(F.window_features(w, CH, feats))
print('MS', time.ticks_diff(time.ticks_ms(), t0), N)
"""


def measure(model_file: bytes, kind: str, windows: np.ndarray, *, board: str = "rp2040") -> dict:
    """{"board", "ms_per_inference", "windows", "note"} or {"error": why}."""
    import tempfile

    from ..resources import firmware_dir

    try:
        from edgeloop.link.device import Device
        from ..sim import VirtualBoard, node_status
    except ImportError as e:
        return {"error": f"the virtual board is not available ({e})"}
    ok, why = node_status()
    if not ok:
        return {"error": f"the virtual board is not available ({why})"}
    n, window, channels = windows.shape
    fw = Path(firmware_dir()) / "edgeloop_fw"
    with tempfile.TemporaryDirectory(prefix="edgeloop-time-") as flash:
        flash = Path(flash)
        # Portable kernels only: the optional viper/native levels need a native emitter this board lacks.
        for rel in ["__init__.py", "features.py", "trees.py"] + (["runtime"] if kind == "cnn" else []):
            src = fw / rel
            for p in ([src] if src.is_file() else sorted(src.rglob("*.py"))):
                if p.relative_to(fw).parts[:2] in (("runtime", "viper"), ("runtime", "native")):
                    continue
                dest = flash / "lib" / "edgeloop_fw" / p.relative_to(fw)
                dest.parent.mkdir(parents=True, exist_ok=True)
                dest.write_bytes(p.read_bytes())
        (flash / "model.bin").write_bytes(model_file)
        (flash / "windows.bin").write_bytes(np.ascontiguousarray(windows, dtype="<i2").tobytes())
        try:
            with VirtualBoard(board=board, flash_dir=flash, register=False) as vb, Device(vb.port) as dev:
                dev.exec(SCRIPT, timeout=60)
                out = dev.exec(RUN % {"channels": channels, "window": window, "cnn": kind == "cnn"},
                               timeout=300).decode()
        except Exception as e:  # a measurement must never cost the user the trained model
            return {"error": f"the virtual board run failed ({type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''})"}
    line = [ln for ln in out.splitlines() if ln.startswith("MS ")]
    if not line:
        return {"error": f"the virtual board printed no timing ({out.strip()[:80]!r})"}
    ms, count = (int(v) for v in line[0].split()[1:])
    what = ("input quantization + inference, portable kernels" if kind == "cnn"
            else "window features + tree vote, pure-Python evaluator")
    return {"board": board, "ms_per_inference": ms / count, "windows": count,
            "note": f"{what}, mean over {count} held-out windows"}
