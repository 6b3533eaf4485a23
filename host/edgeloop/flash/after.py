"""After a flash: ask the board that came back who it is, then (with --deploy) put
edgeloop's firmware and the models on it.

The deploy path follows what the board says it runs, not what was asked for: a
board that answers "circuitpython" gets the CIRCUITPY drive (or the serial fallback
with the usb_cdc boot.py, see circuitpy.py), anything else the compiled .mpy deploy.
A freshly flashed board enumerates its USB port a moment before its REPL answers,
so opening it is retried for a few seconds; a board that answers but is not the
profile asked for is reported, not refused: the user may have a clone with other
USB IDs, and the deploy compiles for what the board reports anyway.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from ..errors import DeviceBusy, DeviceError, FlashError


@dataclass
class Deployed:
    """What --deploy did, the same for every path (drive or serial, MicroPython or CircuitPython)."""

    where: str  # the drive folder or serial port
    via: str  # "serial" or "drive"
    sent: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    reset_needed: bool = False  # CircuitPython's boot.py changed: it runs only at a hard reset


def identify(port: str, profile, *, timeout: float = 10.0, ports=None, sleep=time.sleep) -> dict:
    """board_info() of the board on `port` (what `edgeloop info` shows), plus `matches`:
    whether the profile flashed is among those the board's answer fits."""
    from edgeloop.link.device import BoardException, Device
    from edgeloop.link.discover import board_info, usb_id_of

    deadline = time.monotonic() + timeout
    while True:
        try:
            with Device(port, timeout=min(5.0, timeout)) as dev:
                info = board_info(dev, usb_id_of(port, ports))
            break
        except (BoardException, DeviceBusy):
            raise
        except DeviceError as e:
            if time.monotonic() >= deadline:
                raise FlashError(f"the board came back on {port} but its REPL does not answer ({e}); "
                                 f"press reset, then run `edgeloop info --port {port}`") from None
            sleep(0.5)
    info["matches"] = profile.name in info.get("profiles", ())
    return info


def describe(info: dict) -> str:
    """One line: firmware, version, .mpy and the profiles the answer fits."""
    mpy = info.get("mpy_decoded")
    abi = f", .mpy {mpy['abi']} arch {mpy['arch'] or 'none'}" if mpy else ""
    fits = ", ".join(info.get("profiles", ())) or "no profile"
    return f"{info['firmware']} {info['version']}{abi}; fits {fits}"


def mismatch_note(info: dict, profile) -> str | None:
    if info.get("matches", True):
        return None
    fits = ", ".join(info.get("profiles", ())) or "no profile"
    return (f"the board reports {info['firmware']} on '{info.get('machine') or info.get('platform')}', "
            f"which fits {fits}, not {profile.name}; check --board (edgeloop boards)")


def deploy(port: str | None, profile, firmware: str, *, models=(), drive=None, points=None,
           progress=None, cache_dir=None) -> Deployed:
    """edgeloop's firmware (and `models` into /models/) onto the board that came back.

    `firmware` is what the board reported ("micropython", "circuitpython"), or what was
    flashed when the board did not answer on serial (a CircuitPython board may still
    show its CIRCUITPY drive)."""
    from edgeloop.deploy.firmware import model_files

    model_files(models)  # a missing model file fails here, before anything is sent
    if firmware == "circuitpython":
        from edgeloop.deploy import circuitpy

        done = circuitpy.deploy(drive=drive, port=port, board=profile.name, models=models, points=points,
                                progress=progress)
        return Deployed(done.where, done.via, done.written, done.unchanged,
                        [f"skipped {s}: {why}" for s, why in done.skipped], done.reset_needed)
    if port is None:
        raise FlashError(f"cannot deploy: the board did not come back on serial; replug it and run "
                         f"`edgeloop deploy --board {profile.name}`")
    from edgeloop.link.device import Device
    from edgeloop.deploy.firmware import deploy_firmware

    with Device(port) as dev:
        r = deploy_firmware(dev, board=profile.name, models=models, progress=progress, cache_dir=cache_dir)
    return Deployed(port, "serial", r.sent, r.unchanged, r.notes)
