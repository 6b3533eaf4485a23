"""Which boards are plugged in, and in which mode, from USB IDs alone.

Three places show a board: a serial port (firmware running, or the ESP32-S3
ROM on USB-Serial/JTAG), a USB drive (RP2040 BOOTSEL's RPI-RP2, CircuitPython's
CIRCUITPY) and a bare USB device with no port or drive (Arduino DFU). Each scan
takes its source as an argument so tests feed it recorded data; the defaults
read the live system (pyserial's list_ports, the mount table, Linux sysfs).
`edgeloop devices` (link/discover.py) calls `bootloader_devices()` and `match_port()`.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass, field
from pathlib import Path

from edgeloop.boards import profiles as boards_lib


@dataclass(frozen=True)
class Found:
    kind: str  # "serial", "drive" or "usb"
    where: str  # port name, drive mount point, or sysfs device path
    vid: int | None
    pid: int | None
    mode: str  # "normal", "bootloader" or "unknown"
    boards: tuple[str, ...] = ()  # profile names that list this ID
    firmware: str = ""  # who shows it: micropython, circuitpython, rom, arduino-dfu, ...
    description: str = ""
    info: dict = field(default_factory=dict)  # INFO_UF2.TXT fields for a UF2 drive

    @property
    def usb_id(self) -> str:
        return f"{self.vid:04x}:{self.pid:04x}" if self.vid is not None else "-"


def _match(vid, pid, directory=None) -> tuple[str, tuple[str, ...], str]:
    if vid is None or pid is None:
        return "unknown", (), ""
    hits = boards_lib.match_usb(vid, pid, directory)
    if not hits:
        bridges = [b.name for b in boards_lib.load_all(directory)
                   if [vid, pid] in b.flash.get("usb_uart", [])]
        return ("unknown", tuple(bridges), "usb-uart") if bridges else ("unknown", (), "")
    modes = {u.mode for _, u in hits}
    return (modes.pop() if len(modes) == 1 else "unknown",
            tuple(sorted({b.name for b, _ in hits})), "/".join(sorted({u.firmware for _, u in hits})))


def match_port(port, directory=None) -> Found:
    """Classify one pyserial ListPortInfo-like record (needs .device, .vid, .pid)."""
    mode, names, fw = _match(getattr(port, "vid", None), getattr(port, "pid", None), directory)
    return Found("serial", port.device, port.vid, port.pid, mode, names, fw,
                 getattr(port, "description", "") or "")


def scan_ports(ports=None, directory=None) -> list[Found]:
    """Serial ports that belong to a known board (by VID/PID, or a USB-UART bridge a profile lists)."""
    if ports is None:
        from serial.tools import list_ports
        ports = list_ports.comports()
    found = [match_port(p, directory) for p in ports]
    return [f for f in found if f.boards]


def parse_info_uf2(text: str) -> dict:
    """INFO_UF2.TXT: 'Key: value' lines (the first line is the bootloader's banner)."""
    info = {}
    for line in text.splitlines():
        key, sep, value = line.partition(":")
        if sep and key.strip():
            info[key.strip()] = value.strip()
        elif line.strip() and "banner" not in info:
            info["banner"] = line.strip()
    return info


def mount_points(mounts_file: str = "/proc/mounts") -> list[Path]:
    """Where removable drives may be mounted: the mount table (Linux), /Volumes (macOS),
    drive letters (Windows), and the usual /media and /run/media folders."""
    points: list[Path] = []
    try:
        with open(mounts_file) as f:
            for line in f:
                parts = line.split()
                if len(parts) > 2 and parts[2] in ("vfat", "msdos", "fat", "exfat", "fuseblk"):
                    points.append(Path(parts[1].replace("\\040", " ")))
    except OSError:
        pass
    user = os.environ.get("USER", "")
    for root in (Path("/media") / user, Path("/run/media") / user, Path("/media"), Path("/Volumes")):
        try:
            points += [p for p in root.iterdir() if p.is_dir()]
        except OSError:
            pass
    if sys.platform == "win32":
        points += [Path(f"{c}:\\") for c in "DEFGHIJKLMNOPQRSTUVWXYZ" if os.path.exists(f"{c}:\\")]
    seen, out = set(), []
    for p in points:
        if p not in seen:
            seen.add(p)
            out.append(p)
    return out


def scan_drives(points=None, directory=None) -> list[Found]:
    """UF2 bootloader drives (a folder holding INFO_UF2.TXT) and CIRCUITPY drives (boot_out.txt)."""
    points = mount_points() if points is None else [Path(p) for p in points]
    profiles = boards_lib.load_all(directory)
    found = []
    for p in points:
        info_file = p / "INFO_UF2.TXT"
        if info_file.is_file():
            try:
                info = parse_info_uf2(info_file.read_text(errors="replace"))
            except OSError:
                continue
            board_id = info.get("Board-ID", "")
            names = tuple(b.name for b in profiles if b.flash_method == "uf2"
                          and (b.flash.get("board_id") or b.flash["drive_label"]) == board_id)
            found.append(Found("drive", str(p), None, None, "bootloader", names, "uf2-bootloader",
                               f"UF2 drive, Board-ID {board_id or '?'}", info))
        elif (p / "boot_out.txt").is_file():
            try:
                banner = (p / "boot_out.txt").read_text(errors="replace").splitlines()[0]
            except (OSError, IndexError):
                banner = ""
            found.append(Found("drive", str(p), None, None, "normal", (), "circuitpython",
                               f"CIRCUITPY drive: {banner}".strip()))
    return found


def find_uf2_drive(profile, points=None) -> Path | None:
    """The bootloader drive for this board: its label (folder name) or its INFO_UF2.TXT Board-ID."""
    want = profile.flash.get("board_id") or profile.flash["drive_label"]
    for f in scan_drives(points):
        if f.firmware == "uf2-bootloader" and (f.info.get("Board-ID") == want
                                               or Path(f.where).name == profile.flash["drive_label"]):
            return Path(f.where)
    return None


def scan_usb(sysfs: str | Path = "/sys/bus/usb/devices", directory=None) -> list[Found]:
    """Bare USB devices in a profile's bootloader mode (Arduino DFU has no serial port or drive).
    Linux only: reads idVendor/idProduct from sysfs; elsewhere `dfu-util -l` is the way."""
    root = Path(sysfs)
    if not root.is_dir():
        return []
    found = []
    for dev in sorted(root.iterdir()):
        try:
            vid = int((dev / "idVendor").read_text().strip(), 16)
            pid = int((dev / "idProduct").read_text().strip(), 16)
        except (OSError, ValueError):
            continue
        mode, names, fw = _match(vid, pid, directory)
        # Only DFU boards need this: UF2 and ROM-serial bootloaders show as a drive or a port.
        names = tuple(n for n in names if boards_lib.load(n, directory).flash_method == "dfu")
        if names and mode == "bootloader":
            product = (dev / "product").read_text().strip() if (dev / "product").is_file() else ""
            found.append(Found("usb", str(dev), vid, pid, mode, names, fw, product))
    return found


def bootloader_devices(ports=None, points=None, sysfs="/sys/bus/usb/devices", directory=None) -> list[Found]:
    """Everything waiting to be flashed: serial ports in ROM download mode, UF2 drives, DFU devices."""
    serial = [f for f in scan_ports(ports, directory) if f.mode == "bootloader"]
    drives = [f for f in scan_drives(points, directory) if f.mode == "bootloader"]
    return serial + drives + scan_usb(sysfs, directory)
