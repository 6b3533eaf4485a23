"""`edgeloop flash --deploy` end to end: flash, the board comes back, is identified, gets
edgeloop's firmware and a model.

Only the USB side is replaced. `Bus` stands in for pyserial's list_ports.comports() (all
edgeloop sees of the bus) and for what the hardware does between two looks at it: the
RP2040 bootrom takes a UF2 dropped on its drive (parsed here from the UF2 spec, not with
edgeloop's reader), the drive goes away and the board comes back on USB serial; an
ESP32-S3 reset into its app after esptool wrote it drops the ROM's port and shows
MicroPython's. The board that comes back is a virtual board (real MicroPython on a pty),
so `edgeloop info`'s query and the deploy run for real, and what landed is checked on
the board itself and in its flash folder.
"""

from __future__ import annotations

import hashlib
import shutil
import struct
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest
import serial
from click.testing import CliRunner

from edgeloop.cli import cli
from edgeloop.link.device import Device
from edgeloop.deploy import circuitpy
from edgeloop.resources import firmware_dir

from tests.tools.espsim import protocol_espsim as espsim  # noqa: E402
from test_flash_esp import s3_image  # noqa: E402
from tests.tools.paths import REPO

if "tests.tools.espsim" not in serial.protocol_handler_packages:
    serial.protocol_handler_packages.append("tests.tools.espsim")

pytestmark = pytest.mark.sim
MODEL = REPO / "models" / "gesture" / "gesture.elm"
RP2040_FAMILY = 0xE48BFF56
XIP_BASE = 0x10000000


def usb_port(device, vid, pid, desc=""):
    return SimpleNamespace(device=device, vid=vid, pid=pid, description=desc)


class Bus:
    """The USB bus: the ports list_ports would report, and device reactions run on each look."""

    def __init__(self, factory):
        self.factory = factory
        self.ports = []
        self.reactions = []
        self.boards = []

    def comports(self):
        for react in list(self.reactions):
            react(self)
        return list(self.ports)

    def plug_virtual(self, board, vid, pid, desc="", **kw):
        vb = self.factory(board=board, **kw)
        self.boards.append(vb)
        self.ports.append(usb_port(vb.port, vid, pid, desc))
        return vb


@pytest.fixture
def bus(virtual_board_factory, monkeypatch):
    b = Bus(virtual_board_factory)
    monkeypatch.setattr("serial.tools.list_ports.comports", b.comports)
    return b


def bootrom_receive(raw: bytes) -> tuple[int, bytes]:
    """What the RP2040 bootrom writes for a UF2 file, per the spec's block layout
    (github.com/microsoft/uf2): every block checked, payloads placed by address."""
    assert len(raw) % 512 == 0
    payloads, counts = {}, set()
    for i in range(0, len(raw), 512):
        m0, m1, flags, addr, size, no, count, family = struct.unpack_from("<8I", raw, i)
        assert (m0, m1, struct.unpack_from("<I", raw, i + 508)[0]) == (0x0A324655, 0x9E5D5157, 0x0AB16F30)
        assert flags & 0x2000 and family == RP2040_FAMILY and size == 256 and addr % 256 == 0
        payloads[addr] = raw[i + 32:i + 32 + size]
        counts.add(count)
    assert counts == {len(payloads)}
    start = min(payloads)
    return start, b"".join(payloads[a] for a in sorted(payloads))


def rp2040_uf2(path: Path, data: bytes) -> None:
    """A UF2 made by esptool's UF2 writer (another implementation than edgeloop's)."""
    from esptool.uf2_writer import UF2Writer

    with UF2Writer(RP2040_FAMILY, str(path), chunk_size=256, md5_enabled=False) as w:
        w.add_file(XIP_BASE, data)


def board_sha256(port: str, remote: str) -> str:
    with Device(port) as dev:
        out = dev.exec("import hashlib, binascii\n"
                       f"print(binascii.hexlify(hashlib.sha256(open({remote!r}, 'rb').read()).digest()).decode())")
    return out.decode().strip()


def check_deployed(vb) -> None:
    """edgeloop_fw imports on the board after a hard reset (boot.py ran), and the model is
    there byte for byte, by the board's own hash and in its flash folder."""
    vb.restart()
    with Device(vb.port) as dev:
        assert dev.eval("__import__('edgeloop_fw').__name__") == "edgeloop_fw"
    want = hashlib.sha256(MODEL.read_bytes()).hexdigest()
    assert board_sha256(vb.port, "/models/gesture.elm") == want
    assert (Path(vb.flash_dir) / "models" / "gesture.elm").read_bytes() == MODEL.read_bytes()


def test_rp2040_flash_identify_deploy(tmp_path, bus):
    drive = tmp_path / "RPI-RP2"
    drive.mkdir()
    (drive / "INFO_UF2.TXT").write_text("UF2 Bootloader v3.0\nModel: Raspberry Pi RP2\nBoard-ID: RPI-RP2\n")
    data = bytes((i * 7 + (i >> 8)) & 0xFF for i in range(256 * 150))
    image = tmp_path / "RPI_PICO-test.uf2"
    rp2040_uf2(image, data)
    flashed = {}

    def bootrom(b):
        landed = list(drive.glob("*.uf2")) if drive.exists() else []
        if landed and not b.boards:
            flashed["image"] = bootrom_receive(landed[0].read_bytes())
            shutil.rmtree(drive)  # the bootrom reboots into the new firmware: the drive goes away
            b.plug_virtual("rp2040", 0x2E8A, 0x0005, "Board in FS mode")

    bus.reactions.append(bootrom)
    result = CliRunner().invoke(cli, ["flash", "--board", "rp2040", "--firmware", str(image), "--drive", str(drive),
                                      "--deploy", "--model", str(MODEL), "--wait", "15", "-v"])
    assert result.exit_code == 0, result.output
    assert "Traceback" not in result.output
    assert flashed["image"] == (XIP_BASE, data)
    (vb,) = bus.boards
    out = result.output
    assert f"the board is back on {vb.port}" in out
    assert "board: MicroPython 1.27.0" in out and "fits rp2040" in out
    assert f"$ cp {image} {drive}" in out  # -v names the copy
    assert f"deployed edgeloop to {vb.port} over serial" in out
    manifest = (Path(vb.flash_dir) / ".edgeloop" / "manifest.json").read_text()
    assert '"board": "rp2040"' in manifest
    check_deployed(vb)


def test_esp32s3_flash_identify_deploy(tmp_path, bus):
    chip = espsim.Chip()
    espsim.CHIPS["s3"] = chip
    bus.ports.append(usb_port("espsim://s3", 0x303A, 0x1001, "USB JTAG/serial debug unit"))
    image = tmp_path / "ESP32_GENERIC_S3-test.bin"
    image.write_bytes(s3_image(40000))

    def native_usb(b):
        wrote = any(e[0] == "write" for e in chip.events)
        if wrote and chip.events[-1] == ("reset", "app") and not b.boards:
            # MicroPython's TinyUSB port replaces the ROM's USB-Serial/JTAG one.
            b.ports[:] = [p for p in b.ports if p.device != "espsim://s3"]
            b.plug_virtual("esp32s3", 0x303A, 0x4001, "ESP32-S3 MicroPython")

    bus.reactions.append(native_usb)
    args = ["flash", "--board", "esp32s3", "--port", "espsim://s3", "--firmware", str(image), "--erase",
            "--deploy", "-m", str(MODEL), "--wait", "15", "-v"]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    kinds = [e[0] for e in chip.events]
    # download-mode reset, stub, erase before the write, MD5 verify, reset into the app
    assert kinds == ["reset", "stub", "erase", "write", "md5", "reset"], chip.events
    assert bytes(chip.flash[:40000]) == image.read_bytes() and chip.flash[40000:41000] == b"\xff" * 1000
    (vb,) = bus.boards
    assert "fits esp32s3" in result.output and f"deployed edgeloop to {vb.port} over serial" in result.output
    check_deployed(vb)

    # -v printed the exact esptool command: run it with esptool's own CLI on a second chip.
    (line,) = [ln for ln in result.output.splitlines() if ln.startswith("$ esptool ")]
    argv = line[2:].replace("espsim://s3", "espsim://s3b").split()
    twin = espsim.Chip()
    twin.flash[:4] = b"old!"
    espsim.CHIPS["s3b"] = twin
    import esptool

    try:
        esptool.main(argv[1:])
    except SystemExit as e:
        assert not e.code
    assert [e[0] for e in twin.events] == kinds and twin.flash == chip.flash


def test_circuitpython_without_drive_deploys_over_serial(virtual_board, tmp_path):
    """No CIRCUITPY drive mounted: the same files go through the serial REPL with the
    deploy library, boot.py enables usb_cdc.data and a reset is asked for. The virtual
    board runs MicroPython: boot.py's usb_cdc import fails there and is skipped."""
    vb = virtual_board
    no_drive = tmp_path / "media"
    no_drive.mkdir()
    r = circuitpy.deploy(port=vb.port, board="rp2040", models=[MODEL], points=[no_drive])
    assert r.via == "serial" and r.where == vb.port and r.reset_needed
    flash = Path(vb.flash_dir)
    boot = (flash / "boot.py").read_text()
    assert "usb_cdc.enable(console=True, data=True)" in boot and "# edgeloop: finish a deploy" in boot
    # sources as in firmware/, no .mpy (CircuitPython's format differs), nothing needing a native emitter or module
    fw = firmware_dir() / "edgeloop_fw"
    for src in fw.rglob("*.py"):
        on_board = flash / "lib" / src.relative_to(firmware_dir())
        native = any(b"@micropython." + kind in src.read_bytes() for kind in (b"viper", b"native", b"asm_xtensa", b"asm_thumb"))
        native = native or src.parent.name == "native" and src.parent.parent.name == "runtime"  # no elnative.mpy
        assert on_board.is_file() != native, src
        if not native:
            assert on_board.read_bytes() == src.read_bytes()
    assert not list((flash / "lib").rglob("*.mpy"))
    check_deployed(vb)
    again = circuitpy.deploy(port=vb.port, board="rp2040", models=[MODEL], points=[no_drive])
    assert again.written == [] and not again.reset_needed


def test_circuitpython_flash_then_deploy_through_the_drive(tmp_path, monkeypatch):
    """--circuitpython from the cache, the UF2 on RPI-RP2, no serial port (a CircuitPython
    board may show only its drive at first): the deploy goes to the CIRCUITPY drive that
    appears, and the user is told to reset once."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    name = "adafruit-circuitpython-raspberry_pi_pico-en_US-9.2.1.uf2"
    cache = tmp_path / "cache" / "edgeloop" / "firmware"
    cache.mkdir(parents=True)
    rp2040_uf2(cache / name, bytes(256 * 20))
    (cache / (name + ".sha256")).write_text(f"{hashlib.sha256((cache / name).read_bytes()).hexdigest()}  {name}\n")
    drive = tmp_path / "RPI-RP2"
    drive.mkdir()
    (drive / "INFO_UF2.TXT").write_text("UF2 Bootloader v3.0\nModel: Raspberry Pi RP2\nBoard-ID: RPI-RP2\n")
    circuitpy_drive = tmp_path / "CIRCUITPY"
    monkeypatch.setattr("serial.tools.list_ports.comports", lambda: [])

    def mounts():
        if drive.exists() and list(drive.glob("*.uf2")):
            bootrom_receive((cache / name).read_bytes())
            shutil.rmtree(drive)
            circuitpy_drive.mkdir()
            (circuitpy_drive / "boot_out.txt").write_text("Adafruit CircuitPython 9.2.1 on 2024-11-20; "
                                                          "Raspberry Pi Pico with rp2040\n")
        return [p for p in (drive, circuitpy_drive) if p.exists()]

    monkeypatch.setattr("edgeloop.link.detect.mount_points", mounts)
    result = CliRunner().invoke(cli, ["flash", "--board", "rp2040", "--circuitpython", "9.2.1", "--drive", str(drive),
                                      "--deploy", "-m", str(MODEL), "--wait", "0.5"])
    assert result.exit_code == 0, result.output
    mounts()
    assert f"deployed edgeloop to {circuitpy_drive} over drive" in result.output
    assert "press the board's reset button once" in result.output
    assert (circuitpy_drive / "models" / "gesture.elm").read_bytes() == MODEL.read_bytes()
    assert "usb_cdc.enable(console=True, data=True)" in (circuitpy_drive / "boot.py").read_text()
