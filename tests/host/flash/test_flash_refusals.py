"""Every way `edgeloop flash` can be refused or fail, through the CLI: one `edgeloop:` line
that says what to do, a non-zero exit, no traceback, and nothing half-written (the drive
holds no part of a file, the ESP flash is untouched, the cache holds no bad download).

External tools run for real where the machine allows (dfu-util -l, esptool's code against
the espsim ROM model); where a board would be needed, a stand-in executable on PATH plays
the tool and records the exact argv edgeloop ran.
"""

from __future__ import annotations

import errno
import io
import os
import shutil
import stat
import sys
import textwrap
import urllib.error
from pathlib import Path

import pytest
import serial
from click.testing import CliRunner

from edgeloop.boards import profiles as boards
from edgeloop.cli import cli
from edgeloop.errors import FlashError
from edgeloop.flash import rp2, uf2

from tests.tools.espsim import protocol_espsim as espsim  # noqa: E402
from test_flash_esp import s3_image  # noqa: E402
from test_flash_formats import _dfuse_body, _with_suffix  # noqa: E402

if "tests.tools.espsim" not in serial.protocol_handler_packages:
    serial.protocol_handler_packages.append("tests.tools.espsim")


def invoke(args):
    return CliRunner().invoke(cli, args)


def one_line_failure(result) -> str:
    assert result.exit_code != 0, result.output
    assert "Traceback" not in result.output
    lines = [ln for ln in result.output.splitlines() if ln.startswith("edgeloop:")]
    assert len(lines) == 1, result.output
    return lines[0]


@pytest.fixture
def rpi_rp2(tmp_path):
    d = tmp_path / "RPI-RP2"
    d.mkdir()
    (d / "INFO_UF2.TXT").write_text("UF2 Bootloader v3.0\nModel: Raspberry Pi RP2\nBoard-ID: RPI-RP2\n")
    return d


@pytest.fixture
def good_uf2(tmp_path):
    p = tmp_path / "RPI_PICO-x.uf2"
    p.write_bytes(uf2.write(bytes(range(256)) * 8, 0x10000000, uf2.RP2040_FAMILY))
    return p


@pytest.fixture
def no_usb(monkeypatch):
    """Nothing plugged in: no serial ports, no mounted drives."""
    monkeypatch.setattr("serial.tools.list_ports.comports", lambda: [])
    monkeypatch.setattr("edgeloop.link.detect.mount_points", lambda *a: [])


def tool(bin_dir: Path, name: str, script: str) -> Path:
    """A stand-in executable: a Python script that records its argv next to itself."""
    bin_dir.mkdir(exist_ok=True)
    path = bin_dir / name
    path.write_text(f"#!{sys.executable}\nimport sys\n"
                    f"open({str(bin_dir / (name + '.argv'))!r}, 'a').write(repr(sys.argv[1:]) + '\\n')\n"
                    + textwrap.dedent(script))
    path.chmod(path.stat().st_mode | stat.S_IEXEC)
    return path


def recorded(bin_dir: Path, name: str) -> list[list[str]]:
    import ast

    f = bin_dir / (name + ".argv")
    return [ast.literal_eval(ln) for ln in f.read_text().splitlines()] if f.exists() else []


# -- RP2040 ---------------------------------------------------------------------

def test_no_drive_and_no_port(good_uf2, no_usb, monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))  # no picotool either
    line = one_line_failure(invoke(["flash", "--board", "rp2040", "--firmware", str(good_uf2)]))
    assert "no RPI-RP2 drive found: hold BOOTSEL" in line and "--drive PATH" in line


def test_port_that_is_not_there(good_uf2, no_usb):
    line = one_line_failure(invoke(["flash", "--board", "rp2040", "--firmware", str(good_uf2),
                                    "--port", "/dev/ttyEDGELOOP-none"]))
    assert "cannot reach the board on /dev/ttyEDGELOOP-none" in line and "hold BOOTSEL" in line


@pytest.mark.sim
def test_running_board_that_does_not_reach_bootsel(good_uf2, no_usb, virtual_board, monkeypatch, tmp_path):
    """The virtual board has no machine.bootloader(): edgeloop falls back to the 1200-baud
    touch, no RPI-RP2 drive appears, and the user is told to hold BOOTSEL."""
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    result = invoke(["flash", "--board", "rp2040", "--firmware", str(good_uf2), "--port", virtual_board.port,
                     "--wait", "1", "-v"])
    assert "entered bootloader with 1200-baud touch" in result.output
    assert "no RPI-RP2 drive found" in one_line_failure(result)


def test_copy_interrupted_leaves_no_part_file(good_uf2, rpi_rp2):
    calls = []

    def unplugged(done, total):
        calls.append(done)
        raise OSError(errno.EIO, "Input/output error")

    big = good_uf2.with_name("big.uf2")
    big.write_bytes(uf2.write(bytes(256 * 200), 0x10000000, uf2.RP2040_FAMILY))
    with pytest.raises(FlashError, match="stopped \\(Input/output error\\); the board stays in BOOTSEL"):
        rp2.copy_to_drive(big, rpi_rp2, boards.load("rp2040"), progress=unplugged)
    assert calls and sorted(p.name for p in rpi_rp2.iterdir()) == ["INFO_UF2.TXT"]


def test_picotool_used_without_a_drive(good_uf2, no_usb, monkeypatch, tmp_path):
    bin_dir = tmp_path / "bin"
    exe = tool(bin_dir, "picotool", "print('Loading into Flash: [==============================]  100%')\n")
    monkeypatch.setenv("PATH", str(bin_dir))
    result = invoke(["flash", "--board", "rp2040", "--firmware", str(good_uf2), "--wait", "0.2", "-v"])
    assert result.exit_code == 0, result.output
    assert recorded(bin_dir, "picotool") == [["load", "-x", "-f", str(good_uf2)]]
    assert f"$ {exe} load -x -f {good_uf2}" in result.output


def test_picotool_failing(good_uf2, no_usb, monkeypatch, tmp_path):
    bin_dir = tmp_path / "bin"
    tool(bin_dir, "picotool", "print('No accessible RP-series devices in BOOTSEL mode were found.')\n"
                              "sys.exit(245)\n")
    monkeypatch.setenv("PATH", str(bin_dir))
    line = one_line_failure(invoke(["flash", "--board", "rp2040", "--firmware", str(good_uf2)]))
    assert "picotool failed: No accessible RP-series devices" in line and "hold BOOTSEL" in line


def test_model_checked_before_flashing(good_uf2, rpi_rp2, tmp_path):
    line = one_line_failure(invoke(["flash", "--board", "rp2040", "--firmware", str(good_uf2), "--drive",
                                    str(rpi_rp2), "--deploy", "-m", str(tmp_path / "missing.elm")]))
    assert "missing.elm does not exist" in line
    assert "--model goes with --deploy" in one_line_failure(
        invoke(["flash", "--board", "rp2040", "--firmware", str(good_uf2), "--drive", str(rpi_rp2),
                "-m", str(good_uf2)]))
    assert sorted(p.name for p in rpi_rp2.iterdir()) == ["INFO_UF2.TXT"]


# -- downloads -----------------------------------------------------------------

class Response(io.BytesIO):
    headers = {}

    def __enter__(self):
        return self

    def __exit__(self, *a):
        self.close()


def test_download_failing_its_hash(rpi_rp2, no_usb, monkeypatch, tmp_path):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    urls = []
    body = uf2.write(bytes(512), 0x10000000, uf2.RP2040_FAMILY)
    monkeypatch.setattr("urllib.request.urlopen", lambda url, timeout: urls.append(url) or Response(body))
    line = one_line_failure(invoke(["flash", "--board", "rp2040", "--micropython", "1.24.1", "--drive", str(rpi_rp2),
                                    "--sha256", "ab" * 32]))
    assert urls == ["https://micropython.org/resources/firmware/RPI_PICO-20241129-v1.24.1.uf2"]
    assert "has SHA-256" in line and "expected " + "ab" * 32 in line and "nothing was flashed" in line
    assert list((tmp_path / "cache" / "edgeloop" / "firmware").iterdir()) == []
    assert sorted(p.name for p in rpi_rp2.iterdir()) == ["INFO_UF2.TXT"]


def test_offline_names_url_and_path(rpi_rp2, no_usb, monkeypatch, tmp_path):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))

    def offline(url, timeout):
        raise urllib.error.URLError("Temporary failure in name resolution")

    monkeypatch.setattr("urllib.request.urlopen", offline)
    line = one_line_failure(invoke(["flash", "--board", "esp32s3", "--micropython", "1.24.1", "--port", "x"]))
    name = "ESP32_GENERIC_S3-20241129-v1.24.1.bin"
    assert f"cannot download https://micropython.org/resources/firmware/{name}" in line
    assert f"save it as {tmp_path / 'cache' / 'edgeloop' / 'firmware' / name}" in line


# -- ESP32-S3 ------------------------------------------------------------------

@pytest.fixture
def s3_bin(tmp_path):
    p = tmp_path / "s3.bin"
    p.write_bytes(s3_image(30000))
    return p


def test_esp_not_in_download_mode(s3_bin, no_usb, monkeypatch):
    chip = espsim.Chip()
    chip.flash[:4] = b"keep"
    espsim.CHIPS["silent"] = chip
    monkeypatch.setattr(espsim.Serial, "_handle", lambda self, frame: None)
    line = one_line_failure(invoke(["flash", "--board", "esp32s3", "--port", "espsim://silent", "--erase",
                                    "--firmware", str(s3_bin)]))
    assert "not in download mode: hold BOOT, tap RESET, release BOOT" in line
    assert bytes(chip.flash[:4]) == b"keep"


def test_esp_port_missing(s3_bin, no_usb):
    line = one_line_failure(invoke(["flash", "--board", "esp32s3", "--port", "/dev/ttyEDGELOOP-none",
                                    "--firmware", str(s3_bin)]))
    assert "/dev/ttyEDGELOOP-none" in line and "edgeloop devices" in line


def test_esp_connection_lost_while_writing(s3_bin, no_usb, monkeypatch):
    chip = espsim.Chip()
    espsim.CHIPS["drop"] = chip
    handle = espsim.Serial._handle

    def dropping(self, frame):
        if frame[1:2] == b"\x11" and any(e == ("stub",) for e in chip.events):  # first compressed data block
            chip.en = False  # the cable is pulled: nothing answers from here on
        return handle(self, frame)

    monkeypatch.setattr(espsim.Serial, "_handle", dropping)
    line = one_line_failure(invoke(["flash", "--board", "esp32s3", "--port", "espsim://drop",
                                    "--firmware", str(s3_bin)]))
    assert "flashing esp32s3 on espsim://drop failed" in line and "run the same command again" in line


def test_esp_image_for_another_chip_never_opens_the_port(tmp_path, no_usb):
    c3 = tmp_path / "c3.bin"
    c3.write_bytes(s3_image(chip_id=5))
    espsim.CHIPS["untouched"] = chip = espsim.Chip()
    line = one_line_failure(invoke(["flash", "--board", "esp32s3", "--port", "espsim://untouched", "--erase",
                                    "--firmware", str(c3)]))
    assert "built for ESP32-C3, but esp32s3 is an ESP32-S3" in line and chip.events == []


# -- Nicla Vision (dfu-util) -------------------------------------------------------

@pytest.fixture
def nicla_dfu(tmp_path):
    p = tmp_path / "nicla.dfu"
    p.write_bytes(_with_suffix(_dfuse_body([(0x08040000, bytes(range(256)) * 16)])))
    return p


@pytest.mark.skipif(not shutil.which("dfu-util"), reason="dfu-util is not installed (make setup)")
def test_dfu_util_finds_no_board_in_dfu_mode(nicla_dfu, no_usb):
    """The real dfu-util looks at the real USB bus, where no Nicla Vision is."""
    line = one_line_failure(invoke(["flash", "--board", "nicla_vision", "--firmware", str(nicla_dfu)]))
    assert "is not in DFU mode: double-tap its reset button" in line


def test_dfu_util_missing(nicla_dfu, no_usb, monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    line = one_line_failure(invoke(["flash", "--board", "nicla_vision", "--firmware", str(nicla_dfu)]))
    assert "dfu-util is not installed" in line and "apt install dfu-util" in line


DFU_LIST = "print('Found DFU: [2341:035f] ver=0200, devnum=7, cfg=1, intf=0, path=\"1-1\", alt=0, name=\"@Internal Flash\"')\n"


def test_dfu_util_failing(nicla_dfu, no_usb, monkeypatch, tmp_path):
    bin_dir = tmp_path / "bin"
    exe = tool(bin_dir, "dfu-util", f"""\
        if '-l' in sys.argv:
            {DFU_LIST}
            sys.exit(0)
        print('Download\\t[=====                    ]  21%', flush=True)
        print('dfu-util: Error during download get_status')
        sys.exit(74)
        """)
    monkeypatch.setenv("PATH", str(bin_dir))
    result = invoke(["flash", "--board", "nicla_vision", "--firmware", str(nicla_dfu), "-v"])
    line = one_line_failure(result)
    assert "dfu-util failed (exit 74): dfu-util: Error during download get_status" in line
    assert "double-tap reset" in line
    argv = ["-w", "-d", "2341:035f", "-a", "0", "-D", str(nicla_dfu)]
    assert recorded(bin_dir, "dfu-util")[-1] == argv
    assert f"$ {exe} {' '.join(argv)}" in result.output


def test_dfu_util_success_reports_progress(nicla_dfu, no_usb, monkeypatch, tmp_path):
    bin_dir = tmp_path / "bin"
    tool(bin_dir, "dfu-util", f"""\
        if '-l' in sys.argv:
            {DFU_LIST}
            sys.exit(0)
        for p in (0, 40, 100):
            print(f'Download\\t[====]  {{p}}%', flush=True)
        """)
    monkeypatch.setenv("PATH", str(bin_dir))
    seen = []
    from edgeloop.flash import dfu

    dfu.flash(nicla_dfu, boards.load("nicla_vision"), progress=seen.append)
    assert seen == [0, 40, 100]
    result = invoke(["flash", "--board", "nicla_vision", "--firmware", str(nicla_dfu), "--wait", "0.2"])
    assert result.exit_code == 0 and "flashed nicla.dfu to nicla_vision" in result.output
    assert "did not show up on serial yet" in result.output


# -- detection: asking the running firmware ------------------------------------------

@pytest.mark.sim
def test_devices_ask_the_firmware(monkeypatch, tmp_path):
    """`edgeloop devices --ask`: a board found by USB ID that cannot be opened says why; a
    running (virtual) board answers with its firmware, .mpy, heap and the profile it fits."""
    from types import SimpleNamespace

    from edgeloop.sim import VirtualBoard

    monkeypatch.setenv("EDGELOOP_RUNTIME_DIR", str(tmp_path / "runtime"))
    monkeypatch.setenv("COLUMNS", "300")  # one table row per line
    gone = SimpleNamespace(device="/dev/ttyEDGELOOP-gone", vid=0x2E8A, pid=0x0005, description="Board in FS mode")
    monkeypatch.setattr("serial.tools.list_ports.comports", lambda: [gone])
    with VirtualBoard("esp32s3") as vb:
        result = CliRunner().invoke(cli, ["devices", "--ask", "--yes"])  # --yes: the USB board is not ours
    assert result.exit_code == 0, result.output
    rows = {ln.split()[0]: ln for ln in result.output.splitlines() if ln.strip().startswith("/dev/")}
    assert "MicroPython 1.27.0, .mpy 6.3/none" in rows[vb.port] and "fits esp32s3" in rows[vb.port]
    assert "KiB free" in rows[vb.port]
    assert "cannot ask: no board at /dev/ttyEDGELOOP-gone" in rows["/dev/ttyEDGELOOP-gone"]
