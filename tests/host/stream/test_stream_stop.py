"""Stopping a stream loses nothing the board sent: the frames in flight when the host stops are logged.

A board with capture rules calls a kept window sent once its port took the bytes; a
host that stopped reading at its time limit and discarded the rest lost that window
for good (neither logged nor in the board's ring). The serial port is replaced at
its I/O edge; the raw REPL's end-of-run bytes are MicroPython's (pyboard.py's raw
REPL: "\\x04" ends stdout, stderr follows, "\\x04>" ends it).
"""

from __future__ import annotations

import sqlite3

from edgeloop_fw import protocol as P
from edgeloop.stream import run as stream_run
from edgeloop.stream.link import BoardLink
from tests.tools.stream_fakes import FakeBoardFrames, FakeLink, factory

BANNER = b"raw REPL; CTRL-B to exit\r\n>"


class _Serial:
    """A port whose app answers the stop command with `in_flight`, then the raw REPL's end of run."""

    def __init__(self, in_flight: bytes, end: bytes = b"\x04\x04>"):
        self.in_flight, self.end = in_flight, end
        self.pending = b""
        self.written = []

    @property
    def in_waiting(self):
        return len(self.pending)

    def read(self, n):
        out, self.pending = self.pending[:n], self.pending[n:]
        return out

    def write(self, data):
        self.written.append(bytes(data))
        if data[:1] == b"\x00" or P.CMD_STREAM_STOP in data[:4]:  # a command frame: the stop
            self.pending += self.in_flight + self.end
        elif data == b"\x04":
            self.pending += b"OK" + BANNER


class _Device:
    closed = False

    def close(self):
        self.closed = True


def _open_link(serial):
    link = BoardLink("fake")
    link._dev, link._serial = _Device(), serial
    return link


def test_close_returns_the_frames_the_app_sent_until_it_stopped():
    b = FakeBoardFrames()
    frames = b.hello_frame() + b"".join(b.inference() for _ in range(3))
    # A frame holding "\x04>" by chance is not the end of the run (one in a few hundred frames is).
    tricky = b"\x05\x04>\x04>\x00"
    s = _Serial(frames + tricky)
    link = _open_link(s)
    drained = link.close(grace=2.0)
    assert drained.startswith(frames + tricky)
    assert s.written[-1] == b"\x04", "soft reset once the app returned"
    assert b"\x03" not in s.written, "the app returned by itself: no Ctrl-C"


def test_a_slow_app_gets_ctrl_c_and_what_it_sent_is_still_returned():
    b = FakeBoardFrames()
    frames = b.hello_frame() + b.inference()
    s = _Serial(frames, end=b"")  # the app never answers the stop

    def write(data, _w=s.write):
        _w(data)
        if data == b"\x03":
            s.pending += b"\x04Traceback (most recent call last):\r\nKeyboardInterrupt: \r\n\x04>"
    s.write = write
    drained = _open_link(s).close(grace=0.3)
    assert drained.startswith(frames) and b"KeyboardInterrupt" in drained


def test_frames_in_flight_at_the_time_limit_are_logged(tmp_path):
    """monitor --seconds: the inferences the board sent before it saw the stop reach the log."""
    b = FakeBoardFrames()
    script = [b.hello_frame()] + [x for _ in range(10) for x in (b.inference(), 0.02)]
    in_flight = b"".join(b.inference() for _ in range(4))

    class Link(FakeLink):
        def close(self, *, stop=True, grace=1.0):
            self.closed = True
            self.grace = grace
            return in_flight + b"\x04\x04>"

    link = Link(script)
    db = tmp_path / "log.sqlite"
    stream_run.monitor(port="fake", db=db, seconds=0.5, link_factory=factory(link))
    with sqlite3.connect(db) as c:
        logged = [r[0] for r in c.execute("SELECT window_index FROM inferences ORDER BY window_index")]
    assert logged == list(range(b.index)), logged
    assert link.grace >= 1.0


def test_count_stops_after_that_many_inferences_whatever_the_time(tmp_path):
    """monitor --count: board work, not host time; a slow board still delivers all N."""
    b = FakeBoardFrames()
    script = [b.hello_frame()] + [x for _ in range(30) for x in (b.inference(), 0.01)]
    db = tmp_path / "log.sqlite"
    out = stream_run.monitor(port="fake", db=db, count=7, link_factory=factory(FakeLink(script)))
    assert out.startswith("7 inferences"), out
    with sqlite3.connect(db) as c:
        assert [r[0] for r in c.execute("SELECT window_index FROM inferences ORDER BY id")] == list(range(7))
