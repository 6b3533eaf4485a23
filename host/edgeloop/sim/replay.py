"""Turn a real recording into a replay file the firmware's ReplaySensor plays at its real rate.

The virtual board has no sensors, so it replays takes recorded on real
hardware: accelerometer takes (emlearn's gesture set: raw int16 `.npy`
files, or a `file` from `cgestures.parquet`, both in g at 100 Hz) and 16 kHz
16-bit mono WAV files. The file is built in memory and placed on the board
in one step (a flash folder rename, or one mpremote write), so a board never
sees half a take. The file's layout belongs to
edgeloop_fw.sensors.replay_format, which the board's ReplaySensor reads with.
"""

from __future__ import annotations

import os
import wave
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from edgeloop.errors import EdgeloopError
from edgeloop_fw.sensors import replay_format as F

REMOTE_NAME = "replay.bin"  # where the firmware looks by default (board filesystem root)

GESTURE_RATE_HZ = 100
# emlearn's recorder stored the IMU's raw counts at ±2 g: g = raw * 2 / 32767
# (checked against cgestures.parquet, which holds the same takes in g).
GESTURE_G_PER_COUNT = 2 / 32767
GESTURE_CLASSES = ("idle", "snake", "updown", "wave", "other")


class ReplayError(EdgeloopError):
    """A recording cannot be turned into a replay file."""


@dataclass(frozen=True)
class Replay:
    data: np.ndarray  # int16, shape (frames, channels), in `units`
    rate_hz: float
    units: str
    label: str

    def to_bytes(self) -> bytes:
        frames, channels = self.data.shape
        head = F.pack_header(channels, round(self.rate_hz * 1000), frames, self.units, self.label)
        return head + np.ascontiguousarray(self.data, dtype="<i2").tobytes()


def from_bytes(blob: bytes) -> Replay:
    """Read a replay file back (tests, and `edgeloop` tools that show what a board is replaying)."""
    if len(blob) < F.HEADER_SIZE:
        raise ReplayError(f"replay file is shorter than its {F.HEADER_SIZE}-byte header")
    channels, rate_mhz, frames, units, label = F.parse_header(blob[:F.HEADER_SIZE], ReplayError)
    data = np.frombuffer(blob, dtype="<i2", offset=F.HEADER_SIZE)
    if data.size != frames * channels:
        raise ReplayError(f"replay file holds {data.size} samples, header says {frames}x{channels}")
    return Replay(data.reshape(frames, channels).astype(np.int16), rate_mhz / 1000, units, label)


def g_to_mg(g: np.ndarray) -> np.ndarray:
    """Acceleration in g to the firmware's int16 milli-g.

    Through edgeloop_fw.features.to_units, the one rounding rule training and
    the board use (half away from zero, saturate): numpy's round is half to
    even, which put replayed takes one milli-g off the training data.
    """
    from edgeloop_fw.features import to_units

    a = np.asarray(g, dtype=np.float64)
    flat = [to_units(v, 1000) for v in a.ravel().tolist()]
    return np.array(flat, dtype=np.int16).reshape(a.shape)


def accel_units(xyz: np.ndarray) -> str | None:
    """"g" or "mg" for an (N, 3) accelerometer table, from gravity (an accelerometer always feels
    about 1 g), or None when the median magnitude is neither. Training reads tables with it too:
    `edgeloop export` writes the board's milli-g, cgestures.parquet holds g."""
    a = np.asarray(xyz, dtype=np.float64)
    mag = float(np.median(np.linalg.norm(a, axis=1))) if len(a) else 0.0
    return "g" if 0.3 <= mag <= 5 else "mg" if 300 <= mag <= 5000 else None


def _label_from_name(name: str) -> str:
    stem = Path(name).stem
    tail = stem.rsplit("_", 1)[-1]
    return tail if tail in GESTURE_CLASSES else ""


def gesture_npy(path: Path) -> Replay:
    try:
        raw = np.load(path, allow_pickle=False)
    except (ValueError, OSError, EOFError) as e:  # e.g. a take the recorder cut short
        raise ReplayError(f"{path}: not a readable .npy take ({e})") from None
    if raw.ndim != 2 or raw.shape[1] != 3 or raw.dtype != np.int16:
        raise ReplayError(f"{path}: expected an (N, 3) int16 accelerometer take, got {raw.shape} {raw.dtype}")
    return Replay(g_to_mg(raw.astype(np.float64) * GESTURE_G_PER_COUNT), GESTURE_RATE_HZ, "mg",
                  _label_from_name(path.name))


def gesture_parquet(path: Path, take: str) -> Replay:
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    table = pq.read_table(path, columns=["time", "x", "y", "z", "file", "activity"])
    rows = table.filter(pc.equal(table["file"], take))
    if rows.num_rows == 0:
        takes = sorted(set(table["file"].to_pylist()))
        raise ReplayError(f"{path} has no take {take!r}; takes: {', '.join(takes[:5])}, ... ({len(takes)} in all)")
    xyz = np.stack([rows[c].to_numpy() for c in ("x", "y", "z")], axis=1)
    units = accel_units(xyz)
    if units is None:
        raise ReplayError(f"{path}: take {take!r} is neither in g nor in mg (its median |acceleration| is "
                          f"{np.median(np.linalg.norm(xyz, axis=1)):.4g}); give a gesture table")
    times = rows["time"].to_numpy()
    rate = GESTURE_RATE_HZ
    if len(times) > 1:
        rate = round(1.0 / float(np.median(np.diff(times))), 3)
    mg = g_to_mg(xyz if units == "g" else xyz / 1000)  # an exported retraining set is in mg
    return Replay(mg, rate, "mg", str(rows["activity"][0]))


def wav(path: Path) -> Replay:
    try:
        with wave.open(str(path), "rb") as w:
            if w.getsampwidth() != 2 or w.getnchannels() != 1:
                raise ReplayError(f"{path}: need 16-bit mono PCM, got {8 * w.getsampwidth()}-bit "
                                  f"{w.getnchannels()}-channel audio; convert it with `sox in.wav -b 16 -c 1 out.wav`")
            rate = w.getframerate()
            pcm = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2")
    except (wave.Error, EOFError) as e:
        raise ReplayError(f"{path}: not a readable WAV file ({e})") from None
    stem = path.stem.split("_")[0]
    return Replay(pcm.reshape(-1, 1).astype(np.int16), rate, "pcm16", stem)


def load(source: str | os.PathLike, take: str | None = None) -> Replay:
    """A replay from a gesture .npy, a cgestures.parquet take, or a WAV file."""
    path = Path(source)
    if not path.is_file():
        raise ReplayError(f"recording {path} does not exist; use a .npy/.parquet from gestures/ or a 16 kHz .wav")
    suffix = path.suffix.lower()
    if suffix == ".npy":
        replay = gesture_npy(path)
    elif suffix == ".parquet":
        if not take:
            raise ReplayError(f"{path} holds many takes; name one with take=<file column value>")
        replay = gesture_parquet(path, take)
    elif suffix == ".wav":
        replay = wav(path)
    else:
        raise ReplayError(f"{path}: unknown recording type {suffix!r}; use .npy, .parquet or .wav")
    if len(replay.data) == 0:
        raise ReplayError(f"{path}: the recording is empty")
    return replay


def place_in_flash_dir(replay: Replay, flash_dir: str | os.PathLike, name: str = REMOTE_NAME) -> Path:
    """Put the replay into a virtual board's filesystem folder atomically (temp file + rename)."""
    from edgeloop.atomic import write_bytes_atomic

    dest = Path(flash_dir) / name
    write_bytes_atomic(dest, replay.to_bytes())
    return dest


def push(replay: Replay, device, name: str = REMOTE_NAME) -> str:
    """Write the replay onto a board through its Device (mpremote transport), as a temp file then a rename."""
    remote = "/" + name.lstrip("/")
    tmp = remote + ".part"
    device.transport.fs_writefile(tmp, replay.to_bytes())
    device.exec(f"import os\ntry:\n os.remove({remote!r})\nexcept OSError:\n pass\nos.rename({tmp!r}, {remote!r})")
    return remote
