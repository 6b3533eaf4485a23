"""Issue 20 item 4 on the unix CircuitPython: the app's output is usb_cdc.data or nothing.

A CircuitPython board's console is text: its write turns every \\n of a frame into \\r\\n.
Before, serial_link fell back to it whenever usb_cdc.data was off and every frame with a
0x0a byte arrived corrupted; now Output() refuses, with the one line that says what to do,
and takes usb_cdc.data when boot.py enabled it. The shim's usb_cdc (host/edgeloop/sim/shims/
circuitpython/usb_cdc.py) has data None, as a board whose boot.py did not enable it.
"""

from __future__ import annotations

import pytest

from tests.firmware.board.conftest import unix_board_or_skip


@pytest.fixture(scope="module")
def cpy(tmp_path_factory):
    return unix_board_or_skip("circuitpython", tmp_path_factory.mktemp("flash-cdc"))


def test_output_refuses_the_console(cpy):
    out = cpy.run(["from edgeloop_fw.serial_link import Output\n"
                   "try:\n    Output()\n    print('streams on the console')\n"
                   "except RuntimeError as e:\n    print('refused:', e)\n"])
    assert out.startswith("refused: edgeloop streams on usb_cdc.data, which is off: boot.py must call "
                          "usb_cdc.enable(console=True, data=True)"), out


def test_output_takes_the_data_channel_and_writes_bytes_unchanged(cpy):
    out = cpy.run(["import usb_cdc, io\nfrom edgeloop_fw.serial_link import Output\n"
                   "usb_cdc.data = io.BytesIO()\no = Output()\n"
                   "buf = bytearray(b'\\x00\\n\\r\\n\\xff')\nmv = memoryview(buf)\n"
                   "print(o.stream is usb_cdc.data, o.write(buf, mv, 4), usb_cdc.data.getvalue())\n"])
    assert out.strip() == "True True b'\\x00\\n\\r\\n'", out
