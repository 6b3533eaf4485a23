"""monitor/record when the app does not start, or nothing arrives: one line saying why, exit != 0.

The link is replaced at the I/O edge (tests/tools/stream_fakes.py); the raw REPL's
end-of-run bytes are the ones MicroPython prints (pyboard.py's raw-REPL protocol:
"\\x04" ends stdout, the traceback follows, "\\x04>" ends it).
"""

from __future__ import annotations

import time

import pytest
from click.testing import CliRunner

from edgeloop.cli import cli
from edgeloop.errors import StreamError
from edgeloop.stream import run as stream_run
from edgeloop.stream.link import AppFailed, app_failed, board_error
from tests.tools.stream_fakes import HELLO, FakeBoardFrames, FakeLink, factory

RAW_REPL_END = (b"\x04Traceback (most recent call last):\r\n  File \"<stdin>\", line 2, in <module>\r\n"
                b"  File \"edgeloop_fw/app.py\", line 62, in __init__\r\n"
                b"SensorError: replay file /replay.bin is not on the board\r\n\x04>")


@pytest.mark.parametrize("command", [["monitor"], ["record", "--label", "wave"]])
@pytest.mark.parametrize("seconds", ["nan", "-1", "0", "inf"])
def test_seconds_that_are_not_a_length_of_time_are_one_line(command, seconds):
    r = CliRunner().invoke(cli, command + ["--port", "/dev/null", "--seconds", seconds])
    assert r.exit_code != 0 and "Traceback" not in r.output
    lines = r.output.strip().splitlines()
    assert len(lines) == 1 and f"--seconds {float(seconds):g} is not a length of time" in lines[0], lines


def test_the_boards_last_traceback_line_is_the_error():
    assert board_error(b"\x00\x05frames" + RAW_REPL_END) == "SensorError: replay file /replay.bin is not on the board"
    assert board_error(b"\x04\x04>") is None  # a run that ended normally (CMD_STREAM_STOP)
    assert board_error(b"\x04binary \x04>") is None  # frame bytes that happen to look like the markers


def test_out_of_memory_without_a_traceback_is_the_boards_error():
    """MicroPython's preallocated MemoryError has no traceback: the raw REPL prints its line alone
    (seen when the app started with deploy's receiver still in the REPL's globals)."""
    line = board_error(b"\x00\x04MemoryError: \r\n\x04>")
    assert line == "MemoryError:"
    msg = str(app_failed("/dev/x", line, False))
    assert "did not start: MemoryError:" in msg and "do not fit the board's free heap" in msg


class _FailingLink(FakeLink):
    """What BoardLink.read raises when the raw REPL printed a traceback."""

    def read(self):
        from edgeloop.stream.link import app_failed

        raise app_failed("/dev/fake", board_error(RAW_REPL_END), False)


def test_monitor_and_record_raise_the_boards_own_error(tmp_path):
    for call in (lambda f: stream_run.monitor(port="fake", db=tmp_path / "l.sqlite", seconds=2, link_factory=f),
                 lambda f: stream_run.record(port="fake", label="wave", seconds=1, out=tmp_path / "ds",
                                             link_factory=f)):
        with pytest.raises(AppFailed) as e:
            call(factory(_FailingLink([])))
        msg = str(e.value)
        assert "did not start: SensorError: replay file /replay.bin" in msg and "\n" not in msg
        assert "--sensor" in msg  # what to do about a sensor error


def test_a_short_monitor_without_inferences_says_why(tmp_path):
    b = FakeBoardFrames()
    script = [b.hello_frame(), b.status(), 0.3, b.status()]
    with pytest.raises(StreamError, match=r"no inference in 0.5 s .*first inference needs a full window "
                                          r"\(128 frames at 100 Hz = 1.28 s\)"):
        stream_run.monitor(port="fake", db=tmp_path / "l.sqlite", seconds=0.5, link_factory=factory(FakeLink(script)))
    no_model = FakeBoardFrames(hello=dict(HELLO, model_hash=""))
    with pytest.raises(StreamError, match="names no model; deploy one with `edgeloop deploy --model DIR`"):
        stream_run.monitor(port="fake", db=None, seconds=0.5,
                           link_factory=factory(FakeLink([no_model.hello_frame(), no_model.status()])))


def test_a_board_that_sends_nothing_is_an_error_even_for_a_short_run(tmp_path):
    t0 = time.monotonic()
    with pytest.raises(StreamError, match="sent nothing"):
        stream_run.monitor(port="fake", db=None, seconds=1, link_factory=factory(FakeLink([])))
    assert time.monotonic() - t0 < 15


def test_seconds_count_from_the_first_frame(tmp_path):
    """A board that takes 1.5 s to start still streams the full --seconds."""
    b = FakeBoardFrames()
    script = [1.5, b.hello_frame()] + [x for _ in range(40) for x in (b.inference(), 0.05)]
    seen = {}
    stream_run.monitor(port="fake", db=None, seconds=1.0, link_factory=factory(FakeLink(script)),
                       on_session=lambda s: seen.setdefault("s", s))
    s = seen["s"]
    assert s.stats.inferences >= 15, s.stats.inferences  # ~1 s of inferences every 50 ms, not the 0 left after start-up
