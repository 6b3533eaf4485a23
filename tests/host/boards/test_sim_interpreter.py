"""`edgeloop sim --interpreter`: the virtual board on a unix MicroPython or CircuitPython binary.

The unix ports have no raw REPL and no resets, so edgeloop.sim.unix supplies
them (a REPL script behind a bridge). These tests hold it to what a board
does, seen from the host through mpremote's transport (edgeloop's Device) and
plain pyserial: the raw REPL's framing of output and errors, Ctrl-C into
running code, soft and hard resets, the heap cap, the flash folder as `/`,
and CircuitPython's usb_cdc data channel: off until a boot.py that enables
it ran at a hard reset, then binary-exact both ways on its own port.

MicroPython: the venv's unix build (installed with the dev extras, so CI has
it). CircuitPython: the build EDGELOOP_CIRCUITPYTHON names (README: building
the CircuitPython test interpreter), skipped when unset.
"""

from __future__ import annotations

import time

import pytest

from edgeloop.link.device import BoardException, Device
from edgeloop.sim.unix import UnixBoard
from tests.tools.unix_board import CIRCUITPYTHON_ENV, interpreters

KINDS = {"micropython": "micropython-unix", "circuitpython": "circuitpython"}


def interpreter_or_skip(kind: str) -> str:
    path = interpreters()[KINDS[kind]]
    if not path:
        pytest.skip(f"{kind}: no interpreter (CircuitPython: set {CIRCUITPYTHON_ENV} to a unix build)")
    return path


@pytest.fixture(params=sorted(KINDS))
def board(request, tmp_path):
    vb = UnixBoard(interpreter_or_skip(request.param), "rp2040", tmp_path / "flash", register=False)
    yield vb
    vb.stop()


@pytest.fixture
def cpy_board(tmp_path):
    vb = UnixBoard(interpreter_or_skip("circuitpython"), "rp2040", tmp_path / "flash", register=False)
    yield vb
    vb.stop()


def test_raw_repl_frames_output_and_errors_as_a_board_does(board):
    with Device(board.port, soft_reset=True) as dev:
        assert dev.exec("print(6 * 7)\nprint('a', 'b')") == b"42\na b\n"
        assert dev.eval("[i * i for i in range(5)]") == [0, 1, 4, 9, 16]
        assert dev.eval("__import__('sys').implementation.name") == board.implementation
        with pytest.raises(BoardException) as e:
            dev.exec("def f():\n    raise ValueError('bad value 7')\nf()")
        assert "Traceback" in e.value.traceback and e.value.traceback.strip().endswith("ValueError: bad value 7")
        # Globals stay between commands (deploy keeps its receiver there), until a soft reset.
        dev.exec("kept = 123")
        assert dev.eval("kept") == 123
        dev.soft_reset()
        assert dev.eval("'kept' in globals()") is False
    assert board.restarts == []


def test_ctrl_c_interrupts_running_code_and_the_repl_answers(board):
    with Device(board.port, soft_reset=True) as dev:
        t = dev.transport
        t.exec_raw_no_follow("n = 0\nprint('looping')\nwhile True:\n    n += 1")
        assert t.read_until(1, b"looping", timeout=60).endswith(b"looping")  # running: not before it started
        t.serial.write(b"\x03")
        out, err = t.follow(30)
        assert b"KeyboardInterrupt" in err
        assert dev.eval("n >= 0") is True  # its globals are still there (no reset)
    assert board.restarts == []


def test_a_loop_that_swallows_ctrl_c_is_replaced_by_the_watchdog(board):
    with Device(board.port, soft_reset=True) as dev:
        t = dev.transport
        t.exec_raw_no_follow("while True:\n    try:\n        print('inside')\n        while True:\n            pass\n"
                             "    except KeyboardInterrupt:\n        pass")
        assert t.read_until(1, b"inside", timeout=60).endswith(b"inside")  # the Ctrl-C lands in the try
        t.serial.write(b"\x03")
    deadline = time.monotonic() + 120
    while "watchdog" not in board.restarts and time.monotonic() < deadline:
        time.sleep(0.2)
    board._log.seek(0)
    assert board.restarts == ["watchdog"], (board.restarts, board._events, board._log.read()[-500:])
    with Device(board.port) as dev:
        assert dev.eval("1 + 1") == 2


def test_the_flash_folder_is_the_boards_root(board):
    (board.flash_dir / "from_host.txt").write_text("host wrote this")
    with Device(board.port, soft_reset=True) as dev:
        assert dev.eval("open('/from_host.txt').read()") == "host wrote this"
        dev.exec("import os\nos.mkdir('/d')\nf = open('/d/a.bin', 'wb')\nf.write(bytes(range(256)))\nf.close()\n"
                 "os.rename('/d/a.bin', '/d/b.bin')\nos.chdir('/d')\nos.rename('b.bin', 'c.bin')\nos.chdir('/')")
        assert sorted(dev.eval("__import__('os').listdir('/')")) == sorted(["d", "from_host.txt"] + (
            ["boot_out.txt"] if board.implementation == "circuitpython" else []))
    assert (board.flash_dir / "d" / "c.bin").read_bytes() == bytes(range(256))
    assert not (board.flash_dir / "d" / "a.bin").exists()


def test_the_heap_is_capped(board):
    with Device(board.port, soft_reset=True) as dev:
        with pytest.raises(BoardException) as e:
            dev.exec(f"b = bytearray({board.heap_bytes})")
        assert "MemoryError" in e.value.traceback
        assert dev.eval(f"len(bytearray({board.heap_bytes // 4}))") == board.heap_bytes // 4


def test_hard_reset_runs_boot_py_and_main_py(board):
    (board.flash_dir / "boot.py").write_text("open('/boot_ran', 'w').write('1')\n")
    main = "code.py" if board.implementation == "circuitpython" else "main.py"
    (board.flash_dir / main).write_text("open('/main_ran', 'w').write('1')\n")
    board.restart()
    # Seen from the host folder: connecting would interrupt them with its Ctrl-C, as on a board.
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and not all((board.flash_dir / f).exists() for f in ("boot_ran", "main_ran")):
        time.sleep(0.2)
    assert (board.flash_dir / "boot_ran").exists() and (board.flash_dir / "main_ran").exists()
    assert board.restarts == ["hard reset"]
    with Device(board.port) as dev:
        assert dev.eval("1 + 1") == 2


# -- CircuitPython's usb_cdc data channel ------------------------------------------

CHANNEL = "import usb_cdc\nprint(usb_cdc.data is not None)"


def read_exactly(s, n: int, seconds: float = 30) -> bytes:
    got = b""
    end = time.monotonic() + seconds
    while len(got) < n and time.monotonic() < end:
        got += s.read(n - len(got))
    return got


def test_data_channel_exists_only_after_boot_py_enabled_it_and_a_hard_reset(cpy_board):
    vb = cpy_board
    assert vb.data_port and vb.data_port != vb.port
    with Device(vb.port, soft_reset=True) as dev:
        assert dev.exec(CHANNEL) == b"False\n"
        with pytest.raises(BoardException) as e:  # only boot.py may change the USB interfaces
            dev.exec("import usb_cdc\nusb_cdc.enable(console=True, data=True)")
        assert "RuntimeError" in e.value.traceback
    (vb.flash_dir / "boot.py").write_text("import usb_cdc\nusb_cdc.enable(console=True, data=True)\n")
    with Device(vb.port, soft_reset=True) as dev:  # a soft reset does not run boot.py
        assert dev.exec(CHANNEL) == b"False\n"
    vb.restart()
    assert vb.data_enabled
    with Device(vb.port, soft_reset=True) as dev:  # and keeps the interfaces of the last hard reset
        assert dev.exec(CHANNEL) == b"True\n"


def test_data_channel_is_binary_exact_both_ways(cpy_board):
    import serial

    vb = cpy_board
    (vb.flash_dir / "boot.py").write_text("import usb_cdc\nusb_cdc.enable(console=True, data=True)\n")
    vb.restart()
    payload = bytes(range(256)) + b"\n\r\n\x03\x04" * 8  # what text consoles translate or act on
    with Device(vb.port, soft_reset=True) as dev, serial.Serial(vb.data_port, timeout=0.2) as s:
        # (opened first: pyserial flushes what a port holds when it opens it)
        dev.exec(f"import usb_cdc\nb = {payload!r}\n"
                 "usb_cdc.data.write(b)\nusb_cdc.data.write(b, 5, 100)")
        assert read_exactly(s, len(payload) + 100) == payload + payload[5:105]
        s.write(payload)
        dev.exec(f"import time\nbuf = bytearray({len(payload)})\nn = 0\nt = time.time()\n"
                 f"while n < {len(payload)} and time.time() - t < 30:\n"
                 "    if usb_cdc.data.in_waiting:\n        n += usb_cdc.data.readinto(memoryview(buf)[n:])")
        assert dev.eval("bytes(buf)") == payload


def test_code_larger_than_the_heap_is_a_memory_error_and_the_repl_stays(board):
    code = "y = " + repr(bytes(range(256)) * (board.heap_bytes // 256))  # ~4 bytes of source per byte
    with Device(board.port, soft_reset=True, timeout=120) as dev:
        with pytest.raises(BoardException) as e:
            dev.exec(code, timeout=300)
        assert "MemoryError" in e.value.traceback
        assert dev.eval("2 + 2") == 4
    assert board.restarts == []


def test_ctrl_c_is_data_while_kbd_intr_is_off(board):
    """micropython.kbd_intr(-1), as code that reads binary input does: 0x03 arrives as a byte."""
    with Device(board.port, soft_reset=True) as dev:
        t = dev.transport
        t.exec_raw_no_follow("import micropython, select, sys\nmicropython.kbd_intr(-1)\np = select.poll()\n"
                             "p.register(sys.stdin, select.POLLIN)\nprint('ready')\np.poll(-1)\n"
                             "c = sys.stdin.buffer.read(1)\nmicropython.kbd_intr(3)\nprint('got', c)")
        assert t.read_until(1, b"ready", timeout=60).endswith(b"ready")
        t.serial.write(b"\x03")
        out, err = t.follow(30)
        assert out.split() == [b"got", b"b'\\x03'"] and err == b""
    assert board.restarts == []
