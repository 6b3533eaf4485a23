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

from .errors import BoardProfileError
from .resources import boards_dir

# sys.implementation._mpy bits 10+ (MicroPython's MP_NATIVE_ARCH_* numbering).
MPY_ARCHES = {
    0: None, 1: "x86", 2: "x64", 3: "armv6", 4: "armv6m", 5: "armv7m", 6: "armv7em",
    7: "armv7emsp", 8: "armv7emdp", 9: "xtensa", 10: "xtensawin", 11: "rv32imc", 12: "rv64imc",
}
ARCH_NUMBERS = {v: k for k, v in MPY_ARCHES.items() if v}
FLASH_METHODS = ("esptool", "uf2", "dfu")


@dataclass(frozen=True)
class USBID:
    vid: int
    pid: int
    mode: str  # "normal" (MicroPython/CircuitPython running) or "bootloader"
    firmware: str = ""  # which firmware shows this ID ("micropython", "circuitpython", "rom", ...)


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

    @property
    def mpy_value(self) -> int:
        """The `sys.implementation._mpy` a stock MicroPython on this board reports."""
        major, minor = (int(x) for x in self.mpy_abi.split("."))
        arch = ARCH_NUMBERS.get(self.mpy_arch, 0) if self.mpy_arch else 0
        return major | (minor << 8) | (arch << 10)

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
    flash = _need(data, "flash", dict, where)
    method = _need(flash, "method", str, where + " [flash]")
    if method not in FLASH_METHODS:
        raise BoardProfileError(f"{where}: flash.method {method!r} is not one of {', '.join(FLASH_METHODS)}")
    usb = []
    for i, u in enumerate(_need(data, "usb", list, where)):
        w = f"{where} [usb #{i + 1}]"
        mode = _need(u, "mode", str, w)
        if mode not in ("normal", "bootloader"):
            raise BoardProfileError(f"{w}: mode {mode!r} must be 'normal' or 'bootloader'")
        usb.append(USBID(_need(u, "vid", int, w), _need(u, "pid", int, w), mode, u.get("firmware", "")))
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
        sources=data.get("sources", {}),
        path=path,
    )
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
