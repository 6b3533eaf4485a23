"""Finding a CircuitPython board's usb_cdc data port from its console port (link.discover.data_port).

A real board enumerates the data channel as a second CDC ACM interface of the same USB device
(CircuitPython's descriptors: console on interface 0, data on interface 2), so the same USB
serial number, at a higher interface; a virtual board names it in the sim registry once its
boot.py enabled it.
"""

from __future__ import annotations

import os

from edgeloop.link.discover import data_port
from edgeloop.sim import registry


class Port:
    def __init__(self, device, serial_number, location, vid=0x239A, pid=0x80F4):
        self.device, self.serial_number, self.location, self.vid, self.pid = device, serial_number, location, vid, pid


def test_the_second_cdc_interface_of_the_same_board(monkeypatch, tmp_path):
    monkeypatch.setenv("EDGELOOP_RUNTIME_DIR", str(tmp_path / "run"))
    ports = [Port("/dev/ttyACM1", "E6614C", "1-1:1.2"), Port("/dev/ttyACM0", "E6614C", "1-1:1.0"),
             Port("/dev/ttyACM2", "A0B1C2", "1-2:1.0"), Port("/dev/ttyACM3", "A0B1C2", "1-2:1.2"),
             Port("/dev/ttyUSB0", None, "1-3:1.0", vid=0x10C4, pid=0xEA60)]
    assert data_port("/dev/ttyACM0", ports) == "/dev/ttyACM1"
    assert data_port("/dev/ttyACM2", ports) == "/dev/ttyACM3"
    assert data_port("/dev/ttyUSB0", ports) is None  # no serial number: nothing to pair it with
    assert data_port("/dev/ttyACM9", ports) is None


def test_a_board_with_only_its_console(monkeypatch, tmp_path):
    monkeypatch.setenv("EDGELOOP_RUNTIME_DIR", str(tmp_path / "run"))
    assert data_port("/dev/ttyACM0", [Port("/dev/ttyACM0", "E6614C", "1-1:1.0")]) is None


def test_a_virtual_board_names_its_data_port_once_enabled(monkeypatch, tmp_path):
    monkeypatch.setenv("EDGELOOP_RUNTIME_DIR", str(tmp_path / "run"))
    console = tmp_path / "pts-7"
    console.write_text("")  # the registry lists a board whose port exists
    sim = registry.RunningSim(str(console), "rp2040", str(tmp_path), os.getpid(), os.getpid(), data_port="/dev/pts/8")
    registry.register(sim)
    assert data_port(str(console), []) == "/dev/pts/8"
    registry.register(registry.RunningSim(str(console), "rp2040", str(tmp_path), os.getpid(), os.getpid()))
    assert data_port(str(console), []) is None  # running, data channel off
