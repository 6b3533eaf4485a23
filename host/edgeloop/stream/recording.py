"""One labelled take of raw sensor data, as dataset files.

Per take: `<label>.<UTC time>.csv` (time + one column per channel, in the
sensor's units, the layout the gesture training data has) and a `.json`
sidecar with board, rate, channels, units and what was lost on the way; with
`edge_impulse=True` also `.ei.json` in Edge Impulse's data acquisition format
(unsigned: alg "none"), ready for their uploader.
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


def write_take(take: Take, out: Path, *, edge_impulse: bool = False) -> list[Path]:
    h = take.hello or {}
    scale = float(h.get("scale", 1.0))
    units = h.get("units", "")
    stamp = time.strftime("%Y%m%dT%H%M%S", time.gmtime(take.started))
    base = out / f"{take.label}.{stamp}"
    names = take.names()
    ch, rate = take.channels, take.rate_hz or 1
    rows = [[f"{i / rate:.6f}"] + [f"{take.data[i * ch + c] * scale:.6g}" for c in range(ch)]
            for i in range(take.n_samples)]
    import io
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["time", *names])
    w.writerows(rows)
    _atomic_write(base.with_suffix(".csv"), buf.getvalue())
    meta = {"label": take.label, "started": take.started, "board": h.get("board"), "device_id": h.get("device_id"),
            "firmware": h.get("firmware"), "sensor": h.get("sensor"), "rate_hz": take.rate_hz, "channels": names,
            "units": units, "scale": scale, "samples": take.n_samples, "missing_samples": take.gaps,
            "lost_frames": take.lost_frames, "data": base.with_suffix(".csv").name}
    _atomic_write(base.with_suffix(".json"), json.dumps(meta, indent=1) + "\n")
    take.files = [base.with_suffix(".csv"), base.with_suffix(".json")]
    if edge_impulse:
        p = base.with_name(base.name + ".ei.json")
        _atomic_write(p, json.dumps(edge_impulse_json(take)) + "\n")
        take.files.append(p)
    return take.files


def edge_impulse_json(take: Take) -> dict:
    """Edge Impulse data acquisition format, unsigned (alg "none", signature of zeros)."""
    h = take.hello or {}
    scale = float(h.get("scale", 1.0))
    ch = take.channels
    prefix = "acc" if h.get("sensor", "").startswith("acc") else ""
    return {
        "protected": {"ver": "v1", "alg": "none", "iat": int(take.started)},
        "signature": "0" * 64,
        "payload": {
            "device_name": h.get("device_id") or "",
            "device_type": h.get("board") or "edgeloop",
            "interval_ms": 1000.0 / (take.rate_hz or 1),
            "sensors": [{"name": (prefix + n.upper()) if prefix else n, "units": h.get("units") or "N/A"}
                        for n in take.names()],
            "values": [[take.data[i * ch + c] * scale for c in range(ch)] for i in range(take.n_samples)],
        },
    }
