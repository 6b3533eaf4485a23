"""Bad input at the port: each is one clear DeviceError, never a traceback or a hang."""

from __future__ import annotations

import os
import signal
import threading
import time
import tty

import pytest
import serial

from edgeloop.link.device import Device
from edgeloop.errors import DeviceBusy, DeviceError, DeviceNotFound, NotMicroPython


def test_port_that_does_not_exist():
    with pytest.raises(DeviceNotFound, match="does not exist"):
        Device("/dev/ttyEDGELOOP-none")


@pytest.fixture
def junk_pty():
    """A pty with a chatty non-MicroPython device behind it (echoes junk, never a REPL)."""
    master, slave = os.openpty()
    tty.setraw(slave)
    stop = threading.Event()

    def chatter():
        os.set_blocking(master, False)
        while not stop.is_set():
            try:
                os.read(master, 1024)
            except BlockingIOError:
                pass
            try:
                os.write(master, b"$GPGGA,junk,no repl here*47\r\n")
            except OSError:
                pass
            time.sleep(0.05)

    t = threading.Thread(target=chatter, daemon=True)
    t.start()
    yield os.ttyname(slave)
    stop.set()
    t.join()
    os.close(master)
    os.close(slave)


def test_device_that_is_not_micropython(junk_pty):
    t0 = time.monotonic()
    with pytest.raises(NotMicroPython, match="does not answer like a MicroPython"):
        Device(junk_pty, timeout=2)
    assert time.monotonic() - t0 < 10


@pytest.mark.sim
def test_port_busy(virtual_board):
    holder = serial.Serial(virtual_board.port, exclusive=True)
    try:
        with pytest.raises(DeviceBusy, match="in use by another program"):
            Device(virtual_board.port)
    finally:
        holder.close()
    with Device(virtual_board.port) as dev:  # free again once released
        assert dev.eval("1") == 1


@pytest.mark.sim
def test_port_vanishes_mid_command(virtual_board):
    vb = virtual_board
    with Device(vb.port) as dev:
        threading.Timer(0.5, os.kill, (vb.pid, signal.SIGKILL)).start()
        t0 = time.monotonic()
        with pytest.raises(DeviceError) as e:
            dev.exec("import time\nfor i in range(100):\n    print(i)\n    time.sleep_ms(50)", timeout=8)
        assert time.monotonic() - t0 < 6
    assert "went away" in str(e.value) or "stopped answering" in str(e.value)
