"""The app on real MicroPython (the WebAssembly build): a real gesture take replayed and streamed,
decoded on the host with protocol.py; no allocation per sample; bounded memory with nobody reading.

Runs through tests/firmware/wasm_board.py (files straight into the board's
RAM filesystem, one script, stdout captured byte for byte).
"""

from pathlib import Path

import numpy as np
import pytest

import wasm_board
from edgeloop import replay
from edgeloop_fw import protocol as P

REPO = Path(__file__).resolve().parents[2]
DATA = REPO / ".." / "shared" / "data"
TAKE = "2025-06-15T192914_wave.npy"
pytestmark = [
    pytest.mark.sim,
    pytest.mark.skipif(wasm_board.available() is not None, reason=str(wasm_board.available())),
    pytest.mark.skipif(not (DATA / "gestures" / "raw" / TAKE).exists(), reason="../shared/data is not here"),
]
SKIP = ("runtime", "audio")


def files():
    fw = REPO / "firmware" / "edgeloop_fw"
    out = {}
    for p in sorted(fw.rglob("*.py")):
        rel = p.relative_to(fw)
        if rel.parts[0] in SKIP:
            continue
        out[f"/lib/edgeloop_fw/{rel.as_posix()}"] = p.read_bytes()
    out["/replay.bin"] = replay.load(DATA / "gestures" / "raw" / TAKE).to_bytes()
    return out


PRELUDE = """
import sys
sys.path.insert(0, '/lib')
from edgeloop_fw import protocol as P
from edgeloop_fw.app import App
CFG = {'sensor': {'kind': 'replay', 'file': '/replay.bin'}, 'window': 100, 'hop': 50}
"""


def parquet_take_mg(take):
    import pyarrow.parquet as pq
    t = pq.read_table(DATA / "gestures" / "cgestures.parquet").to_pydict()
    rows = [i for i, f in enumerate(t["file"]) if f == take]
    return np.rint(np.array([[t["x"][i], t["y"][i], t["z"][i]] for i in rows]) * 1000).astype(int)


def test_board_streams_the_take_the_host_decodes():
    code = PRELUDE + """
app = App(CFG, flags=P.STREAM_SAMPLES | P.STREAM_STATUS, mode=P.MODE_RECORD)
app.begin()
for _ in range(400):
    app.step_block()
app.status()
"""
    # wasm_run.mjs writes the board's bytes as a latin-1 JS string to a UTF-8 stdout: undo that.
    wire = wasm_board.run(code, files()).encode("latin1").decode("utf-8").encode("latin1")
    frames = []
    for chunk in wire.split(b"\0"):
        if chunk:
            kind, seq, _t, payload = P.frame_decode(chunk)
            frames.append((kind, P.decode_payload(kind, payload)))
    samples = [f for k, f in frames if k == P.MSG_SAMPLES]
    data = np.concatenate([np.array(s["data"]).reshape(-1, 3) for s in samples])
    np.testing.assert_array_equal(data, parquet_take_mg(TAKE))
    status = [f for k, f in frames if k == P.MSG_STATUS][-1]
    assert status["free_heap"] > 0 and status["dropped"] == 0


def test_no_allocation_per_sample_and_bounded_with_nobody_reading():
    code = PRELUDE + """
import gc
from edgeloop_fw.serial_link import Output
class Refusing:  # a host that stopped reading: the port takes nothing
    def write(self, buf, off=0, n=0):
        return 0
class Sink:  # a host that reads everything
    def write(self, buf, off=0, n=0):
        return n
def measure(stream, flags, mode, n):
    app = App(CFG, flags=flags, mode=mode, out=Output(stream))
    app.begin()
    for _ in range(200):  # warm up: first window, first frames
        app.step_block()
    gc.collect()
    a0 = gc.mem_alloc()
    for _ in range(n):
        app.step_block()
    a1 = gc.mem_alloc()
    return a1 - a0, app.dropped, app.out.dropped
print('READ', measure(Sink(), P.STREAM_SAMPLES | P.STREAM_STATUS, P.MODE_RECORD, 3000))
print('NOBODY', measure(Refusing(), P.STREAM_SAMPLES | P.STREAM_STATUS, P.MODE_RECORD, 3000))
"""
    out = wasm_board.run(code, files())
    got = {line.split(" ", 1)[0]: eval(line.split(" ", 1)[1]) for line in out.splitlines() if line[:4] in ("READ", "NOBO")}
    assert got["READ"][0] == 0, got  # bytes allocated over 3000 samples
    grown, dropped, frames_dropped = got["NOBODY"]
    assert grown == 0, got
    assert dropped == 3200 // 25 * 25 and frames_dropped >= 128
