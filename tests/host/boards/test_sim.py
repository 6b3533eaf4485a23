"""The virtual board, driven through its pty by mpremote (the reference client) and by Device."""

from __future__ import annotations

import ast
import hashlib
import os
import subprocess
import sys
import time

import pytest

from edgeloop.boards import profiles as boards
from edgeloop.link.device import BoardException, Device

pytestmark = pytest.mark.sim

# Every board profile, plus the rp2040 at a larger heap than its own: the heap size decides
# how the capped malloc arena fragments, which is how os.listdir once raised ENOMEM there.
HEAP_CASES = [pytest.param(name, None, id=name) for name in boards.names()] + \
    [pytest.param("rp2040", 250_000, id="rp2040-heap250000")]


def mpremote(port, *args, timeout=60):
    r = subprocess.run([sys.executable, "-m", "mpremote", "connect", port, *args],
                       capture_output=True, timeout=timeout)
    return r.returncode, r.stdout.decode(errors="replace"), r.stderr.decode(errors="replace")


def test_mpremote_exec_and_fs_round_trip(virtual_board, tmp_path):
    data = os.urandom(50_000)
    (tmp_path / "blob.bin").write_bytes(data)
    port = virtual_board.port
    assert mpremote(port, "exec", "print(6 * 7)")[1].strip() == "42"
    assert mpremote(port, "fs", "cp", str(tmp_path / "blob.bin"), ":blob.bin")[0] == 0
    code, out, _ = mpremote(port, "fs", "ls")
    assert code == 0 and "50000 blob.bin" in out
    # The file is in the flash folder on the host, byte for byte.
    assert (virtual_board.flash_dir / "blob.bin").read_bytes() == data
    assert mpremote(port, "fs", "cp", ":blob.bin", str(tmp_path / "back.bin"))[0] == 0
    assert (tmp_path / "back.bin").read_bytes() == data
    code, out, _ = mpremote(port, "fs", "sha256sum", ":blob.bin")
    assert hashlib.sha256(data).hexdigest() in out


def test_mpremote_sees_missing_files_as_missing(virtual_board):
    # Needs errno translation: the port raises emscripten's ENOENT (44).
    code, _, err = mpremote(virtual_board.port, "fs", "cat", ":nope.txt")
    assert code != 0 and "No such file or directory" in err


def test_raw_paste_is_used_and_handles_large_code(virtual_board):
    with Device(virtual_board.port) as dev:
        body = "x = 0\n" + "x += 1\n" * 3000  # ~21 KB: several raw-paste windows
        assert dev.exec(body + "print(x)").strip() == b"3000"
        assert dev.transport.use_raw_paste  # mpremote did not have to fall back


def test_exec_raises_board_exception_with_board_text(virtual_board):
    with Device(virtual_board.port) as dev:
        with pytest.raises(BoardException, match="ZeroDivisionError"):
            dev.exec("1/0")
        assert dev.eval("1 + 1") == 2  # still usable afterwards


@pytest.mark.parametrize("loop", [
    "import time\nwhile True:\n    time.sleep_ms(5)",
    "i = 0\nwhile True:\n    print(i)\n    i += 1",
])
def test_ctrl_c_interrupts_running_code(virtual_board, loop):
    with Device(virtual_board.port) as dev:
        dev.transport.exec_raw_no_follow(loop)
        time.sleep(0.3)
    t0 = time.monotonic()
    with Device(virtual_board.port) as dev:  # enters the raw REPL with Ctrl-C
        assert dev.eval("'alive'") == "alive"
    assert time.monotonic() - t0 < 1.5
    assert virtual_board.restarts == []  # interrupted, not restarted


def test_watchdog_recovers_a_loop_that_never_yields(virtual_board_factory):
    vb = virtual_board_factory(watchdog=1.0)
    with Device(vb.port) as dev:
        dev.exec("f = open('keep.txt', 'w'); f.write('kept'); f.close()")
        dev.transport.exec_raw_no_follow("while True:\n    pass")
        time.sleep(0.2)
    with Device(vb.port) as dev:
        assert dev.exec("print(open('keep.txt').read())").strip() == b"kept"
    assert vb.restarts == ["watchdog"]


def test_output_leaves_when_written_not_when_the_code_next_prints(virtual_board):
    """A line written just before a long computation reaches the host at once: a board's USB
    sends while its CPU computes (a stream frame held back here looked like a silent board)."""
    with Device(virtual_board.port) as dev:
        dev.transport.exec_raw_no_follow("import sys\nsys.stdout.write('MARK\\n')\n"
                                         "for i in range(600000):\n    x = i ^ 1\nprint('DONE')")
        s = dev.transport.serial
        s.timeout = 60
        t0 = time.monotonic()
        assert s.read_until(b"MARK").endswith(b"MARK")
        mark = time.monotonic() - t0
        assert s.read_until(b"DONE").endswith(b"DONE")
        done = time.monotonic() - t0
    assert mark < done / 4, (mark, done)


def test_a_slow_board_on_a_busy_machine_is_interrupted_not_restarted(virtual_board_factory):
    """The watchdog counts the CPU the board was given since the Ctrl-C, not wall time: starved
    to a tenth of a CPU, a loop of ~0.4 s CPU that cannot see the Ctrl-C until it ends takes
    seconds of wall time, and is still a working board, not a stuck one."""
    from tests.tools.throttle import cpu_share

    vb = virtual_board_factory(watchdog=1.0)
    with cpu_share(vb.pid, 0.1):
        with Device(vb.port, timeout=60) as dev:
            dev.transport.exec_raw_no_follow("for i in range(400000):\n    x = i ^ 1\nprint('END')")
            time.sleep(0.2)
        with Device(vb.port, timeout=60) as dev:  # enters the raw REPL with Ctrl-C
            assert dev.eval("x") == 399999 ^ 1  # the loop ran to its end in this interpreter
    assert vb.restarts == []


def test_soft_reset_runs_boot_and_main(virtual_board):
    vb = virtual_board
    (vb.flash_dir / "boot.py").write_text("BOOT_RAN = True\n")
    (vb.flash_dir / "main.py").write_text(
        "n = int(open('count.txt').read()) if 'count.txt' in __import__('os').listdir() else 0\n"
        "open('count.txt', 'w').write(str(n + 1))\n"
        "import time\nwhile True:\n    time.sleep_ms(10)\n")
    vb.restart()  # hard reset: boot.py, then main.py (which loops until interrupted)
    time.sleep(0.3)
    with Device(vb.port) as dev:
        assert dev.eval("BOOT_RAN") is True
        assert dev.eval("n") == 0
    with Device(vb.port, soft_reset=True) as dev:  # raw-REPL soft reset: boot.py only
        assert dev.eval("BOOT_RAN") is True
        assert dev.eval("'n' in globals()") is False
    assert (vb.flash_dir / "count.txt").read_text() == "1"


def test_friendly_repl_ctrl_d_soft_resets(virtual_board):
    import serial

    (virtual_board.flash_dir / "main.py").write_text("print('MAIN RAN')\n")
    with serial.Serial(virtual_board.port, timeout=3) as s:
        s.write(b"\x03\x02")
        time.sleep(0.2)
        s.reset_input_buffer()
        s.write(b"\x04")
        out = s.read_until(b">>> ")
    assert b"soft reboot" in out and b"MAIN RAN" in out


# Fill the Python heap with 1000-byte objects until MemoryError, then ask C's malloc (the
# emscripten runtime's, as opendir and the JS glue use it) for 32 KB: both numbers printed.
FILL_HEAP = """
import js
malloc, free = js.Module._malloc, js.Module._free
keep = []
n = 0
try:
    while True:
        keep.append(bytearray(1000))
        n += 1
except MemoryError:
    pass
p = malloc(32768)
if p:
    free(p)
keep = None
print(n * 1000, p != 0)
"""


@pytest.mark.parametrize("board,heap_bytes", HEAP_CASES)
def test_heap_is_capped_at_the_profile(virtual_board_factory, board, heap_bytes):
    vb = virtual_board_factory(board=board, heap_bytes=heap_bytes)
    heap = heap_bytes or boards.load(board).heap_bytes
    with Device(vb.port) as dev:
        free = dev.eval("__import__('gc').mem_free()")
        assert 0.8 * heap < free <= heap
        # Small allocations cannot creep past the cap (the C pool never becomes Python heap),
        # and C keeps room while the Python heap is full.
        filled, c_room = dev.exec(FILL_HEAP).split()
        assert 0.8 * heap < int(filled) <= heap
        assert c_room == b"True"
        with pytest.raises(BoardException, match="MemoryError"):
            dev.exec(f"b = bytearray({heap + 1024})")
        assert dev.exec(f"b = bytearray({heap // 2}); print(len(b))").strip() == str(heap // 2).encode()


FS_OPS = """
import os
os.mkdir('d')
empty = os.listdir('d')
for i in range(40):
    f = open('d/f%02d.txt' % i, 'w')
    f.write('x' * i)
    f.close()
full = os.listdir('d')
sizes = {e[0]: e[3] for e in os.ilistdir('d')}
os.rename('d/f00.txt', 'd/g00.txt')
os.mkdir('d/sub')
os.rename('d/sub', 'd/sub2')
os.mkdir('e')
os.rmdir('e')
print(repr((empty, sorted(full), sizes, os.statvfs('/'))))
"""

FS_EMPTY_AGAIN = """
import os
for n in os.listdir('d'):
    (os.rmdir if n == 'sub2' else os.remove)('d/' + n)
print(repr(os.listdir('d')))
os.rmdir('d')
print(repr(sorted(os.listdir('/'))))
"""


@pytest.mark.parametrize("board,heap_bytes", HEAP_CASES)
def test_filesystem_calls_work_on_every_profile(virtual_board_factory, board, heap_bytes):
    """listdir of an empty and a full folder, mkdir/rmdir, rename, statvfs: C-side calls
    (opendir, stat) that must find malloc room however the heap cap fragmented it.
    Checked against the host folder that holds the board's filesystem."""
    vb = virtual_board_factory(board=board, heap_bytes=heap_bytes)
    flash = vb.flash_dir
    names = [f"f{i:02d}.txt" for i in range(40)]
    with Device(vb.port) as dev:
        empty, full, sizes, statvfs = ast.literal_eval(dev.exec(FS_OPS).decode())
        assert empty == []
        assert full == names
        assert sizes == {n: i for i, n in enumerate(names)}
        assert sorted(os.listdir(flash / "d")) == sorted(names[1:] + ["g00.txt", "sub2"])
        assert (flash / "d" / "sub2").is_dir() and not (flash / "e").exists()
        bsize, _, blocks, bfree = statvfs[:4]
        assert bsize * blocks == boards.load(board).fs_bytes // bsize * bsize
        assert 0 < bfree < blocks
        left, root = (ast.literal_eval(line) for line in dev.exec(FS_EMPTY_AGAIN).decode().split("\n")[:2])
        assert left == [] and "d" not in root
        assert not (flash / "d").exists()


def test_flash_dir_survives_restart_and_new_board(virtual_board_factory, tmp_path):
    flash = tmp_path / "flash"
    vb = virtual_board_factory(flash_dir=flash)
    with Device(vb.port) as dev:
        dev.exec("import os\nos.mkdir('lib')\nf = open('lib/m.py', 'w'); f.write('V = 7'); f.close()")
    assert (flash / "lib" / "m.py").read_text() == "V = 7"
    vb.restart()
    with Device(vb.port) as dev:
        assert dev.eval("__import__('m').V") == 7  # /lib is on sys.path, as on a board
    vb.stop()
    vb2 = virtual_board_factory(flash_dir=flash)
    with Device(vb2.port) as dev:
        dev.exec("import os\nos.remove('lib/m.py')")
    assert not (flash / "lib" / "m.py").exists()


def test_output_is_binary_safe(virtual_board):
    # Every byte value except \x04, which frames the raw REPL itself.
    payload = bytes(b for b in range(256) if b != 4) * 64
    with Device(virtual_board.port) as dev:
        out = dev.exec("import sys\nsys.stdout.buffer.write(bytes(b for b in range(256) if b != 4) * 64)")
    assert out == payload


def test_filesystem_reports_profile_size_and_refuses_overflow(virtual_board):
    fs_bytes = boards.load("rp2040").fs_bytes
    with Device(virtual_board.port) as dev:
        bsize, _, blocks = dev.eval("__import__('os').statvfs('/')[:3]")
        assert bsize * blocks == fs_bytes // bsize * bsize
        # errno 28 is ENOSPC; MicroPython prints the bare number for it, as a real board does.
        with pytest.raises(BoardException, match="OSError: 28"):
            dev.exec(f"f = open('big', 'wb')\nb = bytes(65536)\nfor i in range({fs_bytes // 65536 + 2}):\n"
                     "    f.write(b)\n")


def test_kbd_intr_off_passes_ctrl_c_as_data(virtual_board):
    # micropython.kbd_intr(-1) is how board code takes binary input containing 0x03.
    with Device(virtual_board.port) as dev:
        t = dev.transport
        t.exec_raw_no_follow(
            "import micropython, js, time\nmicropython.kbd_intr(-1)\ngot = []\n"
            "while len(got) < 3:\n    b = js.globalThis.edgeloopReadByte()\n"
            "    if b >= 0:\n        got.append(b)\n    time.sleep_ms(1)\n"
            "micropython.kbd_intr(3)\nprint(got)")
        time.sleep(0.3)
        t.serial.write(b"\x41\x03\x42")
        out, err = t.follow(5)
    assert err == b"" and out.strip() == b"[65, 3, 66]"


@pytest.fixture(scope="module")
def cache_root(tmp_path_factory):
    """One mpy-cross cache for the deploys below: the firmware compiles once, not per board."""
    return tmp_path_factory.mktemp("edgeloop-cache")


def staging_is_gone(vb, dev) -> bool:
    """deploy's /.edgeloop/stage was removed, as the board sees it and in the host folder."""
    from edgeloop.deploy.plan import STAGE

    parent, name = STAGE.rsplit("/", 1)
    return name not in dev.eval(f"__import__('os').listdir({parent!r})") and \
        not (vb.flash_dir / STAGE.lstrip("/")).exists()


@pytest.mark.parametrize("board", boards.names())
def test_firmware_deploys_to_every_profile(virtual_board_factory, cache_root, board):
    from edgeloop.deploy.firmware import deploy_firmware

    vb = virtual_board_factory(board=board)
    with Device(vb.port) as dev:
        result = deploy_firmware(dev, board=board, cache_dir=cache_root / "mpy")
        assert result.sent and not result.unchanged
        for remote in result.sent:
            assert (vb.flash_dir / remote.lstrip("/")).is_file(), remote
        assert f'"board": "{board}"' in (vb.flash_dir / ".edgeloop" / "manifest.json").read_text()
        assert staging_is_gone(vb, dev)
        assert dev.eval("__import__('edgeloop_fw').__name__") == "edgeloop_fw"


@pytest.mark.parametrize("board,heap_bytes", [pytest.param("esp32s3", None, id="esp32s3"),
                                              pytest.param("rp2040", 250_000, id="rp2040-heap250000")])
def test_deploy_removes_its_staging_folder_regression(virtual_board_factory, cache_root, monkeypatch,
                                                      board, heap_bytes):
    """FLASH-2's find: `edgeloop sim --board esp32s3` then `edgeloop deploy` failed when the
    deploy removed its emptied staging folder (os.listdir raised ENOMEM: the heap cap had left
    C's malloc no room for opendir). The same user path, through the CLI."""
    from click.testing import CliRunner

    from edgeloop.cli import cli

    monkeypatch.setenv("EDGELOOP_CACHE_DIR", str(cache_root))
    vb = virtual_board_factory(board=board, heap_bytes=heap_bytes)
    result = CliRunner().invoke(cli, ["deploy", "--port", vb.port, "--board", board])
    assert result.exit_code == 0, result.output
    with Device(vb.port) as dev:
        assert staging_is_gone(vb, dev)
        assert dev.eval("__import__('os').listdir('/.edgeloop')") != []  # the manifest is there
