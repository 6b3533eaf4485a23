"""Capture rules on the rp2040 virtual board (real MicroPython, heap capped): the shipped gesture model
on a replayed take, every window kept; no allocation per inference whether kept windows go out to a
host or into the flash ring, and the ring the board wrote reads back whole on the host (struct +
binascii.crc_hqx, not the board's code)."""


import pytest

from edgeloop.sim import replay
from edgeloop_fw import protocol as P
from tests.tools.capture_reference import ring_records
from tests.tools.paths import REPO

DATA = REPO / ".." / "shared" / "data"
TAKE = "2025-06-15T192914_wave.npy"
GESTURE = REPO / "models" / "gesture"
pytestmark = [
    pytest.mark.sim,
    pytest.mark.skipif(not (DATA / "gestures" / "raw" / TAKE).exists(), reason="../shared/data is not here"),
]

PRELUDE = ["from edgeloop_fw import protocol as P", "from edgeloop_fw.app import App",
           "import edgeloop_fw.capture",
           "CFG = {'sensor': {'kind': 'replay', 'file': '/replay.bin'}, 'window': 50, 'hop': 25, "
           "'model': '/models/gesture.elm', 'classes': ['idle', 'snake', 'updown', 'wave'], "
           "'capture': {'classes': ['idle', 'snake', 'updown', 'wave'], 'ring_bytes': 8 * 1024, "
           "'ring_file': '/ring_test.bin'}}"]

MEASURE = """
import gc
from edgeloop_fw.serial_link import Output
class Refusing:  # no host reading: the port takes nothing
    def write(self, buf, off=0, n=0):
        return 0
class Sink:
    def write(self, buf, off=0, n=0):
        return n
class Pinging:  # a host that pings: its bytes arrive now and then
    def __init__(self):
        self.i = 0
    def read(self):
        self.i += 1
        return 0 if self.i % 40 == 0 else -1
def measure(stream, inp, n):
    app = App(CFG, flags=P.STREAM_INFERENCE, mode=P.MODE_INFER, out=Output(stream), inp=inp)
    app.begin()
    for _ in range(150):  # warm up: first windows, first kept frames, the ring's first writes
        app.step_block()
        app.poll_commands()
    gc.collect()
    k0, a0 = app.kept, gc.mem_alloc()
    for _ in range(n):
        app.step_block()
        app.poll_commands()
    a1 = gc.mem_alloc()
    stored = app.ring.count()
    app.ring.close()
    return a1 - a0, app.kept - k0, stored, len(app.enc.raw)
"""


@pytest.fixture(scope="module")
def board(any_board):
    """The virtual board, and the unix CircuitPython and MicroPython (conftest.any_board)."""
    fw_board = any_board
    fw_board.put({"/replay.bin": replay.load(DATA / "gestures" / "raw" / TAKE).to_bytes()},
                 models=[GESTURE / "gesture.elm"])
    return fw_board


def test_capture_allocates_nothing_per_inference_sent_or_stored(board):
    """Every window kept (all classes listed): 400 blocks = 16 windows, each a kept frame out to a
    host that pings, or (nobody reading, no pings) a slot written in the flash ring: 0 bytes allocated."""
    code = PRELUDE + [MEASURE,
                      "print('HOST', measure(Sink(), Pinging(), 400))",
                      "print('NOBODY', measure(Refusing(), None, 400))"]
    out = board.run(code)
    got = {line.split(" ", 1)[0]: eval(line.split(" ", 1)[1]) for line in out.splitlines()
           if line[:4] in ("HOST", "NOBO")}
    assert set(got) == {"HOST", "NOBODY"}, out
    grown, kept, stored, _slot = got["HOST"]
    assert kept == 16 and grown == 0 and stored == 0, got  # all went out live
    grown, kept, stored, slot = got["NOBODY"]
    assert kept == 16 and grown == 0, got
    assert stored == min(21, 8 * 1024 // slot), got  # 5 warm-up + 16 windows, or as many as the ring holds

    # The ring the board wrote, read with struct and crc_hqx: whole records, numbered in order.
    flash = board.vb.flash_dir if board.kind == "wasm" else board.flash_dir
    data = (flash / "ring_test.bin").read_bytes()
    found = ring_records(data, slot)
    for record, f in found.items():
        assert f["ring"] and f["record"] == record and f["rule"] == P.RULE_CLASS and len(f["window"]) == 150
    records = list(found)
    assert len(data) == 8 * 1024 // slot * slot
    assert sorted(records) == list(range(21 - stored + 1, 22))  # the newest, numbered in order
