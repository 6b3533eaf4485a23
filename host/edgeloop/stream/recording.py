"""One labelled take of raw sensor data, as dataset files.

Per take: `<label>.<UTC time>.csv` (time + one column per channel, in the
sensor's units, the layout the gesture training data has) and a `.json`
sidecar with board, rate, channels, units and what was lost on the way; with
`edge_impulse=True` also `.ei.json` in Edge Impulse's data acquisition format
(unsigned: alg "none"), ready for their uploader. A microphone take can also go
out as WAV in the folder-per-word layout that `edgeloop retrain --recordings`
reads: edgeloop.train.recordings.save_take.
"""

from __future__ import annotations

import csv
import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import StreamError

AXES = ("x", "y", "z")


@dataclass
class Take:
    label: str
    started: float
    hello: dict | None = None
    data: list = field(default_factory=list)  # interleaved int16
    channels: int = 0
    rate_hz: int = 0
    gaps: int = 0  # samples missing between frames (sample_index jumps)
    lost_frames: int = 0
    _next_index: int | None = None
    files: list = field(default_factory=list)

    @property
    def n_samples(self) -> int:
        return len(self.data) // self.channels if self.channels else 0

    def add(self, f: dict) -> None:
        ch = f["channels"]
        if self.channels and ch != self.channels:
            raise StreamError(f"the board changed from {self.channels} to {ch} channels mid-take; record again")
        self.channels, self.rate_hz = ch, f["rate_hz"]
        if self._next_index is not None and f["sample_index"] != self._next_index:
            self.gaps += (f["sample_index"] - self._next_index) & 0xFFFFFFFF
        self._next_index = (f["sample_index"] + len(f["data"]) // ch) & 0xFFFFFFFF
        self.data.extend(f["data"])

    def names(self) -> list[str]:
        return list(AXES[:self.channels]) if self.channels <= 3 else [f"ch{i}" for i in range(self.channels)]


def _atomic_write(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + ".part")
    try:
        with open(tmp, "w", newline="") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except OSError as e:
        tmp.unlink(missing_ok=True)
        raise StreamError(f"cannot write {path}: {e.strerror}; free space or pass --out elsewhere") from None


def _take_base(out: Path, take: Take) -> Path:
    """`<label>.<UTC time>`, with `-2`, `-3`... when a take of that label started in the same second.

    Built as a string, never with Path.with_suffix: the time stamp is itself
    the "suffix" of `<label>.<stamp>`, and with_suffix would replace it, so
    every take of a label would overwrite the last one.
    """
    stamp = time.strftime("%Y%m%dT%H%M%S", time.gmtime(take.started))
    name = f"{take.label}.{stamp}"
    n = 1
    while (out / f"{name}.csv").exists() or (out / f"{name}.json").exists():
        n += 1
        name = f"{take.label}.{stamp}-{n}"
    return out / name


def write_take(take: Take, out: Path, *, edge_impulse: bool = False) -> list[Path]:
    h = take.hello or {}
    scale = float(h.get("scale", 1.0))
    units = h.get("units", "")
    base = _take_base(out, take)
    csv_path, meta_path = base.with_name(base.name + ".csv"), base.with_name(base.name + ".json")
    names = take.names()
    ch, rate = take.channels, take.rate_hz or 1
    rows = [[f"{i / rate:.6f}"] + [f"{take.data[i * ch + c] * scale:.6g}" for c in range(ch)]
            for i in range(take.n_samples)]
    import io
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["time", *names])
    w.writerows(rows)
    _atomic_write(csv_path, buf.getvalue())
    meta = {"label": take.label, "started": take.started, "board": h.get("board"), "device_id": h.get("device_id"),
            "firmware": h.get("firmware"), "sensor": h.get("sensor"), "rate_hz": take.rate_hz, "channels": names,
            "units": units, "scale": scale, "samples": take.n_samples, "missing_samples": take.gaps,
            "lost_frames": take.lost_frames, "data": csv_path.name}
    _atomic_write(meta_path, json.dumps(meta, indent=1) + "\n")
    take.files = [csv_path, meta_path]
    if edge_impulse:
        p = base.with_name(base.name + ".ei.json")
        _atomic_write(p, json.dumps(edge_impulse_json(take)) + "\n")
        take.files.append(p)
    return take.files


# Edge Impulse wants SenML units per axis: the board's fixed-point units -> (axis prefix, unit, factor).
_EI_UNITS = {
    "mg": ("acc", "m/s2", 9.80665e-3),
    "g": ("acc", "m/s2", 9.80665),
    "ddps": ("gyr", "rad/s", 0.1 * 3.141592653589793 / 180),
    "dps": ("gyr", "rad/s", 3.141592653589793 / 180),
}


def edge_impulse_json(take: Take) -> dict:
    """Edge Impulse's data acquisition format (JSON), unsigned.

    Per their spec: protected {ver "v1", alg "none" (or HS256), iat}, a
    signature (64 hex zeros when unsigned), payload {device_type (required),
    device_name (only for a globally unique id, so left out when the board
    has none), interval_ms, sensors [{name, units}], values}. Units must be
    SenML: milli-g becomes m/s2 and 0.1 deg/s rad/s (accX/gyrX names, as
    their own boards send); audio is one "audio" axis in "wav" with the raw
    int16 values as a flat list.
    """
    h = take.hello or {}
    scale = float(h.get("scale", 1.0))
    ch = take.channels
    units = [u.strip() for u in (h.get("units") or "").split(",") if u.strip()] or ["N/A"]
    units = (units * ch)[:ch] if len(units) < ch else units[:ch]
    payload = {"device_type": h.get("board") or "edgeloop"}
    if h.get("device_id"):
        payload["device_name"] = h["device_id"]
    payload["interval_ms"] = 1000.0 / (take.rate_hz or 1)
    if ch == 1 and units[0] == "pcm16":
        payload["sensors"] = [{"name": "audio", "units": "wav"}]
        payload["values"] = list(take.data)
    else:
        sensors, factors = [], []
        for c, (axis, unit) in enumerate(zip(take.names(), units)):
            prefix, senml, factor = _EI_UNITS.get(unit, ("", unit, 1.0))
            sensors.append({"name": prefix + axis.upper() if prefix else axis, "units": senml})
            factors.append(scale * factor)
        payload["sensors"] = sensors
        payload["values"] = [[round(take.data[i * ch + c] * factors[c], 6) for c in range(ch)]
                             for i in range(take.n_samples)]
    return {"protected": {"ver": "v1", "alg": "none", "iat": int(take.started)},
            "signature": "0" * 64, "payload": payload}
