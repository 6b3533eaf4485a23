"""Finding boards and asking them who they are (`edgeloop devices`, `edgeloop info`).

A board shows up as a serial port whose USB ID a profile lists, as a running
virtual board (from the sim registry), or, in bootloader mode, as whatever
detect.py recognises. Each source is one function so that a new kind
(another bootloader, a network board) is one more function in `list_devices`.
"""

from __future__ import annotations

import ast
import os
from dataclasses import dataclass

from edgeloop.boards import profiles as boards_lib
from edgeloop.errors import DeviceError, DeviceNotFound

HOW_TO_SIM = "start a virtual one with `edgeloop sim --board rp2040`"


@dataclass(frozen=True)
class Seen:
    kind: str  # "serial", "virtual", or a bootloader source ("drive", "usb", "serial")
    port: str  # what --port takes; "" when the board has no REPL port (bootloader drive, DFU)
    boards: tuple[str, ...]  # matching profile names
    mode: str  # "normal" (a REPL is there), "bootloader" or "unknown"
    description: str = ""

    @property
    def usable(self) -> bool:
        """Has a REPL that Device(port) can talk to."""
        return bool(self.port) and self.mode == "normal"


def serial_devices(ports=None, directory=None) -> list[Seen]:
    """Serial ports whose USB ID belongs to a board profile."""
    from .detect import scan_ports

    return [Seen("serial", f.where, f.boards, f.mode, f.description or f.firmware)
            for f in scan_ports(ports, directory)]


def virtual_devices() -> list[Seen]:
    from edgeloop.sim import running_sims

    return [Seen("virtual", s.port, (s.board,), "normal", f"virtual board, flash in {s.flash_dir}"
                 + (f", usb_cdc data on {s.data_port}" if s.data_port else ""))
            for s in running_sims()]


def bootloader_devices(ports=None) -> list[Seen]:
    from .detect import bootloader_devices as scan

    return [Seen(f.kind, f.where if f.kind == "serial" else "", f.boards, f.mode, f.description or f.firmware)
            for f in scan(ports=ports) if f.mode == "bootloader"]


def list_devices(ports=None, *, bootloader: bool = True) -> list[Seen]:
    """Everything that looks like a board, REPL ports first."""
    seen = serial_devices(ports) + virtual_devices()
    if bootloader:
        have = {s.port for s in seen}
        seen += [s for s in bootloader_devices(ports) if not s.port or s.port not in have]
    return seen


def all_serial_ports(ports=None) -> list[str]:
    """Every serial port name on the system, board or not (for error messages)."""
    if ports is None:
        from serial.tools import list_ports
        ports = list_ports.comports()
    return sorted(p.device for p in ports)


def resolve_port(port: str | None) -> str:
    """--port, else $EDGELOOP_PORT, else the one board `edgeloop devices` finds (USB or virtual)."""
    return choose_port(port or os.environ.get("EDGELOOP_PORT"))


def choose_port(port: str | None = None, ports=None) -> str:
    """The port to use: the one given, else the only board there is."""
    if port:
        return port
    seen = list_devices(ports)
    usable = [s for s in seen if s.usable]
    if len(usable) == 1:
        return usable[0].port
    if not usable:
        others = all_serial_ports(ports)
        what = f"serial ports seen: {', '.join(others)}" if others else "no serial ports at all"
        boot = [s for s in seen if s.mode == "bootloader"]
        if boot:
            what += f"; in bootloader mode: {', '.join(s.port or s.description for s in boot)} (flash it first)"
        raise DeviceNotFound(f"no board found ({what}); plug one in and pass --port, or {HOW_TO_SIM}")
    listed = ", ".join(f"{s.port} ({'/'.join(s.boards) or '?'})" for s in usable)
    raise DeviceError(f"several boards found: {listed}; choose one with --port")


_INFO_CODE = """\
import sys, gc, os
_i = sys.implementation
_r = {'name': _i.name, 'version': '.'.join(str(x) for x in _i.version[:3]),
      'mpy': getattr(_i, '_mpy', None), 'machine': getattr(_i, '_machine', ''),
      'platform': sys.platform, 'sysversion': sys.version}
gc.collect()
_r['mem_free'] = gc.mem_free()
try:
    _s = os.statvfs('/')
    _r['fs_total'] = _s[1] * _s[2]
    _r['fs_free'] = _s[1] * _s[3]
except Exception:
    pass
try:
    import _vboard
    _r['virtual'] = _vboard.board
except ImportError:
    _r['virtual'] = None
print(repr(_r))
del _i, _r
"""


def _squash(text: str) -> str:
    return "".join(ch for ch in text.lower() if ch.isalnum())


def match_profiles(info: dict, usb: tuple[int, int] | None = None, directory=None) -> list[str]:
    """Profiles that fit what the board reported (virtual name, USB ID, chip in _machine, arch)."""
    if info.get("virtual"):
        return [info["virtual"]]
    profiles = boards_lib.load_all(directory)
    if usb:
        hits = sorted({b.name for b, _ in boards_lib.match_usb(*usb, directory)})
        if hits:
            return hits
    machine = _squash(info.get("machine", ""))
    hits = [b for b in profiles if _squash(b.chip) and _squash(b.chip) in machine]
    if info.get("mpy") is not None and hits:
        arch = boards_lib.decode_mpy(info["mpy"])["arch"]
        hits = [b for b in hits if b.mpy_arch == arch] or hits
    return [b.name for b in hits]


def board_info(device, usb: tuple[int, int] | None = None) -> dict:
    """What the board says about itself, decoded, plus the matching profiles."""
    out = device.exec(_INFO_CODE)
    try:
        info = ast.literal_eval(out.decode("utf-8", "replace").strip().splitlines()[-1])
    except (ValueError, SyntaxError, IndexError):
        raise DeviceError(f"{device.port} gave an unreadable answer to the info query: {out[:80]!r}") from None
    info["firmware"] = {"micropython": "MicroPython", "circuitpython": "CircuitPython"}.get(info["name"], info["name"])
    if info.get("mpy") is not None:
        info["mpy_decoded"] = boards_lib.decode_mpy(info["mpy"])
    info["profiles"] = match_profiles(info, usb)
    return info


def usb_id_of(port: str, ports=None) -> tuple[int, int] | None:
    if ports is None:
        from serial.tools import list_ports
        ports = list_ports.comports()
    for p in ports:
        if p.device == port and p.vid is not None:
            return p.vid, p.pid
    return None


def data_port(console: str, ports=None) -> str | None:
    """The serial port of a CircuitPython board's usb_cdc data channel, given its console.

    A virtual board says it in the sim registry (once boot.py enabled the channel).
    A real board enumerates the data channel as a second CDC interface with the
    same USB serial number: the one of that number that is not the console
    (on Linux, the higher interface of the two, e.g. ttyACM1 beside ttyACM0).
    """
    from edgeloop.sim import running_sims

    for s in running_sims():
        if s.port == console:
            return s.data_port or None
    if ports is None:
        from serial.tools import list_ports
        ports = list_ports.comports()
    mine = next((p for p in ports if p.device == console), None)
    if mine is None or not getattr(mine, "serial_number", None):
        return None
    same = sorted((p for p in ports if p.device != console and p.serial_number == mine.serial_number
                   and p.vid == mine.vid and p.pid == mine.pid), key=lambda p: (p.location or "", p.device))
    return same[-1].device if same else None
