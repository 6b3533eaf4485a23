"""A field log made from real takes: what `edgeloop monitor --window` would have logged.

The takes come from ../shared/data/gestures (real recordings); each take is
one board session (its own HELLO), cut into windows at the model's hop; the
scores are the model's own output for each window under edgeloop's runtime on
this computer (what the board computes), so the log's top class and
confidence are what a board running that model would have logged. `shift`
changes the signal before it is windowed (an induced drift).
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np

from edgeloop import modelinfo as MI
from edgeloop.log.store import Store
from edgeloop.train import dataset as D
from tests.tools.paths import SHARED_DATA

PARQUET = SHARED_DATA / "gestures" / "cgestures.parquet"
DAY = 86400.0
T0 = 1_780_000_000.0  # 2026-05-28 UTC, midnight-aligned days follow


def model_hash(folder: Path) -> str:
    info = MI.load(folder)
    return hashlib.sha256((Path(folder) / info.model["file"]).read_bytes()).hexdigest()[:16]


def takes(names=None) -> list[D.Take]:
    ds = D.load(PARQUET)
    if names is None:
        return ds.takes
    by = {t.name: t for t in ds.takes}
    return [by[n] for n in names]


def write(db: Path, model: Path, takes_: list[D.Take], *, device: str = "d1", day: int = 0,
          shift=None) -> list[tuple[int, str, str]]:
    """Log every window of `takes_` as inferences of `model`; returns (inference id, true class, take) per row."""
    from edgeloop.run.predict import open_target, run

    info = MI.load(model)
    target = open_target(model)
    h = model_hash(model)
    rows = []
    with Store(db) as s:
        for k, take in enumerate(takes_):
            data = take.data.astype(np.float64)
            if shift is not None:
                data = shift(data)
            data = np.clip(np.round(data), -32768, 32767).astype(np.int16)
            w = D.windows(data, info.window, info.hop)
            if not len(w):
                continue
            scores = run(target, w).scores
            s.begin_session(dict(rate_hz=int(info.rate_hz), channels=w.shape[2], window=info.window, hop=info.hop,
                                 mode=2, scale=1.0, device_id=device, board="rp2040", firmware="test",
                                 model_hash=h, sensor="accel", units="mg,mg,mg", classes=info.classes))
            t = T0 + day * DAY + 60.0 * k
            for i, (win, sc) in enumerate(zip(w, scores)):
                q = [int(round(min(max(v, 0.0), 1.0) * 65535)) for v in sc]
                s.add_inference(dict(window_index=i, latency_us=1000, top=int(np.argmax(sc)), scores=q,
                                     model_hash=h, window=win.reshape(-1).tolist(), window_channels=w.shape[2]),
                                i, i * 250, host_time=t + i * info.hop / info.rate_hz)
            s.flush()
            first = s.query("SELECT max(id) AS m FROM inferences")[0]["m"] - len(w) + 1
            rows += [(first + i, take.label, take.name) for i in range(len(w))]
    return rows
