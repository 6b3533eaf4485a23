"""RP2040 boards: into BOOTSEL, find the RPI-RP2 drive, copy a validated UF2, wait for the
board to come back on serial.

The bootrom writes flash as UF2 blocks arrive and reboots after the last one, so a
"half-written drive" can only be avoided by refusing a bad file before the first byte:
the UF2 is validated in full (uf2.validate) before the drive is opened.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from pathlib import Path

from ..errors import FlashError
from edgeloop.link import detect

from . import uf2


def validate_file(path: Path, profile) -> list[uf2.Block]:
    f = profile.flash
    return uf2.validate(Path(path).read_bytes(), family_id=f["family_id"], flash_base=f["flash_base"],
                        flash_size=profile.flash_bytes, name=Path(path).name)


def enter_bootloader(port: str) -> str:
    """Ask a running board to reboot into BOOTSEL; returns how it was asked."""
    from edgeloop.link.device import BoardException, Device
    from ..errors import DeviceError

    try:
        with Device(port, timeout=3) as dev:
            try:
                dev.exec("import machine\nmachine.bootloader()", timeout=1)
            except BoardException:
                raise  # it answered with an error (no machine.bootloader): try the touch
            except DeviceError:
                pass  # the port vanishes as the board reboots: that is success
        return "machine.bootloader()"
    except DeviceError:
        pass
    import serial  # the 1200-baud touch: MicroPython and CircuitPython reboot into BOOTSEL on it

    try:
        serial.Serial(port, 1200).close()
    except (serial.SerialException, OSError) as e:
        raise FlashError(f"cannot reach the board on {port} ({e}); hold BOOTSEL while plugging it in, "
                         "then run the command again") from None
    return "1200-baud touch"


def wait_for_drive(profile, timeout: float, points=None, sleep=time.sleep) -> Path | None:
    deadline = time.monotonic() + timeout
    while True:
        drive = detect.find_uf2_drive(profile, points)
        if drive or time.monotonic() >= deadline:
            return drive
        sleep(0.5)


def check_drive(drive: Path, profile) -> Path:
    drive = Path(drive)
    info = drive / profile.flash.get("info_file", "INFO_UF2.TXT")
    if not info.is_file():
        raise FlashError(f"{drive} is not a UF2 bootloader drive (no {info.name}); hold BOOTSEL while plugging "
                         f"the board in and pass the {profile.flash['drive_label']} drive with --drive")
    board_id = detect.parse_info_uf2(info.read_text(errors="replace")).get("Board-ID", "")
    want = profile.flash.get("board_id")
    if want and board_id and board_id != want:
        raise FlashError(f"{drive} belongs to a {board_id} bootloader, not {want} ({profile.title}); "
                         "check --drive and --board")
    return drive


def copy_to_drive(path: Path, drive: Path, profile, progress=None) -> None:
    """Validate, then stream the UF2 onto the drive (the bootrom flashes as it receives)."""
    blocks = validate_file(path, profile)
    check_drive(drive, profile)
    raw = Path(path).read_bytes()
    need = len(raw)
    free = shutil.disk_usage(drive).free
    if free < need:
        # RPI-RP2 reports a fake 128 MB FAT; a smaller number means this is not the bootloader's drive.
        raise FlashError(f"{drive} has {free} bytes free, the UF2 needs {need}; is this really the "
                         f"{profile.flash['drive_label']} drive?")
    target = Path(drive) / Path(path).name
    try:
        with open(target, "wb") as out:
            for i in range(0, len(raw), 64 * uf2.BLOCK_SIZE):
                out.write(raw[i:i + 64 * uf2.BLOCK_SIZE])
                out.flush()
                if progress:
                    progress(min(i + 64 * uf2.BLOCK_SIZE, len(raw)), len(raw))
            try:
                os.fsync(out.fileno())
            except OSError:
                pass  # the bootrom may already be rebooting: the drive vanishes under us
    except OSError as e:
        # The bootrom only reboots after the last block, so the board stays in BOOTSEL with
        # its flash part-written; a part-copied file is removed where the drive still holds it.
        try:
            target.unlink()
        except OSError:
            pass
        raise FlashError(f"copying {Path(path).name} to {drive} stopped ({e.strerror or e}); the board stays "
                         "in BOOTSEL mode: run the same command again") from None
    return blocks


def picotool_command(path: Path) -> list[str] | None:
    exe = shutil.which("picotool")
    return [exe, "load", "-x", "-f", str(path)] if exe else None


def load_with_picotool(path: Path, profile, on_command=None, run=subprocess.run) -> None:
    validate_file(path, profile)
    cmd = picotool_command(path)
    if on_command:
        on_command(cmd)
    try:
        out = run(cmd, capture_output=True, text=True, timeout=300)
    except (OSError, subprocess.TimeoutExpired) as e:
        raise FlashError(f"picotool could not run ({e}); copy the UF2 to the RPI-RP2 drive with --drive") from None
    if out.returncode != 0:
        last = (out.stderr or out.stdout).strip().splitlines()
        raise FlashError(f"picotool failed: {last[-1] if last else 'exit ' + str(out.returncode)}; "
                         "hold BOOTSEL while plugging the board in, or copy the UF2 with --drive")


def wait_for_serial(profile, timeout: float, ports=None, sleep=time.sleep) -> str | None:
    """The serial port of this board in normal mode, once it is back."""
    deadline = time.monotonic() + timeout
    while True:
        for f in detect.scan_ports(ports() if callable(ports) else ports):
            if f.mode == "normal" and profile.name in f.boards:
                return f.where
        if time.monotonic() >= deadline:
            return None
        sleep(0.5)
