"""The app on the rp2040 virtual board (real MicroPython, heap capped): a real gesture take replayed
and streamed, decoded on the host with protocol.py; no allocation per sample; bounded memory with
nobody reading.

The firmware is deployed as `edgeloop deploy` lays it out (tests/firmware/
fw_board.py), the take goes through the same deploy library, and the frames
are the bytes the app wrote to its console, read off the pty.
"""

import time
from pathlib import Path

import numpy as np
import pytest

from edgeloop.sim import replay
from edgeloop_fw import protocol as P
from tests.tools.paths import REPO

DATA = REPO / ".." / "shared" / "data"
TAKE = "2025-06-15T192914_wave.npy"
pytestmark = [
    pytest.mark.sim,
    pytest.mark.skipif(not (DATA / "gestures" / "raw" / TAKE).exists(), reason="../shared/data is not here"),
]


@pytest.fixture(scope="module")
def board(any_board):
    """The virtual board, and the unix CircuitPython and MicroPython (conftest.any_board)."""
    fw_board = any_board
    fw_board.put({"/replay.bin": replay.load(DATA / "gestures" / "raw" / TAKE).to_bytes()})
    return fw_board


# One import per execution: this board collects garbage only between them.
PRELUDE = ["from edgeloop_fw import protocol as P", "from edgeloop_fw.app import App",
           "CFG = {'sensor': {'kind': 'replay', 'file': '/replay.bin'}, 'window': 100, 'hop': 50}"]


def console_bytes(dev, code: str, timeout: float = 120) -> bytes:
    """What `code` writes to the board's console, read off the port as a serial monitor would.

    mpremote's follow() stops at the first 0x04, which a binary frame may hold; here the
    raw REPL's own end (0x04 0x04 '>' with no error text, then silence) ends the read.
    """
    t = dev.transport
    t.exec_raw_no_follow(code)
    s, was = t.serial, t.serial.timeout
    buf = bytearray()
    end = time.monotonic() + timeout
    s.timeout = 0.2
    try:
        while time.monotonic() < end:
            chunk = s.read(s.in_waiting or 1)
            if chunk:
                buf += chunk
            elif buf.endswith(b"\x04\x04>"):
                break
    finally:
        s.timeout = was
    assert buf.endswith(b"\x04\x04>"), f"the board did not finish cleanly: {bytes(buf[-300:])!r}"
    return bytes(buf[:-3])


def parquet_take_mg(take):
    import pyarrow.parquet as pq
    t = pq.read_table(DATA / "gestures" / "cgestures.parquet").to_pydict()
    rows = [i for i, f in enumerate(t["file"]) if f == take]
    return np.rint(np.array([[t["x"][i], t["y"][i], t["z"][i]] for i in rows]) * 1000).astype(int)


def test_board_streams_the_take_the_host_decodes(board):
    code = """
app = App(CFG, flags=P.STREAM_SAMPLES | P.STREAM_STATUS, mode=P.MODE_RECORD)
app.begin()
for _ in range(400):
    app.step_block()
app.status()
"""
    with board.session() as dev:
        for part in PRELUDE:
            dev.exec(part, timeout=60)
        if board.kind == "wasm":
            wire = console_bytes(dev, code)
        else:  # the unix ports' stdout is the exec pipe: the frames go to a stream and come back as hex
            out = dev.exec(COLLECT + code.replace("mode=P.MODE_RECORD)", "mode=P.MODE_RECORD, out=Output(sink))")
                           + "print('WIRE', bytes(sink.data).hex())", timeout=120).decode()
            wire = bytes.fromhex(out.split("WIRE ")[1].split()[0])
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


COLLECT = """
from edgeloop_fw.serial_link import Output
class Collect:  # a host that reads everything, kept
    def __init__(self):
        self.data = bytearray()
    def write(self, buf, off=0, n=None):
        n = len(buf) - off if n is None else n
        self.data += bytes(buf)[off:off + n]
        return n
sink = Collect()
"""

MEASURE = """
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
"""


def test_no_allocation_per_sample_and_bounded_with_nobody_reading(board):
    code = PRELUDE + [MEASURE, "print('READ', measure(Sink(), P.STREAM_SAMPLES | P.STREAM_STATUS, P.MODE_RECORD, 3000))",
        "print('NOBODY', measure(Refusing(), P.STREAM_SAMPLES | P.STREAM_STATUS, P.MODE_RECORD, 3000))"]
    out = board.run(code)
    got = {line.split(" ", 1)[0]: eval(line.split(" ", 1)[1]) for line in out.splitlines() if line[:4] in ("READ", "NOBO")}
    assert got["READ"][0] == 0, got  # bytes allocated over 3000 samples
    grown, dropped, frames_dropped = got["NOBODY"]
    assert grown == 0, got
    assert dropped == 3200 // 25 * 25 and frames_dropped >= 128


def test_a_tree_model_in_the_loop_allocates_nothing(board):
    """Trees run in the app like a CNN: 60 windows' features, votes and inference frames, 0 bytes."""
    board.put({"/gesture_trees.csv": (REPO / "models" / "gesture_trees" / "gesture_trees.csv").read_bytes(),
               "/replay.bin": replay.load(DATA / "gestures" / "raw" / TAKE).to_bytes()})
    code = PRELUDE + ["CFG = dict(CFG, model='/gesture_trees.csv', window=50, hop=25)", MEASURE,
                      "print('READ', measure(Sink(), P.STREAM_INFERENCE | P.STREAM_WINDOW, P.MODE_INFER, 1500))"]
    out = board.run(code)
    got = {line.split(" ", 1)[0]: eval(line.split(" ", 1)[1]) for line in out.splitlines() if line[:4] == "READ"}
    assert got["READ"][0] == 0, got


def test_the_hosts_heartbeat_allocates_nothing(board):
    """The host pings every second while it streams (stream/session.py HEARTBEAT) with a 32-bit
    token, a heap object on this board; this board collects garbage only between executions, and
    the app runs in one: 150 B per ping ran the keyword app out of heap after a minute of a busy
    machine's streaming (CI, 2026-12). 40 pings and their pongs: 0 bytes."""
    wire = b"".join(P.cmd_encode(P.CMD_PING, i, {"token": 0xC0000000 + i}, t_ms=0xF0000000 + i) for i in range(41))
    first = len(P.cmd_encode(P.CMD_PING, 0, {"token": 0xC0000000}, t_ms=0xF0000000))
    code = PRELUDE + [MEASURE, f"""
import io
from edgeloop_fw.serial_link import Input
app = App(CFG, flags=P.STREAM_STATUS, mode=P.MODE_INFER, out=Output(Sink()), inp=Input(io.BytesIO({wire!r})))
app.begin()
app.poll_commands({first})  # the first ping: warm up
def pings(app, n):  # locals: a new global would grow the module's dict inside the measurement
    seq = app.enc.seq
    gc.collect()
    a0 = gc.mem_alloc()
    app.poll_commands(n)
    return gc.mem_alloc() - a0, app.enc.seq - seq
print('PINGS', *pings(app, {len(wire) - first}))
"""]
    out = board.run(code)
    got = [line.split()[1:] for line in out.splitlines() if line.startswith("PINGS")]
    assert got == [["0", "40"]], out  # bytes allocated, pongs sent
