"""One `edgeloop flash`: pick the image, check it, get the board into its bootloader, write,
and find the board again. Library code: it reports through callbacks, never prints."""

from __future__ import annotations

import shlex
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from edgeloop.boards import profiles as boards_lib
from ..errors import FlashError
from edgeloop.link import detect

from . import dfu, esp, firmware, rp2


@dataclass
class Reporter:
    """step(text): a new stage; progress(done, total): within it; command(argv): an external
    command about to run (shown with -v); info(text): a detail for -v."""

    step: Callable[[str], None] = lambda text: None
    progress: Callable[[int, int], None] = lambda done, total: None
    command: Callable[[list], None] = lambda argv: None
    info: Callable[[str], None] = lambda text: None


@dataclass
class FlashResult:
    board: str
    image: Path
    port: str | None = None  # where the board came back, if it did
    notes: list[str] = field(default_factory=list)
    profile: object = None  # the boards.Board flashed


def pick_image(profile, *, firmware_file=None, micropython=None, circuitpython=None, sha256=None,
               report: Reporter = Reporter(), cache=None) -> Path:
    chosen = [x for x in (firmware_file, micropython, circuitpython) if x]
    if len(chosen) != 1:
        raise FlashError("give exactly one of --firmware FILE, --micropython VERSION, --circuitpython VERSION")
    if firmware_file:
        path = Path(firmware_file)
        if not path.is_file():
            raise FlashError(f"firmware file {path} does not exist")
        return path
    kind = "micropython" if micropython else "circuitpython"
    fw = firmware.resolve(profile, kind, micropython or circuitpython)
    report.step(f"firmware {fw.filename}")
    report.info(f"download URL {fw.url}")
    return firmware.fetch(fw, directory=cache, expected_sha256=sha256, progress=report.progress)


def check_image(profile, image: Path) -> str:
    """Validate the image for the board before anything touches the board; returns a summary."""
    if profile.flash_method == "uf2":
        return rp2.uf2.summary(rp2.validate_file(image, profile))
    if profile.flash_method == "esptool":
        data = image.read_bytes()
        esp.check_image(data, profile, image.name)
        return f"ESP image for {profile.flash['chip']}, {len(data)} bytes at 0x{profile.flash['offset']:x}"
    elements = dfu.check_image(image, profile)
    return ", ".join(f"{len(e.data)} bytes at 0x{e.address:08x}" for e in elements)


def flash_board(board: str, *, port=None, firmware_file=None, micropython=None, circuitpython=None,
                erase=False, drive=None, sha256=None, report: Reporter = Reporter(),
                wait_timeout: float = 20.0, cache=None, stub: bool = True) -> FlashResult:
    profile = boards_lib.load(board)
    if erase and profile.flash_method != "esptool":
        raise FlashError(f"--erase applies to esptool boards; {profile.name} is flashed with "
                         f"{profile.flash_method}, which rewrites only the firmware slot")
    image = pick_image(profile, firmware_file=firmware_file, micropython=micropython,
                       circuitpython=circuitpython, sha256=sha256, report=report, cache=cache)
    report.info(f"image {image}: {check_image(profile, image)}")
    result = FlashResult(profile.name, image, profile=profile)
    if profile.flash_method == "uf2":
        _flash_uf2(profile, image, port, drive, report, wait_timeout, result)
    elif profile.flash_method == "esptool":
        _flash_esp(profile, image, port, erase, report, result, stub)
    else:
        report.step("writing with dfu-util")
        dfu.flash(image, profile, progress=lambda pct: report.progress(pct, 100),
                  on_command=report.command)
    if result.port is None:
        report.step("waiting for the board on serial")
        result.port = rp2.wait_for_serial(profile, wait_timeout)
    if result.port is None:
        result.notes.append("the board did not show up on serial yet; unplug and replug it, then `edgeloop devices`")
    return result


def _flash_uf2(profile, image, port, drive, report, wait_timeout, result):
    if drive:
        target = rp2.check_drive(Path(drive), profile)
    else:
        target = detect.find_uf2_drive(profile)
        if target is None and port:
            report.step(f"asking the board on {port} to enter BOOTSEL")
            how = rp2.enter_bootloader(port)
            report.info(f"entered bootloader with {how}")
            target = rp2.wait_for_drive(profile, wait_timeout)
        if target is None and rp2.picotool_command(image):
            report.step("writing with picotool")
            rp2.load_with_picotool(image, profile, on_command=report.command)
            return
        if target is None:
            raise FlashError(f"no {profile.flash['drive_label']} drive found: hold BOOTSEL while plugging the board "
                             "in (or pass --port of a running board), and make sure the drive is mounted; "
                             "or give it with --drive PATH")
    report.step(f"copying {image.name} to {target}")
    report.command(["cp", str(image), str(target)])
    rp2.copy_to_drive(image, target, profile, progress=report.progress)


def _flash_esp(profile, image, port, erase, report, result, stub=True):
    if not port:
        found = [f for f in detect.scan_ports() if profile.name in f.boards]
        boot = [f for f in found if f.mode == "bootloader"]
        pick = boot or found
        if len(pick) != 1:
            seen = ", ".join(f"{f.where} ({f.usb_id})" for f in found) or "none"
            raise FlashError(f"cannot tell which port is the {profile.chip} (candidates: {seen}); pass --port PORT")
        port = pick[0].where
        if pick[0].firmware == "micropython":  # native USB: the ROM reset lines are not wired to TinyUSB
            report.step(f"asking MicroPython on {port} for machine.bootloader()")
            rp2.enter_bootloader(port)
            port = _wait_rom_port(profile)
    report.command(esp.command(port, profile, image, erase=erase, stub=stub))
    report.step(("erasing, then " if erase else "") + f"writing {image.name} with esptool")
    esp.flash(port, profile, image, erase=erase, stub=stub, progress=report.progress, echo=report.info)
    # Through a USB-UART bridge MicroPython's REPL (UART0) comes back on the port esptool
    # used; on the native USB port the ROM's 303a:1001 goes and TinyUSB's port appears.
    if any(f.where == port and f.firmware == "usb-uart" for f in detect.scan_ports()):
        result.port = port


def _wait_rom_port(profile, timeout=10.0):
    import time

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for f in detect.scan_ports():
            if f.mode == "bootloader" and profile.name in f.boards:
                return f.where
        time.sleep(0.5)
    raise FlashError(f"the {profile.chip} did not come back in download mode; hold BOOT, tap RESET, "
                     "release BOOT and run again with --port")


def shell(argv: list) -> str:
    return " ".join(shlex.quote(str(a)) for a in argv)
