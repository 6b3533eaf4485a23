"""The virtual board's sensors: the profile's IMU and microphone, emulated from recordings.

`edgeloop sim --imu TAKE --mic CLIP` puts on the board's flash, before its
interpreter starts: a `machine` module (`board_scripts/machine.py`: Pin, I2C,
SPI, I2S), the datasheet register models of the IMU (`simchips.py`), the clock that
plays recordings at their rate (`simfeed.py`), CircuitPython's `audiobusio`
for a PDM microphone, the recordings as replay files under `/sim/`, and
`/sim/wiring.json` saying which part sits on which bus, address and pins: the
profile's own entry, so the firmware's drivers, opened from the
`/edgeloop.json` that `edgeloop deploy` writes, find the chip where the real
board has it. Everything is checked before anything is written; a board
started without sensors gets the files of an earlier run removed.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import numpy as np

from edgeloop_fw.sensors import replay_format as F

from ..atomic import write_bytes_atomic
from ..errors import SimError
from . import replay as R

SCRIPTS = Path(__file__).resolve().parent / "board_scripts"
SIM_DIR = "sim"  # on the board: /sim/wiring.json and the recordings
WIRING = "wiring.json"
LIB_FILES = ("machine.py", "simchips.py", "simspi.py", "simfeed.py")
PDM_FILES = ("audiobusio.py",)
# The I2C addresses each part can take (datasheets: SA0/AD0 low, high); the first is the default.
ADDRESSES = {"LSM6DSOX": (0x6A, 0x6B), "MPU-6050": (0x68, 0x69), "ICM-42670": (0x68, 0x69)}
# The parts with a 4-wire SPI interface (ST DS13604, TDK DS-000451); the MPU-6050 is I2C only (the MPU-6000 has SPI).
SPI_PARTS = ("LSM6DSOX", "ICM-42670")
PARTS = {"LSM6DSOX": "LSM6DSOX", "MPU-6050": "MPU-6050", "MPU6050": "MPU-6050",
         "ICM-42670": "ICM-42670", "ICM-42670-P": "ICM-42670", "ICM42670": "ICM-42670"}


def _sensor(profile, kind: str, option: str):
    s = profile.sensor(kind)
    if s is None:
        has = ", ".join(f"{x.kind} {x.part}" for x in profile.sensors) or "no sensors"
        raise SimError(f"{option}: the {profile.name} profile has no {kind} (it has {has}); "
                       f"pick a board that has one (`edgeloop boards`)")
    return s


def imu_recording(path: str | Path, take: str | None = None) -> tuple[R.Replay, list[str]]:
    """An accelerometer recording in mg, and the takes skipped as unreadable.

    A gesture .npy, a .parquet (one take, or all of them in order), or a
    folder of .npy takes played one after the other; a take in a folder that
    does not load (real data sets hold takes the recorder cut short) is
    skipped and named, not fatal.
    """
    path = Path(path)
    if path.is_dir():
        takes, skipped = [], []
        for f in sorted(path.glob("*.npy")):
            try:
                takes.append(R.load(f))
            except R.ReplayError:
                skipped.append(f.name)
        if not takes:
            raise SimError(f"--imu {path}: the folder holds no readable .npy takes")
        return _joined(takes, str(path)), skipped
    if path.suffix.lower() == ".parquet" and not take and path.is_file():
        import pyarrow.parquet as pq

        takes = list(dict.fromkeys(pq.read_table(path, columns=["file"])["file"].to_pylist()))
        return _joined([R.load(path, t) for t in takes], str(path)), []
    replay = R.load(path, take)
    if replay.units != "mg":
        raise SimError(f"--imu {path}: that is a {replay.units} recording; give an accelerometer take "
                       f"(.npy, .parquet or a folder of .npy)")
    return replay, []


def _joined(replays: list[R.Replay], name: str) -> R.Replay:
    rates = {r.rate_hz for r in replays}
    if len(rates) != 1 or {r.data.shape[1] for r in replays} != {replays[0].data.shape[1]}:
        raise SimError(f"--imu {name}: the takes differ in rate or channels ({sorted(rates)} Hz); give one take")
    return R.Replay(np.concatenate([r.data for r in replays]), replays[0].rate_hz, replays[0].units,
                    replays[0].label if len({r.label for r in replays}) == 1 else "")


def mic_recording(path: str | Path) -> R.Replay:
    replay = R.load(path)
    if replay.units != "pcm16":
        raise SimError(f"--mic {path}: give a 16-bit mono WAV clip, not an accelerometer take")
    return replay


def _entry(sensor, part: str, replay: R.Replay, name: str) -> dict:
    return {"part": part, "bus": sensor.bus, "address": sensor.address, "pins": dict(sensor.pins),
            "file": f"/{SIM_DIR}/{name}", "channels": int(replay.data.shape[1]), "frames": int(len(replay.data)),
            "rate_mhz": round(replay.rate_hz * 1000), "offset": F.HEADER_SIZE}


def plan(profile, imu=None, mic=None, imu_part: str | None = None, take: str | None = None) -> dict[str, bytes]:
    """{flash path: bytes} for the sensors asked for; SimError (nothing written) when they cannot be."""
    if imu is None and mic is None:
        if imu_part or take:
            raise SimError("--imu-part and --take go with --imu")
        return {}
    wiring, files = {}, {}
    if imu is not None:
        s = _sensor(profile, "imu", "--imu")
        part = PARTS.get((imu_part or s.part).upper())
        if part is None:
            raise SimError(f"--imu-part {imu_part or s.part}: the virtual board emulates "
                           f"{', '.join(ADDRESSES)}; pick one of them")
        spi = s.bus.startswith("spi")
        if not (spi or s.bus.startswith("i2c")):
            raise SimError(f"--imu: {profile.name}'s {s.part} is on {s.bus or 'no named bus'}; "
                           f"the virtual board emulates IMUs on I2C and SPI (as edgeloop's drivers read them)")
        if spi and part not in SPI_PARTS:
            raise SimError(f"--imu-part {part}: {profile.name}'s IMU is on {s.bus} and the {part} has no SPI "
                           f"interface; pick one that has ({', '.join(SPI_PARTS)})")
        if spi and "cs" not in s.pins:
            raise SimError(f"--imu: {profile.name}'s {s.part} is on {s.bus} but its profile names no chip-select "
                           f"pin; add pins.cs to its [[sensors]] entry")
        replay, skipped = imu_recording(imu, take)
        entry = _entry(s, part, replay, "imu.bin")
        entry["skipped"] = skipped
        if spi:
            entry["address"] = None  # SPI: the chip select picks the chip
        elif entry["address"] not in ADDRESSES[part]:  # a part named instead of the profile's, or no address
            entry["address"] = ADDRESSES[part][0]
        wiring["imu"] = entry
        files[f"{SIM_DIR}/imu.bin"] = replay.to_bytes()
    if mic is not None:
        s = _sensor(profile, "microphone", "--mic")
        if s.bus not in ("i2s", "pdm"):
            raise SimError(f"--mic: {profile.name}'s {s.part} is on {s.bus or 'no named bus'}; "
                           f"the virtual board emulates I2S and PDM microphones")
        if s.bus == "pdm" and not profile.circuitpython_firmware:
            # The firmware reads PDM only through CircuitPython's audiobusio; emulating it here would
            # pretend the board can run a model its own firmware cannot feed.
            raise SimError(f"--mic: {profile.name}'s {s.part} is a PDM microphone, which edgeloop reads through "
                           f"CircuitPython's audiobusio, and CircuitPython has no {profile.name} port; "
                           f"the profile says: {s.notes}")
        replay = mic_recording(mic)
        wiring["mic"] = _entry(s, s.part, replay, "mic.bin")
        files[f"{SIM_DIR}/mic.bin"] = replay.to_bytes()
    lib = LIB_FILES + (PDM_FILES if "mic" in wiring and wiring["mic"]["bus"] == "pdm" else ())
    for name in lib:
        files[f"lib/{name}"] = (SCRIPTS / name).read_bytes()
    wiring["installed"] = sorted(files) + [f"{SIM_DIR}/{WIRING}"]
    files[f"{SIM_DIR}/{WIRING}"] = json.dumps(wiring, indent=1).encode()
    return files


def remove(flash_dir: Path) -> None:
    """Take an earlier run's emulation off the flash (only the files it listed as its own)."""
    flash_dir = Path(flash_dir)
    try:
        installed = json.loads((flash_dir / SIM_DIR / WIRING).read_text()).get("installed", [])
    except (OSError, ValueError):
        return
    for rel in installed:
        p = flash_dir / rel
        if p.resolve().is_relative_to(flash_dir.resolve()) and p.is_file():
            p.unlink()
    if (flash_dir / SIM_DIR).is_dir() and not any((flash_dir / SIM_DIR).iterdir()):
        shutil.rmtree(flash_dir / SIM_DIR, ignore_errors=True)


def install(flash_dir: Path, files: dict[str, bytes]) -> None:
    """Write a `plan` into the flash folder (each file atomically; the wiring last)."""
    flash_dir = Path(flash_dir)
    remove(flash_dir)
    wiring = f"{SIM_DIR}/{WIRING}"
    if wiring in files:  # the board's machine.unique_id(): one per flash folder, as one per chip
        w = json.loads(files[wiring])
        w["uid"] = hashlib.sha256(str(flash_dir.resolve()).encode()).hexdigest()[:16]
        files = {**files, wiring: json.dumps(w, indent=1).encode()}
    for rel, data in sorted(files.items(), key=lambda kv: kv[0] == wiring):
        dest = flash_dir / rel
        dest.parent.mkdir(parents=True, exist_ok=True)
        write_bytes_atomic(dest, data)


def describe(flash_dir: Path) -> list[str]:
    """One line per emulated sensor, for `edgeloop sim` to print."""
    try:
        wiring = json.loads((Path(flash_dir) / SIM_DIR / WIRING).read_text())
    except (OSError, ValueError):
        return []
    lines = []
    for kind in ("imu", "mic"):
        e = wiring.get(kind)
        if not e:
            continue
        pins = ", ".join(f"{k} {v}" for k, v in e["pins"].items())
        where = f"{e['bus']}" + (f" address 0x{e['address']:02x}" if e.get("address") is not None else "")
        rate = e["rate_mhz"] / 1000
        lines.append(f"{kind}: {e['part']} on {where}" + (f" ({pins})" if pins else "")
                     + f", {e['frames']} frames at {rate:g} Hz ({e['frames'] / rate:.1f} s, looping)")
        if e.get("skipped"):
            lines.append(f"{kind}: skipped {len(e['skipped'])} unreadable takes: {', '.join(e['skipped'])}")
    return lines
