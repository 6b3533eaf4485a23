"""ESP32-S3: esptool through its Python API.

Order matters for "never an erased board without a firmware": the image is read and
checked (ESP image magic, the chip ID in its extended header, size against the flash)
before the port is opened; the chip esptool detects is compared with the profile before
anything is erased; only then erase (optional), write at the profile's offset, verify
(esptool checks the flash MD5 of every region it writes) and reset.

Reset sequences come from esptool, exactly as its command line (`command()`, shown
with -v) would do them: DTR/RTS toggling for USB-UART bridges, the USB-Serial/JTAG
sequence when the port is 303a:1001, and its "hard-reset" afterwards (the S3 class picks
RTS, or a watchdog reset on USB-OTG). A board running MicroPython on its native TinyUSB port (303a:4001)
cannot be reset into the ROM by those lines, so the caller first asks MicroPython for
`machine.bootloader()` (see cli/flash.py) or the user holds BOOT and taps RESET.
"""

from __future__ import annotations

import struct
from contextlib import contextmanager
from pathlib import Path

from ..errors import FlashError, ToolMissing

ESP_IMAGE_MAGIC = 0xE9
# esptool's IMAGE_CHIP_ID numbering (extended image header, bytes 12-13).
IMAGE_CHIP_IDS = {0: "ESP32", 2: "ESP32-S2", 5: "ESP32-C3", 9: "ESP32-S3", 12: "ESP32-C2", 13: "ESP32-C6",
                  16: "ESP32-H2", 18: "ESP32-P4"}


def _chip_label(chip: str) -> str:
    return chip.upper().replace("ESP32S", "ESP32-S").replace("ESP32C", "ESP32-C").replace("ESP32H", "ESP32-H")


def check_image(data: bytes, profile, name: str = "the firmware") -> None:
    """Refuse a file that is not an ESP image for this chip, or does not fit at the offset."""
    f = profile.flash
    want = _chip_label(f["chip"])
    if len(data) < 24 or data[0] != ESP_IMAGE_MAGIC:
        raise FlashError(f"{name} is not an ESP32 firmware image (no 0xE9 magic at its start); "
                         f"use the .bin download for {profile.micropython_firmware}, not a .uf2/.elf/.zip")
    (chip_id,) = struct.unpack_from("<H", data, 12)
    found = IMAGE_CHIP_IDS.get(chip_id, f"chip id {chip_id}")
    if found != want:
        raise FlashError(f"{name} is built for {found}, but {profile.name} is an {want}; "
                         f"download the {profile.micropython_firmware} firmware instead")
    room = profile.flash_bytes - f["offset"]
    if len(data) > room:
        raise FlashError(f"{name} is {len(data)} bytes; only {room} fit at offset 0x{f['offset']:x} "
                         f"of {profile.name}'s {profile.flash_bytes}-byte flash")


class _Log:
    """esptool's custom-logger hook: keeps its text (for -v and errors) and feeds progress."""

    def __init__(self, progress=None, echo=None):
        self.lines: list[str] = []
        self.progress = progress
        self.echo = echo

    def print(self, *args, **kwargs):
        text = " ".join(str(a) for a in args)
        if text.strip():
            self.lines.append(text.strip())
            if self.echo:
                self.echo(text.strip())

    def note(self, message):
        self.print(f"Note: {message}")

    def warning(self, message, suggestion=None):
        self.print(f"Warning: {message}")

    warn = warning

    def error(self, message, suggestion=None):
        self.print(f"Error: {message}")

    err = error

    def hint(self, message):
        self.print(message)

    def debug(self, *args):
        pass

    def stage(self, finish=False):
        pass

    def progress_bar(self, cur_iter, total_iters, prefix="", suffix="", bar_length=30):
        if self.progress:
            self.progress(cur_iter, total_iters)

    def set_verbosity(self, verbosity):
        pass


@contextmanager
def _esptool_log(progress, echo):
    try:
        from esptool.logger import TemplateLogger, log
    except ImportError:  # pragma: no cover - esptool is a core dependency
        raise ToolMissing("esptool is not installed in this environment; pip install esptool==5.6.0") from None
    from esp_pylib.logger import EspLog

    mine = type("EdgeloopEsptoolLog", (_Log, TemplateLogger), {})(progress, echo)
    old = EspLog.instance
    log.set_logger(mine)
    try:
        yield mine
    finally:
        EspLog.instance = old


def _fail(e: Exception, logger: _Log, what: str, writing: bool = False) -> FlashError:
    text = str(e).strip().splitlines()
    first = text[0] if text else type(e).__name__
    if "Failed to connect" in first or "No serial data received" in " ".join(text):
        return FlashError(f"{what}: {first} The board is not in download mode: hold BOOT, tap RESET, release "
                          "BOOT, then run the command again (on the native USB port use the port that appears)")
    if "could not open" in first.lower() or "No such file" in first:
        return FlashError(f"{what}: {first.rstrip('.')}; run `edgeloop devices` to see the ports there are")
    if writing:
        return FlashError(f"{what}: esptool said: {first}; the board stays in its ROM bootloader, so run the "
                          "same command again (with -v for esptool's own output)")
    return FlashError(f"{what}: esptool said: {first}; check the port and cable, then run again with -v")


def command(port: str, profile, image: Path, *, erase: bool = False, stub: bool = True,
            baud: int | None = None) -> list[str]:
    """The esptool command line that does exactly what flash() does through the API
    (shown with -v, and what a user runs by hand when edgeloop is not there)."""
    f = profile.flash
    return ["esptool", "--chip", f["chip"], "--port", port, "--baud", str(baud or f["baud"]),
            "--connect-attempts", "3", *([] if stub else ["--no-stub"]),
            "write-flash", *(["--erase-all"] if erase else []), "--flash-size", "keep",
            f"0x{f['offset']:x}", str(image)]


def flash(port: str, profile, image: Path, *, erase: bool = False, baud: int | None = None,
          connect_mode: str = "default-reset", stub: bool = True, progress=None, echo=None) -> list[str]:
    """Write `image` to the ESP32-S3 on `port`; return esptool's log lines."""
    data = Path(image).read_bytes()
    check_image(data, profile, Path(image).name)
    f = profile.flash
    want = _chip_label(f["chip"])
    try:
        from esptool import cmds
        from esptool.util import FatalError, NotImplementedInROMError, UnsupportedCommandError
    except ImportError:
        raise ToolMissing("esptool is not installed in this environment; pip install esptool==5.6.0") from None
    errors = (FatalError, NotImplementedInROMError, UnsupportedCommandError, OSError)
    with _esptool_log(progress, echo) as logger:
        try:
            esp = cmds.detect_chip(port, connect_mode=connect_mode, connect_attempts=3)
        except errors as e:
            raise _fail(e, logger, f"cannot reach the ESP32 bootloader on {port}") from None
        try:
            if esp.CHIP_NAME != want:
                raise FlashError(f"the board on {port} is an {esp.CHIP_NAME}, not the {want} that {profile.name} "
                                 "describes; nothing was written. Pick the right --board (edgeloop boards)")
            if stub:
                esp = cmds.run_stub(esp)
            if baud or f.get("baud"):
                esp.change_baud(baud or f["baud"])
            cmds.attach_flash(esp)
            if erase:
                if not esp.IS_STUB:  # the ROM has no chip erase; refuse before writing anything
                    raise FlashError("erasing needs esptool's flasher stub, which could not be loaded; "
                                     "run again without --erase (the write erases what it overwrites)")
                cmds.erase_flash(esp)
            cmds.write_flash(esp, [(f["offset"], data)], flash_size="keep", compress=True)
            cmds.reset_chip(esp, "hard-reset")  # the S3's own hard_reset picks RTS or watchdog for USB
        except FlashError:
            raise
        except errors as e:
            raise _fail(e, logger, f"flashing {profile.name} on {port} failed", writing=True) from None
        finally:
            try:
                esp._port.close()
            except Exception:
                pass
    return logger.lines
