"""Detection from recorded list_ports data, firmware download/cache (a local HTTP server
stands in for micropython.org), CIRCUITPY and RPI-RP2 drives as temporary folders, and
the `edgeloop flash` refusals."""

from __future__ import annotations

import functools
import hashlib
import http.server
import shutil
import threading
from pathlib import Path
from types import SimpleNamespace

import pytest
from click.testing import CliRunner

from edgeloop.boards import profiles as boards
from edgeloop.cli import cli
from edgeloop.errors import DeployError, FlashError
from edgeloop.flash import firmware, rp2, uf2
from edgeloop.link import detect
from edgeloop.deploy import circuitpy


def port(device, vid, pid, desc=""):
    return SimpleNamespace(device=device, vid=vid, pid=pid, description=desc)


# Recorded `list_ports.comports()` fields (device, vid, pid) for each kind of board and mode.
RECORDED = [
    port("/dev/ttyACM0", 0x2E8A, 0x0005, "Board in FS mode"),          # Pico, MicroPython
    port("/dev/ttyACM1", 0x303A, 0x1001, "USB JTAG/serial debug unit"),  # ESP32-S3 ROM download mode
    port("/dev/ttyACM2", 0x2341, 0x045F, "Nicla Vision Virtual Comm Port"),
    port("/dev/ttyUSB0", 0x10C4, 0xEA60, "CP2102N USB to UART Bridge"),
    port("/dev/ttyS0", None, None, "n/a"),
    port("/dev/ttyACM3", 0x239A, 0x80F4, "Pico - CircuitPython CDC control"),
]


def test_detect_from_recorded_ports():
    found = {f.where: f for f in detect.scan_ports(RECORDED)}
    assert "/dev/ttyS0" not in found
    assert found["/dev/ttyACM0"].boards == ("rp2040",) and found["/dev/ttyACM0"].mode == "normal"
    s3 = found["/dev/ttyACM1"]
    assert s3.mode == "bootloader" and s3.boards == ("esp32s3", "esp32s3_spiram") and s3.firmware == "rom"
    assert found["/dev/ttyACM2"].boards == ("nicla_vision",)
    assert found["/dev/ttyUSB0"].firmware == "usb-uart" and "esp32s3" in found["/dev/ttyUSB0"].boards
    assert found["/dev/ttyACM3"].firmware == "circuitpython"


def test_detect_drives_and_dfu(tmp_path):
    rp = tmp_path / "RPI-RP2"
    rp.mkdir()
    (rp / "INFO_UF2.TXT").write_text("UF2 Bootloader v3.0\nModel: Raspberry Pi RP2\nBoard-ID: RPI-RP2\n")
    cp = tmp_path / "CIRCUITPY"
    cp.mkdir()
    (cp / "boot_out.txt").write_text("Adafruit CircuitPython 9.2.1 on 2024-11-20; Raspberry Pi Pico with rp2040\n")
    sysfs = tmp_path / "sys"
    for name, vid, pid in (("1-1", "2341", "035f"), ("1-2", "2e8a", "0003"), ("1-3", "046d", "c52b")):
        d = sysfs / name
        d.mkdir(parents=True)
        (d / "idVendor").write_text(vid + "\n")
        (d / "idProduct").write_text(pid + "\n")
    got = detect.bootloader_devices(ports=RECORDED, points=[rp, cp, tmp_path / "nothing"], sysfs=sysfs)
    kinds = {(f.kind, f.boards) for f in got}
    assert ("serial", ("esp32s3", "esp32s3_spiram")) in kinds
    assert ("drive", ("nano_rp2040_connect", "rp2040")) in kinds or ("drive", ("rp2040", "nano_rp2040_connect")) in kinds
    assert ("usb", ("nicla_vision",)) in kinds
    assert len(got) == 3  # BOOTSEL's bare USB device is the drive already; the mouse is nobody's
    assert detect.find_uf2_drive(boards.load("rp2040"), [cp, rp]) == rp
    assert detect.find_uf2_drive(boards.load("rp2040"), [cp]) is None


def test_mount_table_parsing(tmp_path):
    mounts = tmp_path / "mounts"
    mounts.write_text("/dev/sda1 /media/u/RPI\\040RP2 vfat rw 0 0\n/dev/nvme0 / ext4 rw 0 0\n")
    assert Path("/media/u/RPI RP2") in detect.mount_points(str(mounts))
    assert Path("/") not in detect.mount_points(str(mounts))


# -- firmware ------------------------------------------------------------------

def test_resolve_official_urls():
    pico = boards.load("rp2040")
    fw = firmware.resolve(pico, "micropython", "v1.24.1")
    assert fw.url == "https://micropython.org/resources/firmware/RPI_PICO-20241129-v1.24.1.uf2"
    s3 = firmware.resolve(boards.load("esp32s3_spiram"), "micropython", "1.27.0")
    assert s3.filename == "ESP32_GENERIC_S3-SPIRAM_OCT-20251209-v1.27.0.bin"
    assert s3.page == "https://micropython.org/download/ESP32_GENERIC_S3/"
    cp = firmware.resolve(pico, "circuitpython", "9.2.1")
    assert cp.url == ("https://downloads.circuitpython.org/bin/raspberry_pi_pico/en_US/"
                      "adafruit-circuitpython-raspberry_pi_pico-en_US-9.2.1.uf2")
    page = '<a href="/resources/firmware/RPI_PICO-20260301-v1.28.0.uf2">'
    assert firmware.resolve(pico, "micropython", "1.28.0", fetch_page=lambda u: page).filename == \
        "RPI_PICO-20260301-v1.28.0.uf2"
    with pytest.raises(FlashError, match="not listed"):
        firmware.resolve(pico, "micropython", "1.99.0", fetch_page=lambda u: page)
    with pytest.raises(FlashError, match="no CircuitPython build for nicla_vision"):
        firmware.resolve(boards.load("nicla_vision"), "circuitpython", "9.2.1")
    with pytest.raises(FlashError, match="not a release number"):
        firmware.resolve(pico, "micropython", "latest")


@pytest.fixture
def server(tmp_path):
    root = tmp_path / "www"
    root.mkdir()
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(root))
    handler.log_message = lambda *a: None
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield root, f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()


def test_download_cache_and_hash(tmp_path, server):
    root, base = server
    body = uf2.write(bytes(5000), 0x10000000, uf2.RP2040_FAMILY)
    (root / "RPI_PICO-x.uf2").write_bytes(body)
    fw = firmware.Firmware(f"{base}/RPI_PICO-x.uf2", "RPI_PICO-x.uf2", "micropython", "1.0.0")
    cache = tmp_path / "cache"
    seen = []
    path = firmware.fetch(fw, directory=cache, progress=lambda d, t: seen.append((d, t)))
    assert path.read_bytes() == body and seen[-1] == (len(body), len(body))
    digest = hashlib.sha256(body).hexdigest()
    assert (cache / "RPI_PICO-x.uf2.sha256").read_text().split()[0] == digest
    (root / "RPI_PICO-x.uf2").unlink()  # second call is served from the cache
    assert firmware.fetch(fw, directory=cache, expected_sha256=digest) == path
    # a corrupted cache is noticed and re-fetched (here: the server no longer has it)
    path.write_bytes(b"x")
    with pytest.raises(FlashError, match="cannot download .*save it as"):
        firmware.fetch(fw, directory=cache)
    assert sorted(p.name for p in cache.iterdir()) == []


def test_download_failing_its_hash_leaves_nothing(tmp_path, server):
    root, base = server
    (root / "f.uf2").write_bytes(b"tampered")
    fw = firmware.Firmware(f"{base}/f.uf2", "f.uf2", "micropython", "1.0.0")
    with pytest.raises(FlashError, match="expected 00+; .*nothing was flashed|expected 0+: the download"):
        firmware.fetch(fw, directory=tmp_path / "c", expected_sha256="0" * 64)
    assert list((tmp_path / "c").iterdir()) == []


def test_offline_says_which_url_and_where(tmp_path):
    fw = firmware.Firmware("http://127.0.0.1:9/RPI_PICO-20241129-v1.24.1.uf2", "RPI_PICO-20241129-v1.24.1.uf2",
                           "micropython", "1.24.1")
    with pytest.raises(FlashError) as e:
        firmware.fetch(fw, directory=tmp_path)
    assert fw.url in str(e.value) and str(tmp_path / fw.filename) in str(e.value)
    assert list(tmp_path.iterdir()) == []


# -- drives --------------------------------------------------------------------

@pytest.fixture
def rpi_rp2(tmp_path):
    d = tmp_path / "RPI-RP2"
    d.mkdir()
    (d / "INFO_UF2.TXT").write_text("UF2 Bootloader v3.0\nModel: Raspberry Pi RP2\nBoard-ID: RPI-RP2\n")
    return d


def test_uf2_copy_to_drive(tmp_path, rpi_rp2):
    image = tmp_path / "fw.uf2"
    image.write_bytes(uf2.write(bytes(range(256)) * 64, 0x10000000, uf2.RP2040_FAMILY))
    rp2.copy_to_drive(image, rpi_rp2, boards.load("rp2040"))
    assert (rpi_rp2 / "fw.uf2").read_bytes() == image.read_bytes()


def test_wrong_uf2_never_reaches_the_drive(tmp_path, rpi_rp2):
    image = tmp_path / "s3.uf2"
    image.write_bytes(uf2.write(bytes(1024), 0, 0xC47E5767))
    with pytest.raises(FlashError, match="ESP32-S3"):
        rp2.copy_to_drive(image, rpi_rp2, boards.load("rp2040"))
    assert sorted(p.name for p in rpi_rp2.iterdir()) == ["INFO_UF2.TXT"]
    with pytest.raises(FlashError, match="not a UF2 bootloader drive"):
        good = tmp_path / "g.uf2"
        good.write_bytes(uf2.write(bytes(256), 0x10000000, uf2.RP2040_FAMILY))
        rp2.copy_to_drive(good, tmp_path, boards.load("rp2040"))


@pytest.fixture
def circuitpy_drive(tmp_path):
    d = tmp_path / "CIRCUITPY"
    d.mkdir()
    (d / "boot_out.txt").write_text("Adafruit CircuitPython 9.2.1 on 2024-11-20; Raspberry Pi Pico with rp2040\n")
    return d


def test_circuitpy_deploy_atomic_and_verified(circuitpy_drive):
    files = [SimpleNamespace(remote="/main.py", data=b"import edgeloop_fw\n"),
             SimpleNamespace(remote="/boot.py", data=b"# app boot\n"),
             SimpleNamespace(remote="/lib/edgeloop_fw/__init__.py", data=b"X = 1\n")]
    order = []
    r = circuitpy.deploy_to_drive(circuitpy.find_drive([circuitpy_drive]), files,
                                  progress=lambda d, t, name: order.append(name))
    assert order[-2:] in (["/boot.py", "/main.py"], ["/main.py", "/boot.py"]) and order[0].startswith("/lib/")
    boot = (circuitpy_drive / "boot.py").read_text()
    assert "usb_cdc.enable(console=True, data=True)" in boot and boot.endswith("# app boot\n")
    assert r.reset_needed
    assert not any(p.name.startswith(".edgeloop-tmp-") for p in circuitpy_drive.rglob("*"))
    again = circuitpy.deploy_to_drive(circuitpy_drive, files)
    assert again.written == [] and not again.reset_needed and len(again.unchanged) == 3


def test_circuitpy_real_firmware_tree(circuitpy_drive):
    r = circuitpy.deploy(drive=circuitpy_drive)
    assert (circuitpy_drive / "lib" / "edgeloop_fw" / "__init__.py").is_file()
    assert all(not w.endswith(".mpy") for w in r.written)


def test_circuitpy_errors(tmp_path):
    with pytest.raises(DeployError, match="no CIRCUITPY drive is mounted"):
        circuitpy.find_drive([tmp_path])
    with pytest.raises(DeployError, match="not a CIRCUITPY drive"):
        circuitpy.find_drive(given=tmp_path)


def test_circuitpy_not_enough_space(circuitpy_drive, monkeypatch):
    monkeypatch.setattr(shutil, "disk_usage", lambda p: SimpleNamespace(total=100, used=90, free=10))
    with pytest.raises(DeployError, match="only 10 are free"):
        circuitpy.deploy_to_drive(circuitpy_drive, [SimpleNamespace(remote="/a.py", data=b"x" * 100)])
    assert not (circuitpy_drive / "a.py").exists()


# -- CLI refusals ----------------------------------------------------------------

def _one_line_failure(args):
    result = CliRunner().invoke(cli, args)
    assert result.exit_code != 0, result.output
    assert "Traceback" not in result.output
    lines = [ln for ln in result.output.strip().splitlines() if ln.startswith("edgeloop:")]
    assert len(lines) == 1, result.output
    return lines[0]


def test_cli_refusals(tmp_path, rpi_rp2):
    s3_uf2 = tmp_path / "s3.uf2"
    s3_uf2.write_bytes(uf2.write(bytes(1024), 0, 0xC47E5767))
    assert "ESP32-S3" in _one_line_failure(["flash", "--board", "rp2040", "--firmware", str(s3_uf2),
                                            "--drive", str(rpi_rp2)])
    assert sorted(p.name for p in rpi_rp2.iterdir()) == ["INFO_UF2.TXT"]
    good = tmp_path / "good.uf2"
    good.write_bytes(uf2.write(bytes(256), 0x10000000, uf2.RP2040_FAMILY))
    assert "not a UF2 bootloader drive" in _one_line_failure(
        ["flash", "--board", "rp2040", "--firmware", str(good), "--drive", str(tmp_path / "x")])
    # an ESP32-S3 image for the wrong chip: refused before any port is opened
    c3 = tmp_path / "c3.bin"
    c3.write_bytes(bytes([0xE9, 3, 2, 0x20]) + bytes(8) + bytes([5, 0]) + bytes(30))
    assert "built for ESP32-C3" in _one_line_failure(["flash", "--board", "esp32s3", "--firmware", str(c3),
                                                      "--port", "/dev/nonexistent", "--erase"])
    assert "unknown board" in _one_line_failure(["flash", "--board", "pico9", "--firmware", str(good)])
    assert "exactly one of" in _one_line_failure(["flash", "--board", "rp2040"])
    assert "--erase applies to esptool" in _one_line_failure(["flash", "--board", "rp2040", "--erase",
                                                              "--firmware", str(good)])


def test_cli_help_has_examples():
    result = CliRunner().invoke(cli, ["flash", "--help"])
    assert result.exit_code == 0 and "edgeloop flash --board rp2040" in result.output
