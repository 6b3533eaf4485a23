"""CircuitPython: deploy through the CIRCUITPY drive, or through the serial REPL when the
drive is not mounted.

CircuitPython reloads the app whenever a file on CIRCUITPY changes, so files are
written under a temporary name, read back and hashed, then renamed into place, with
boot.py and main.py last: the board never reloads into a half-copied package. The file
list is the deploy helper's (firmware_deploy.firmware_files), as source, because
CircuitPython's .mpy format is not MicroPython's.

boot.py enables `usb_cdc.data`, the second USB serial port the firmware streams on;
boot.py only runs at a hard reset, so the caller is told when a reset is needed.
"""

from __future__ import annotations

import hashlib
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path

from edgeloop.errors import DeployError, NotEnoughSpace
from edgeloop.link import detect

LABEL = "CIRCUITPY"
BOOT_CDC = (
    "# edgeloop: a second USB serial port (usb_cdc.data) for the sensor/inference stream.\n"
    "try:\n"
    "    import usb_cdc\n"
    "    usb_cdc.enable(console=True, data=True)\n"
    "except ImportError:\n"
    "    pass\n"
)
_TMP = ".edgeloop-tmp-"


@dataclass
class CircuitDeploy:
    where: str  # the CIRCUITPY folder, or the serial port of the fallback
    via: str = "drive"  # or "serial"
    written: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)
    reset_needed: bool = False  # boot.py changed: it only runs at a hard reset


def find_drive(points=None, given: str | Path | None = None) -> Path:
    """The mounted CIRCUITPY drive (or `given`, after checking it is one)."""
    if given is not None:
        p = Path(given)
        if not (p / "boot_out.txt").is_file():
            raise DeployError(f"{p} is not a CIRCUITPY drive (no boot_out.txt); pass the folder the board mounts as")
        return p
    drives = [Path(f.where) for f in detect.scan_drives(points) if f.firmware == "circuitpython"]
    named = [d for d in drives if d.name == LABEL] or drives
    if not named:
        raise DeployError("no CIRCUITPY drive is mounted; plug the board in (and mount the drive), "
                          "pass it with --drive PATH, or deploy over serial with --port")
    if len(named) > 1:
        raise DeployError(f"several CircuitPython drives are mounted ({', '.join(map(str, named))}); "
                          "pick one with --drive PATH")
    return named[0]


def with_cdc_boot(boot: bytes) -> bytes:
    return boot if b"usb_cdc.enable" in boot else BOOT_CDC.encode() + b"\n" + boot


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _write_verified(target: Path, data: bytes) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(_TMP + target.name)
    try:
        with open(tmp, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        if _sha(tmp.read_bytes()) != _sha(data):
            raise DeployError(f"{target} read back different from what was written; the drive may be failing "
                              "or was unplugged: run the deploy again")
        os.replace(tmp, target)
    finally:
        if tmp.exists():
            tmp.unlink()


def deploy_to_drive(drive: Path, files, *, progress=None) -> CircuitDeploy:
    """Copy DeployFile-like items (.remote, .data) onto the drive, verified, boot/main last."""
    drive = Path(drive)
    result = CircuitDeploy(str(drive))
    plan = []
    for f in files:
        data = with_cdc_boot(f.data) if f.remote == "/boot.py" else f.data
        target = drive / f.remote.lstrip("/")
        if target.is_file() and _sha(target.read_bytes()) == _sha(data):
            result.unchanged.append(f.remote)
            continue
        plan.append((f.remote, target, data))
    need = sum(len(d) for _, _, d in plan) - sum(t.stat().st_size for _, t, _ in plan if t.is_file())
    free = shutil.disk_usage(drive).free
    if need > 0 and need + 4096 > free:
        raise NotEnoughSpace(f"the files need {need} more bytes on {drive} but only {free} are free; "
                             "delete something from the drive and try again")
    plan.sort(key=lambda p: p[0] in ("/boot.py", "/main.py", "/code.py"))
    total, done = sum(len(d) for _, _, d in plan), 0
    for remote, target, data in plan:
        _write_verified(target, data)
        result.written.append(remote)
        done += len(data)
        if progress:
            progress(done, total, remote)
        if remote == "/boot.py":
            result.reset_needed = True
    # Final check of the whole set: what the board will run is what we meant.
    for remote, target, data in plan:
        if _sha(target.read_bytes()) != _sha(data):
            raise DeployError(f"{target} changed after it was written (is something else writing to the drive?)")
    return result


def cdc_files(files):
    """The deploy's files with boot.py enabling usb_cdc.data (kept first: it must run at boot)."""
    from edgeloop.deploy.plan import DeployFile

    return [DeployFile(f.remote, with_cdc_boot(f.data), f.source, f.group) if f.remote == "/boot.py" else f
            for f in files]


def deploy(*, drive=None, port=None, board=None, models=(), points=None, progress=None,
           fw_dir=None) -> CircuitDeploy:
    """Deploy edgeloop's firmware (and `models` into /models/) to a CircuitPython board: the
    drive if one is mounted (or given), else the serial REPL on `port`.

    Both paths send the same files: edgeloop_fw as source (CircuitPython's .mpy is not
    MicroPython's), no module that needs a native emitter (CircuitPython has none), and
    a boot.py that enables usb_cdc.data. The serial path is the deploy library's
    (staged, hashed on the board, journalled), so it is as atomic as the drive path."""
    from edgeloop.deploy.firmware import firmware_files, model_files, without_native_glue
    from edgeloop.resources import firmware_dir

    try:
        target = find_drive(points, drive)
    except DeployError:
        if drive is not None or port is None:
            raise
        target = None
    files, skipped = firmware_files(fw_dir or firmware_dir(), arch=None, source_only=True)
    files = without_native_glue(files, skipped) + model_files(models)  # CircuitPython loads no native module
    if target is not None:
        result = deploy_to_drive(target, files, progress=progress)
        result.skipped = skipped
        return result
    from edgeloop.deploy.plan import deploy_files
    from edgeloop.link.device import Device

    with Device(port) as dev:
        r = deploy_files(dev, cdc_files(files), prune=("firmware",), board=board, progress=progress)
    return CircuitDeploy(port, "serial", r.sent, r.unchanged, skipped, reset_needed="/boot.py" in r.sent)


# What the board streams on: "console" (MicroPython: frames go on the REPL's binary stdout), or, on
# CircuitPython, "on"/"off": whether boot.py enabled usb_cdc.data at the last hard reset.
CHANNEL_CODE = ("import sys\nif sys.implementation.name == 'circuitpython':\n    import usb_cdc\n"
                "    print('on' if usb_cdc.data is not None else 'off')\n    del usb_cdc\nelse:\n    print('console')")
_RESET_CODE = "import microcontroller\nmicrocontroller.reset()"


def _channel(port: str, timeout: float) -> str:
    from edgeloop.link.device import Device

    with Device(port, timeout=timeout) as dev:
        return dev.exec(CHANNEL_CODE).decode("utf-8", "replace").strip()


def _found_data_port(port: str, seconds: float) -> str | None:
    import time

    from edgeloop.link.discover import data_port

    end = time.monotonic() + seconds
    while True:
        found = data_port(port)
        if found or time.monotonic() > end:
            return found
        time.sleep(0.2)


def data_channel_step(port: str, *, timeout: float = 10.0, come_back: float = 60.0) -> list[str]:
    """Make a CircuitPython board's usb_cdc data channel live (deploy's last step); notes for the user.

    The channel is enabled by boot.py (the deploy just wrote one that does), and boot.py
    runs only at a hard reset, so when the channel is still off the board is reset
    (microcontroller.reset()) and asked again once its REPL is back. A board that does not
    come back, or comes back without the channel, is a DeployError that says what to do
    by hand. Nothing to do on MicroPython (frames share its binary REPL port).
    """
    import time

    from edgeloop.errors import EdgeloopError

    state = _channel(port, timeout)
    if state == "console":
        return []
    if state != "on":
        from edgeloop.link.device import Device

        with Device(port, timeout=timeout) as dev:
            dev.transport.exec_raw_no_follow(_RESET_CODE)
        end = time.monotonic() + come_back
        while True:
            time.sleep(0.5)
            try:
                state = _channel(port, timeout)
                break
            except EdgeloopError as e:
                if time.monotonic() > end:
                    raise DeployError(
                        f"the board on {port} was reset so that boot.py enables its usb_cdc data channel, and its "
                        f"REPL has not come back ({e}); press its reset button, then run `edgeloop devices` "
                        "and `edgeloop monitor --port PORT`") from None
        if state != "on":
            raise DeployError(f"the board on {port} was reset but its usb_cdc data channel is still off: its boot.py "
                              "must call usb_cdc.enable(console=True, data=True) (edgeloop's does; is another "
                              "boot.py on the CIRCUITPY drive?); fix boot.py, press reset, and deploy again")
        reset = "reset the board so boot.py enabled it; "
    else:
        reset = ""
    found = _found_data_port(port, 5.0)
    if found is None:
        return [f"usb_cdc data channel on ({reset}no second serial port with the board's USB serial number "
                "was found: replug the board and check `edgeloop devices`)"]
    return [f"usb_cdc data channel on {found} ({reset}frames stream there; the REPL stays on {port})"]
