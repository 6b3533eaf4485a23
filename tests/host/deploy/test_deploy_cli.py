"""`edgeloop deploy` bad input that needs no board: each is one line, exit != 0, no traceback."""

from __future__ import annotations

import os
import threading
import tty

import pytest
from click.testing import CliRunner

from edgeloop.cli import cli


def run(*args, env=None):
    result = CliRunner().invoke(cli, list(args), env=env or {})
    return result, result.output  # click 8.2+: stdout and stderr interleaved


def assert_one_line_error(result, text, *needles):
    assert result.exit_code != 0
    assert "Traceback" not in text
    lines = [ln for ln in text.splitlines() if ln.strip()]
    assert len(lines) == 1, lines
    for n in needles:
        assert n in lines[0], lines[0]


@pytest.fixture
def pty_pair():
    master, slave = os.openpty()
    tty.setraw(slave)
    name = os.ttyname(slave)
    yield master, name
    for fd in (master, slave):
        try:
            os.close(fd)
        except OSError:
            pass


def test_help_has_an_example():
    result, text = run("deploy", "--help")
    assert result.exit_code == 0 and "edgeloop deploy --port" in text
    result, text = run("demo", "--help")
    assert result.exit_code == 0 and "edgeloop demo" in text


def test_unknown_board_lists_known_ones():
    result, text = run("deploy", "--port", "/dev/null", "--board", "esp8266")
    assert_one_line_error(result, text, "unknown board 'esp8266'", "rp2040")


def test_port_that_does_not_exist():
    result, text = run("deploy", "--port", "/dev/pts/98765")
    assert_one_line_error(result, text, "/dev/pts/98765", "does not exist")


def test_no_board_found_says_how_to_start_a_virtual_one(monkeypatch, tmp_path):
    import serial.tools.list_ports as lp

    monkeypatch.setattr(lp, "comports", lambda: [])
    monkeypatch.setenv("EDGELOOP_RUNTIME_DIR", str(tmp_path))  # no virtual boards registered either
    monkeypatch.delenv("EDGELOOP_PORT", raising=False)
    result, text = run("deploy")
    assert_one_line_error(result, text, "no board found", "edgeloop sim --board rp2040")


def test_port_busy(pty_pair):
    import serial

    _, name = pty_pair
    holder = serial.Serial(name, exclusive=True)  # a serial monitor already has it
    try:
        result, text = run("deploy", "--port", name)
    finally:
        holder.close()
    assert_one_line_error(result, text, "in use by another program")


def test_not_micropython(pty_pair):
    master, name = pty_pair
    stop = threading.Event()

    def modem():  # something that talks, but not a MicroPython REPL
        while not stop.is_set():
            try:
                if os.read(master, 1024):
                    os.write(master, b"AT OK\r\n")
            except OSError:
                return

    t = threading.Thread(target=modem, daemon=True)
    t.start()
    try:
        result, text = run("deploy", "--port", name, "--timeout", "1")
    finally:
        stop.set()
    assert_one_line_error(result, text, "does not answer like a MicroPython")
