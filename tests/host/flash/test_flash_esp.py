"""The ESP32-S3 path through esptool's real code; only the serial port is replaced, by an
ESP ROM loader model reached through pyserial's URL handlers (tests/tools/espsim)."""

from __future__ import annotations

import struct
import sys
from pathlib import Path

import pytest
import serial

from edgeloop.boards import profiles as boards
from edgeloop.errors import FlashError
from edgeloop.flash import esp

from tests.tools.espsim import protocol_espsim as sim  # noqa: E402

if "tests.tools.espsim" not in serial.protocol_handler_packages:
    serial.protocol_handler_packages.append("tests.tools.espsim")


def s3_image(size=20000, chip_id=9) -> bytes:
    # ESP image header: magic 0xE9, segments, flash mode, size/freq, entry, then the extended header
    # whose bytes 12-13 are the chip ID (esptool bin_image.py layout).
    head = bytes([0xE9, 3, 2, 0x3F]) + struct.pack("<I", 0x40375000) + bytes([0xEE, 0, 0, 0])
    head += struct.pack("<H", chip_id) + bytes(10)
    return head + bytes((i * 31) & 0xFF for i in range(size - len(head)))


@pytest.fixture
def profile():
    return boards.load("esp32s3")


def run(tmp_path, profile, chip, **kw):
    sim.CHIPS["t"] = chip
    image = tmp_path / "fw.bin"
    image.write_bytes(kw.pop("data", None) or s3_image())
    return image, esp.flash("espsim://t", profile, image, stub=False, **kw)


def test_usb_uart_reset_write_verify(tmp_path, profile):
    chip = sim.Chip()
    seen = []
    image, lines = run(tmp_path, profile, chip, progress=lambda d, t: seen.append((d, t)))
    data = image.read_bytes()
    assert chip.events[0] == ("reset", "download")          # DTR/RTS sequence put the ROM in download mode
    assert ("write", 0, len(data)) in chip.events and ("md5", 0, len(data)) in chip.events
    assert bytes(chip.flash[:len(data)]) == data
    assert chip.events[-1] == ("reset", "app")              # hard reset back into the new firmware
    assert seen and any("verified" in ln.lower() for ln in lines)


def test_erase_without_stub_refused_before_writing(tmp_path, profile):
    """The ROM has no chip erase (only esptool's stub does): refused, flash untouched."""
    chip = sim.Chip()
    chip.flash[0x200000:0x200004] = b"old!"
    with pytest.raises(FlashError, match="erasing needs esptool's flasher stub"):
        run(tmp_path, profile, chip, erase=True)
    assert bytes(chip.flash[0x200000:0x200004]) == b"old!" and not any(e[0] == "write" for e in chip.events)


def test_wrong_chip_refused_before_erase(tmp_path, profile):
    chip = sim.Chip(chip_id=5)  # an ESP32-C3 on the port
    chip.flash[:4] = b"keep"
    with pytest.raises(FlashError, match="is an ESP32-C3, not the ESP32-S3"):
        run(tmp_path, profile, chip, erase=True)
    assert bytes(chip.flash[:4]) == b"keep" and not any(e[0] in ("erase", "write") for e in chip.events)


def test_image_for_other_chip_refused_without_opening_port(tmp_path, profile):
    chip = sim.Chip()
    with pytest.raises(FlashError, match="built for ESP32-C3"):
        run(tmp_path, profile, chip, data=s3_image(chip_id=5), erase=True)
    assert chip.events == []


def test_board_not_in_download_mode(tmp_path, profile, monkeypatch):
    class Dead(sim.Chip):
        pass

    chip = Dead()
    monkeypatch.setattr(sim.Serial, "_handle", lambda self, frame: None)  # a chip that never answers
    with pytest.raises(FlashError, match="not in download mode: hold BOOT"):
        run(tmp_path, profile, chip)
    assert not any(e[0] == "write" for e in chip.events)
