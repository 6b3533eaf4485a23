"""Board profiles: data files in boards/, validated on load.

A profile is the single place where a board's facts live (chip, MicroPython
arch, heap, filesystem, sensors, USB IDs, how to flash). Every figure carries
its source in the TOML file, so a reader can check it. A malformed profile is
an error that names the file and the field, not a KeyError later on.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from edgeloop.errors import BoardProfileError
from edgeloop.resources import boards_dir

# sys.implementation._mpy bits 10+ (MicroPython's MP_NATIVE_ARCH_* numbering).
MPY_ARCHES = {
    0: None, 1: "x86", 2: "x64", 3: "armv6", 4: "armv6m", 5: "armv7m", 6: "armv7em",
    7: "armv7emsp", 8: "armv7emdp", 9: "xtensa", 10: "xtensawin", 11: "rv32imc", 12: "rv64imc",
}
ARCH_NUMBERS = {v: k for k, v in MPY_ARCHES.items() if v}
FLASH_METHODS = ("esptool", "uf2", "dfu")
# The [flash] fields each method's flasher reads (edgeloop.flash.*); checked
# here so a typo in a profile fails on load, not halfway through a flash.
FLASH_FIELDS: dict[str, dict[str, type]] = {
    "uf2": {"family_id": int, "drive_label": str, "flash_base": int},
    "esptool": {"chip": str, "offset": int, "baud": int},
    "dfu": {"dfu_vid": int, "dfu_pid": int, "alt": int, "address": int, "max_bytes": int},
}
# The firmware file each method writes (the official downloads use these).
FIRMWARE_SUFFIX = {"uf2": ".uf2", "esptool": ".bin", "dfu": ".dfu"}


@dataclass(frozen=True)
class USBID:
    vid: int
    pid: int
    mode: str  # "normal" (MicroPython/CircuitPython running) or "bootloader"
    firmware: str = ""  # which firmware shows this ID ("micropython", "circuitpython", "rom", ...)
    notes: str = ""  # how the board gets into this mode, what else shows this ID


@dataclass(frozen=True)
class Sensor:
    kind: str  # "imu" or "microphone"
    part: str
    bus: str = ""
    address: int | None = None
    pins: dict = field(default_factory=dict)
    notes: str = ""


@dataclass(frozen=True)
class BoardProfile:
    name: str
    title: str
    chip: str
    cpu: str
    clock_mhz: int
    mpy_arch: str | None  # native arch for mpy-cross -march (None: no native code)
    mpy_abi: str  # ".mpy" version.sub, e.g. "6.3"
    heap_bytes: int  # Python heap a stock MicroPython leaves free (gc.mem_free at boot)
    fs_bytes: int  # filesystem size MicroPython gives the user
    flash_bytes: int
    ram_bytes: int
    flash_method: str
    micropython_firmware: str
    circuitpython_firmware: str
    usb: tuple[USBID, ...]
    sensors: tuple[Sensor, ...]
    flash: dict
    sources: dict
    path: Path
    psram_bytes: int = 0  # external PSRAM (0: none); the heap lives there when present
    speed_core: str | None = None  # boards/speed/<core>.toml: counted figures for `edgeloop bench` estimates

    @property
    def mpy_value(self) -> int:
        """The `sys.implementation._mpy` a stock MicroPython on this board reports."""
        major, minor = (int(x) for x in self.mpy_abi.split("."))
        arch = ARCH_NUMBERS.get(self.mpy_arch, 0) if self.mpy_arch else 0
        return major | (minor << 8) | (arch << 10)

    @property
    def firmware_suffix(self) -> str:
        return FIRMWARE_SUFFIX[self.flash_method]

    def usb_ids(self, mode: str) -> list[USBID]:
        return [u for u in self.usb if u.mode == mode]

    def sensor(self, kind: str) -> Sensor | None:
        return next((s for s in self.sensors if s.kind == kind), None)


def decode_mpy(value: int) -> dict:
    """Split `sys.implementation._mpy` into version, ABI and native arch."""
    return {
        "version": value & 0xFF,
        "sub": (value >> 8) & 3,
        "abi": f"{value & 0xFF}.{(value >> 8) & 3}",
        "arch": MPY_ARCHES.get(value >> 10, f"unknown({value >> 10})"),
    }


def _need(data: dict, key: str, kind, where: str):
    if not isinstance(data, dict):
        raise BoardProfileError(f"{where}: expected a table with field '{key}', got {data!r}")
    if key not in data:
        raise BoardProfileError(f"{where}: missing field '{key}'; see boards/README.md for the schema")
    value = data[key]
    if not isinstance(value, kind) or isinstance(value, bool) and kind is not bool:
        name = kind.__name__ if isinstance(kind, type) else "/".join(k.__name__ for k in kind)
        raise BoardProfileError(f"{where}: field '{key}' must be {name}, got {value!r}")
    return value


def _parse(path: Path) -> BoardProfile:
    where = str(path)
    try:
        data = tomllib.loads(path.read_text())
    except tomllib.TOMLDecodeError as e:
        raise BoardProfileError(f"{where}: not valid TOML ({e})") from None
    mp = _need(data, "micropython", dict, where)
    arch = mp.get("arch")
    if arch is not None and arch not in ARCH_NUMBERS:
        raise BoardProfileError(
            f"{where}: micropython.arch {arch!r} is not a MicroPython native arch; "
            f"use one of {', '.join(sorted(ARCH_NUMBERS))}")
    abi = _need(mp, "abi", str, where + " [micropython]")
    parts = abi.split(".")
    if len(parts) != 2 or not all(p.isdigit() for p in parts) or int(parts[1]) > 3:
        raise BoardProfileError(f"{where} [micropython]: field 'abi' must look like '6.3' "
                                f"(.mpy version.sub-version, sub-version 0-3), got {abi!r}")
    flash = _need(data, "flash", dict, where)
    method = _need(flash, "method", str, where + " [flash]")
    if method not in FLASH_METHODS:
        raise BoardProfileError(f"{where}: flash.method {method!r} is not one of {', '.join(FLASH_METHODS)}")
    for key, kind in FLASH_FIELDS[method].items():
        _need(flash, key, kind, f"{where} [flash] (method {method})")
    usb = []
    for i, u in enumerate(_need(data, "usb", list, where)):
        w = f"{where} [usb #{i + 1}]"
        mode = _need(u, "mode", str, w)
        if mode not in ("normal", "bootloader"):
            raise BoardProfileError(f"{w}: mode {mode!r} must be 'normal' or 'bootloader'")
        usb.append(USBID(_need(u, "vid", int, w), _need(u, "pid", int, w), mode,
                         u.get("firmware", ""), u.get("notes", "")))
    sensors = []
    for i, s in enumerate(data.get("sensors", [])):
        w = f"{where} [sensors #{i + 1}]"
        kind = _need(s, "kind", str, w)
        if kind not in ("imu", "microphone"):
            raise BoardProfileError(f"{w}: kind {kind!r} must be 'imu' or 'microphone'")
        sensors.append(Sensor(kind, _need(s, "part", str, w), s.get("bus", ""), s.get("address"),
                              dict(s.get("pins", {})), s.get("notes", "")))
    profile = BoardProfile(
        name=_need(data, "name", str, where),
        title=_need(data, "title", str, where),
        chip=_need(data, "chip", str, where),
        cpu=_need(data, "cpu", str, where),
        clock_mhz=_need(data, "clock_mhz", int, where),
        mpy_arch=arch,
        mpy_abi=abi,
        heap_bytes=_need(mp, "heap_bytes", int, where + " [micropython]"),
        fs_bytes=_need(mp, "fs_bytes", int, where + " [micropython]"),
        flash_bytes=_need(data, "flash_bytes", int, where),
        ram_bytes=_need(data, "ram_bytes", int, where),
        flash_method=method,
        micropython_firmware=_need(mp, "firmware", str, where + " [micropython]"),
        circuitpython_firmware=data.get("circuitpython", {}).get("firmware", ""),
        usb=tuple(usb),
        sensors=tuple(sensors),
        flash=flash,
        sources=_need(data, "sources", dict, where),
        path=path,
        psram_bytes=_need(data, "psram_bytes", int, where) if "psram_bytes" in data else 0,
        speed_core=_need(data["speed"], "core", str, where + " [speed]") if "speed" in data else None,
    )
    for key in ("clock_mhz", "flash_bytes", "ram_bytes"):
        if getattr(profile, key) <= 0:
            raise BoardProfileError(f"{where}: field '{key}' must be a positive number, got {getattr(profile, key)}")
    for key in ("heap_bytes", "fs_bytes"):
        if getattr(profile, key) <= 0:
            raise BoardProfileError(f"{where} [micropython]: field '{key}' must be a positive number of bytes, "
                                    f"got {getattr(profile, key)}")
    if not profile.sources:
        raise BoardProfileError(f"{where}: [sources] is empty; every figure needs its source (boards/README.md)")
    if profile.name != path.stem:
        raise BoardProfileError(f"{where}: name {profile.name!r} must match the file name {path.stem!r}")
    return profile


def names(directory: Path | None = None) -> list[str]:
    return sorted(p.stem for p in (directory or boards_dir()).glob("*.toml"))


def load(name: str, directory: Path | None = None) -> BoardProfile:
    directory = directory or boards_dir()
    path = directory / f"{name}.toml"
    if not path.is_file():
        known = ", ".join(names(directory)) or "(none)"
        raise BoardProfileError(f"unknown board {name!r}; known boards: {known}")
    return _parse(path)


def load_all(directory: Path | None = None) -> list[BoardProfile]:
    return [load(n, directory) for n in names(directory)]


def match_usb(vid: int, pid: int, directory: Path | None = None) -> list[tuple[BoardProfile, USBID]]:
    """Profiles whose USB IDs include (vid, pid), with the matching entry."""
    return [(b, u) for b in load_all(directory) for u in b.usb if (u.vid, u.pid) == (vid, pid)]
