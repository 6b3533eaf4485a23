"""`edgeloop shell`, `fs` and `reset` on the virtual board, through the CLI.

What the commands report is checked against the board's flash folder on this
computer (the virtual board's filesystem is a host folder), not against
what edgeloop itself reads back.
"""

from __future__ import annotations

import hashlib
import os
import pty
import re
import select
import subprocess
import sys
import time

import pytest
from tests.tools.cli_result import invoke as run
from tests.tools.cli_result import one_line
from tests.tools.paths import REPO

pytestmark = [pytest.mark.sim, pytest.mark.slow]


@pytest.fixture
def board(virtual_board_factory, tmp_path_factory):
    """A virtual board with a few files of our own (put in its flash folder before it starts: the
    board mirrors the folder at boot and writes its own changes back) and edgeloop deployed."""
    flash = tmp_path_factory.mktemp("flash")
    (flash / "data" / "sub").mkdir(parents=True)
    (flash / "data" / "a.bin").write_bytes(os.urandom(3000))
    (flash / "data" / "sub" / "b.txt").write_text("hello from the board\n")
    vb = virtual_board_factory(flash_dir=flash)
    r = run("deploy", "--port", vb.port)
    assert r.exit_code == 0, r.output
    return vb


def test_fs_ls_cat_get_match_the_flash_folder(board, tmp_path):
    flash, port = board.flash_dir, board.port
    r = run("fs", "ls", "/", "--port", port)
    assert r.exit_code == 0, r.output
    listed = {ln.split()[-1] for ln in r.output.splitlines()}
    want = {p.name + ("/" if p.is_dir() else "") for p in flash.iterdir()}
    assert listed == want
    sizes = dict((ln.split()[1], int(ln.split()[0].replace(",", ""))) for ln in
                 run("fs", "ls", "/data", "--port", port).output.splitlines() if not ln.strip().endswith("/"))
    assert sizes == {"a.bin": 3000}
    r = run("fs", "cat", "/data/sub/b.txt", "--port", port)
    assert r.exit_code == 0 and r.output == "hello from the board\n"
    r = run("fs", "get", "/data/a.bin", tmp_path / "copy.bin", "--port", port)
    assert r.exit_code == 0, r.output
    assert hashlib.sha256((tmp_path / "copy.bin").read_bytes()).digest() == \
        hashlib.sha256((flash / "data" / "a.bin").read_bytes()).digest()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["copy.bin"]  # no temp file left


def test_fs_refusals_are_one_line_and_change_nothing(board, tmp_path):
    flash, port = board.flash_dir, board.port
    before = sorted(str(p.relative_to(flash)) for p in flash.rglob("*"))
    for args, words in [
        (("fs", "cat", "/nothere.txt"), "no /nothere.txt on the board"),
        (("fs", "cat", "/data"), "is a folder"),
        (("fs", "rm", "/data"), "remove it and what it holds with -r"),
        (("fs", "rm", "/.edgeloop/manifest.json"), "deploy state"),
        (("fs", "rm", "-r", "/.edgeloop"), "deploy state"),
        (("fs", "rm", "-r", "/"), "whole filesystem"),
        (("fs", "rm", "/nothere"), "no /nothere on the board"),
        (("fs", "get", "/nothere", tmp_path / "x"), "no /nothere on the board"),
        (("fs", "ls", "/nothere"), "no /nothere on the board"),
    ]:
        assert words in one_line(run(*args, "--port", port)), args
    assert sorted(str(p.relative_to(flash)) for p in flash.rglob("*")) == before
    assert not (tmp_path / "x").exists() and list(tmp_path.iterdir()) == []


def test_fs_rm_removes_files_and_folders_and_deploy_state_only_when_forced(board):
    flash, port = board.flash_dir, board.port
    r = run("fs", "rm", "-r", "/data", "--port", port)
    assert r.exit_code == 0, r.output
    assert not (flash / "data").exists()
    assert set(r.output.split()) >= {"/data/sub/b.txt", "/data/a.bin", "/data/sub", "/data"}
    r = run("fs", "rm", "/.edgeloop/manifest.json", "--force", "--port", port)
    assert r.exit_code == 0 and not (flash / ".edgeloop" / "manifest.json").exists()


def test_no_board_and_busy_port_are_one_line(board, tmp_path, monkeypatch):
    from edgeloop.link.device import Device

    monkeypatch.setenv("EDGELOOP_RUNTIME_DIR", str(tmp_path / "runtime"))  # no registered virtual boards
    monkeypatch.setattr("serial.tools.list_ports.comports", lambda: [])
    for verb in (("fs", "ls"), ("fs", "get", "/boot.py"), ("reset",), ("shell",)):
        assert "no board found" in one_line(run(*verb)), verb
    for verb in (("fs", "cat", "/boot.py"), ("fs", "rm", "/x"), ("reset",)):
        assert "does not exist" in one_line(run(*verb, "--port", tmp_path / "ttyACM7")), verb
    with Device(board.port):
        assert "in use by another program" in one_line(run("fs", "ls", "--port", board.port))


def test_reset_restarts_the_interpreter_and_hard_reset_is_refused_without_machine(board):
    from edgeloop.link.device import Device

    with Device(board.port) as dev:
        dev.exec("marker_before_reset = 1")
    r = run("reset", "--port", board.port)
    assert r.exit_code == 0 and "soft reset" in r.output, r.output
    with Device(board.port) as dev:
        assert dev.eval("'marker_before_reset' in globals()") is False
    assert "no machine.reset()" in one_line(run("reset", "--hard", "--port", board.port))


def _read_until(fd, needle: bytes, timeout: float) -> bytes:
    buf = b""
    end = time.monotonic() + timeout
    while needle not in buf:
        left = end - time.monotonic()
        if left <= 0:
            raise AssertionError(f"waited {timeout} s for {needle!r}; got {buf[-300:]!r}")
        r, _, _ = select.select([fd], [], [], left)
        if r:
            try:
                buf += os.read(fd, 4096)
            except OSError:
                break
    return buf


def test_shell_is_the_boards_repl_on_a_terminal(virtual_board):
    """The CLI in a child process on a pty: a line typed gets the board's answer; Ctrl-] leaves."""
    master, slave = pty.openpty()
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(REPO / "host"), str(REPO / "firmware")]))
    proc = subprocess.Popen([sys.executable, "-m", "edgeloop.cli", "shell", "--port", virtual_board.port],
                            stdin=slave, stdout=slave, stderr=slave, env=env, close_fds=True)
    os.close(slave)
    try:
        out = _read_until(master, b">>> ", 60)
        assert b"Ctrl-] or Ctrl-X leaves" in out
        os.write(master, b"print(6 * 7, __import__('sys').platform)\r")
        out = _read_until(master, b">>> ", 30)
        assert re.search(rb"42 webassembly", out), out
        os.write(master, b"\x1d")  # Ctrl-], as in mpremote
        assert proc.wait(20) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
        os.close(master)


def test_shell_without_a_terminal_is_one_line(virtual_board):
    r = subprocess.run([sys.executable, "-m", "edgeloop.cli", "shell", "--port", virtual_board.port],
                       stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=60,
                       env=dict(os.environ, PYTHONPATH=os.pathsep.join([str(REPO / "host"), str(REPO / "firmware")])))
    assert r.returncode != 0 and r.stdout == ""
    assert r.stderr.strip().count("\n") == 0 and "needs a terminal" in r.stderr
