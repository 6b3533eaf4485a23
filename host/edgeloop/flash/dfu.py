"""Nicla Vision (and other Arduino DFU boards): check the image against the flash layout,
then hand it to dfu-util.

MicroPython publishes a DfuSe `.dfu` (ST UM0391: "DfuSe" prefix, one target per alt
setting, address-tagged elements, a 16-byte suffix with the USB IDs and a CRC). Its
addresses say where each byte lands, so they are checked against the profile's firmware
slot before dfu-util runs: an image that would overwrite the Arduino bootloader or spill
into the M4 slot is refused with the board untouched. A raw `.bin` goes to the slot's
start address.
"""

from __future__ import annotations

import re
import shutil
import struct
import subprocess
import zlib
from dataclasses import dataclass
from pathlib import Path

from ..errors import FlashError, ToolMissing

SUFFIX_LEN = 16
_PREFIX = struct.Struct("<5sBIB")  # "DfuSe", version, image size, targets
_TARGET = struct.Struct("<6sBI255sII")  # "Target", alt, named, name, size, elements
_ELEMENT = struct.Struct("<II")  # address, size
_SUFFIX = struct.Struct("<HHHH3sBI")  # bcdDevice, idProduct, idVendor, bcdDFU, "UFD", bLength, CRC


@dataclass(frozen=True)
class Element:
    alt: int
    address: int
    data: bytes


def dfu_crc(data: bytes) -> int:
    """The DFU suffix CRC: CRC-32 without the final inversion (DFU 1.1 spec, appendix B)."""
    return ~zlib.crc32(data) & 0xFFFFFFFF


def parse_suffix(raw: bytes, name: str) -> dict:
    if len(raw) < SUFFIX_LEN:
        raise FlashError(f"{name} is too short to be a DFU file")
    dev, pid, vid, bcd, sig, length, crc = _SUFFIX.unpack(raw[-SUFFIX_LEN:])
    if sig != b"UFD" or length != SUFFIX_LEN:
        raise FlashError(f"{name} has no DFU suffix ('UFD' signature missing); it is not a .dfu file")
    if dfu_crc(raw[:-4]) != crc:
        raise FlashError(f"{name} fails its DFU CRC check (corrupt or truncated); download it again")
    return {"vid": vid, "pid": pid, "device": dev, "dfu_version": bcd}


def parse_dfuse(raw: bytes, name: str = "the .dfu file") -> tuple[dict, list[Element]]:
    """Every element of a DfuSe file, after checking its prefix, sizes and suffix CRC."""
    suffix = parse_suffix(raw, name)
    if len(raw) < _PREFIX.size or raw[:5] != b"DfuSe":
        raise FlashError(f"{name} is a plain DFU file without DfuSe addresses; use MicroPython's .dfu download")
    sig, version, size, targets = _PREFIX.unpack_from(raw)
    if version != 1 or size != len(raw) - SUFFIX_LEN:
        raise FlashError(f"{name}: DfuSe prefix says {size} bytes (version {version}), file holds "
                         f"{len(raw) - SUFFIX_LEN}; the file is corrupt")
    pos, elements = _PREFIX.size, []
    for _ in range(targets):
        if pos + _TARGET.size > size:
            raise FlashError(f"{name}: target header runs past the end; the file is corrupt")
        tsig, alt, _, _, tsize, count = _TARGET.unpack_from(raw, pos)
        if tsig != b"Target":
            raise FlashError(f"{name}: missing 'Target' signature at byte {pos}; the file is corrupt")
        pos += _TARGET.size
        end = pos + tsize
        for _ in range(count):
            addr, esize = _ELEMENT.unpack_from(raw, pos)
            pos += _ELEMENT.size
            if pos + esize > end:
                raise FlashError(f"{name}: element at 0x{addr:08x} runs past its target; the file is corrupt")
            elements.append(Element(alt, addr, raw[pos:pos + esize]))
            pos += esize
        if pos != end:
            raise FlashError(f"{name}: target size does not match its elements; the file is corrupt")
    return suffix, elements


def check_image(path: Path, profile) -> list[Element]:
    """Refuse an image that is not for this board or does not fit its firmware slot."""
    f = profile.flash
    raw = Path(path).read_bytes()
    name = Path(path).name
    lo, hi = f["address"], f["address"] + f["max_bytes"]
    if raw[:5] != b"DfuSe":
        if raw[-SUFFIX_LEN:][8:11] == b"UFD":  # a suffixed file without DfuSe addresses
            parse_dfuse(raw, name)
        if len(raw) > f["max_bytes"]:
            raise FlashError(f"{name} is {len(raw)} bytes; the firmware slot at 0x{lo:08x} holds {f['max_bytes']}")
        return [Element(f["alt"], lo, raw)]
    suffix, elements = parse_dfuse(raw, name)
    if (suffix["vid"], suffix["pid"]) not in ((0xFFFF, 0xFFFF), (f["dfu_vid"], f["dfu_pid"])):
        raise FlashError(f"{name} is for USB device {suffix['vid']:04x}:{suffix['pid']:04x}, not {profile.title} "
                         f"({f['dfu_vid']:04x}:{f['dfu_pid']:04x}); download the firmware for this board")
    if not elements:
        raise FlashError(f"{name} holds no data")
    for e in elements:
        end = e.address + len(e.data)
        for p0, p1 in f.get("protected", []):
            if e.address < p1 and end > p0:
                raise FlashError(f"{name} writes 0x{e.address:08x}-0x{end:08x}, over the protected region "
                                 f"0x{p0:08x}-0x{p1:08x} (bootloader); refusing: this image is for another layout")
        if not (lo <= e.address and end <= hi):
            raise FlashError(f"{name} writes 0x{e.address:08x}-0x{end:08x}, outside {profile.name}'s firmware slot "
                             f"0x{lo:08x}-0x{hi:08x}; download the firmware built for this board")
        if e.alt != f["alt"]:
            raise FlashError(f"{name} targets DFU alt setting {e.alt}; {profile.name} takes alt {f['alt']}")
    return elements


def dfu_util() -> str:
    exe = shutil.which("dfu-util")
    if not exe:
        raise ToolMissing("dfu-util is not installed; install it (Debian/Ubuntu: sudo apt install dfu-util, "
                          "macOS: brew install dfu-util, Windows: dfu-util.sourceforge.net) and try again")
    return exe


def list_devices(profile, run=subprocess.run) -> list[str]:
    """The DFU devices dfu-util sees with this board's bootloader IDs."""
    f = profile.flash
    cmd = [dfu_util(), "-l", "-d", f"{f['dfu_vid']:04x}:{f['dfu_pid']:04x}"]
    try:
        out = run(cmd, capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired) as e:
        raise FlashError(f"dfu-util -l did not finish ({e}); replug the board and try again") from None
    return [ln for ln in (out.stdout + out.stderr).splitlines() if ln.startswith("Found DFU")]


def command(path: Path, profile) -> list[str]:
    f = profile.flash
    cmd = [dfu_util(), "-w", "-d", f"{f['dfu_vid']:04x}:{f['dfu_pid']:04x}", "-a", str(f["alt"])]
    if Path(path).read_bytes()[:5] != b"DfuSe":
        cmd += ["-s", f"0x{f['address']:08x}:leave"]
    return cmd + ["-D", str(path)]


_PERCENT = re.compile(rb"(\d{1,3})%")


def flash(path: Path, profile, *, progress=None, on_command=None, popen=subprocess.Popen) -> None:
    """Write the image with dfu-util. Everything is checked first: the image, the tool, and
    that the board is in its DFU bootloader; `progress(percent)` follows dfu-util's bar."""
    check_image(path, profile)
    if not list_devices(profile):
        raise FlashError(f"{profile.title} is not in DFU mode: double-tap its reset button (the LED pulses green), "
                         "or run machine.bootloader() on it, then try again")
    cmd = command(path, profile)
    if on_command:
        on_command(cmd)
    try:
        proc = popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    except OSError as e:
        raise FlashError(f"cannot run {cmd[0]} ({e.strerror or e}); reinstall dfu-util") from None
    tail = bytearray()
    while chunk := proc.stdout.read(256):
        tail = (tail + chunk)[-2000:]
        if progress:
            for m in _PERCENT.finditer(chunk):
                progress(min(100, int(m.group(1))))
    rc = proc.wait()
    if rc != 0:
        last = [ln for ln in tail.decode("utf-8", "replace").replace("\r", "\n").splitlines() if ln.strip()]
        raise FlashError(f"dfu-util failed (exit {rc}): {last[-1] if last else 'no output'}; "
                         "re-enter DFU mode (double-tap reset) and try again")
