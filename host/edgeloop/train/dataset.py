"""Gesture recordings in, labelled takes in the board's int16 units out.

Accepted: one Parquet/CSV table or a folder of them (searched recursively).
A table has columns `time, x, y, z, activity` (acceleration in g, like
../shared/data/gestures/cgestures.parquet), optionally `gx, gy, gz`
(degree/s), `subject` and `file` (the take a row belongs to). The folders
`edgeloop record` writes hold one CSV per take (`time, x, y, z` in the
board's units) with a `.json` sidecar naming the label, units and scale;
those are read the same way.

A take is the unit of splitting: the rows of one `file` value (or of one
table without a `file` column), cut further wherever the activity changes.
Values become the board's int16 units through edgeloop_fw.features, the same
code the board runs, so the training windows are the windows the board sees.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from edgeloop_fw import features as F

from ..errors import EdgeloopError
from ..sim.replay import accel_units

ACCEL = ("x", "y", "z")
GYRO = ("gx", "gy", "gz")
EXPECTED = "time, x, y, z, activity (optional: gx, gy, gz, subject, file)"
BOARD_UNITS = {"g": "mg", "mg": "mg", "dps": "ddps", "ddps": "ddps"}


class DataError(EdgeloopError):
    """The training data cannot be used; the message says what to fix."""


@dataclass
class Take:
    name: str  # unique: "<table>" or "<table>:<file>" (plus "#k" when the activity changes inside)
    label: str
    data: np.ndarray  # int16 (frames, channels) in board units
    rate_hz: float
    subject: str = "unknown"


@dataclass
class Dataset:
    takes: list[Take]
    channels: list[str]  # column names, e.g. ["x", "y", "z"]
    units: list[str]  # board units per channel ("mg", "ddps")
    source_units: list[str]  # what the tables held ("g", "mg", ...)
    rate_hz: float
    tables: list[Path] = field(default_factory=list)

    @property
    def classes(self) -> list[str]:
        return sorted({t.label for t in self.takes})

    def takes_per_class(self) -> dict[str, int]:
        return {c: sum(t.label == c for t in self.takes) for c in self.classes}


def find_tables(path: Path) -> list[Path]:
    path = Path(path)
    if not path.exists():
        raise DataError(f"{path} does not exist; give a .parquet/.csv table or a folder of them")
    if path.is_file():
        if path.suffix.lower() not in (".parquet", ".csv"):
            raise DataError(f"{path} is not a .parquet or .csv table; give cgestures.parquet-style data "
                            "or a folder `edgeloop record` wrote")
        return [path]
    tables = sorted(p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in (".parquet", ".csv")
                    and not any(part.startswith(".") for part in p.relative_to(path).parts))
    if not tables:
        raise DataError(f"{path} holds no .parquet or .csv tables; give cgestures.parquet-style data "
                        f"(columns {EXPECTED}) or a folder `edgeloop record` wrote")
    return tables


def _read(path: Path) -> dict[str, np.ndarray]:
    try:
        if path.suffix.lower() == ".parquet":
            import pyarrow.parquet as pq
            table = pq.read_table(path)
        else:
            import pyarrow.csv as pcsv
            table = pcsv.read_csv(path)
    except Exception as e:  # pyarrow raises ArrowInvalid, OSError, ...
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise DataError(f"{path} is not a readable table ({first})") from None
    return {name.strip().lower(): table.column(name).to_numpy(zero_copy_only=False) for name in table.column_names}


def _sidecar(path: Path) -> dict:
    """The `.json` `edgeloop record` writes next to each take's CSV, if any."""
    side = path.with_name(path.name[: -len(path.suffix)] + ".json")
    if not side.is_file():
        return {}
    try:
        meta = json.loads(side.read_text())
    except (OSError, ValueError) as e:
        raise DataError(f"{side} is not readable JSON ({e}); re-record the take or remove the file") from None
    return meta if isinstance(meta, dict) else {}


def _guess_units(cols: dict, path: Path) -> str:
    """g or mg, from gravity: an accelerometer always feels about 1 g."""
    xyz = np.stack([np.asarray(cols[c], dtype=np.float64) for c in ACCEL], axis=1)
    units = accel_units(xyz)
    if units:
        return units
    mag = float(np.median(np.linalg.norm(xyz, axis=1))) if len(xyz) else 0.0
    raise DataError(f"cannot tell the units of {path}: the median |acceleration| is {mag:.4g}, neither about "
                    "1 (g) nor about 1000 (mg); pass --units g or --units mg")


def _table_takes(path: Path, rel: str, units: str) -> tuple[list[Take], list[str], list[str]]:
    cols = _read(path)
    meta = _sidecar(path) if path.suffix.lower() == ".csv" else {}
    side_label = meta.get("label")
    # `edgeloop record` names channels ch0..chN beyond three; its sidecar says what they are.
    if "x" not in cols and "ch0" in cols and meta:
        for i, name in enumerate(ACCEL + GYRO):
            if f"ch{i}" in cols:
                cols[name] = cols.pop(f"ch{i}")
    need = ["time", *ACCEL] + ([] if side_label else ["activity"])
    missing = [c for c in need if c not in cols]
    if missing:
        raise DataError(f"{path} lacks column{'s' if len(missing) > 1 else ''} {', '.join(missing)}; "
                        f"expected {EXPECTED}; found {', '.join(sorted(cols)) or 'none'}")
    channels = list(ACCEL) + (list(GYRO) if all(g in cols for g in GYRO) else [])
    n = len(cols["time"])
    if n == 0:
        return [], channels, []
    if meta.get("units"):
        side_units = [u.strip() for u in str(meta["units"]).split(",")]
        scale = float(meta.get("scale") or 1.0)
        if len(side_units) < len(channels) or any(u not in ("mg", "ddps") for u in side_units[:len(channels)]):
            raise DataError(f"{path}: its sidecar says units {meta['units']!r}; gesture training needs "
                            "accelerometer data in mg (and gyroscope in ddps)")
        source = side_units[:len(channels)]
        per_unit = [1.0 / scale] * len(channels)
    else:
        accel = units if units in ("g", "mg") else _guess_units(cols, path)
        gyro = "dps" if accel == "g" else "ddps"
        source = [accel] * 3 + [gyro] * (len(channels) - 3)
        per_unit = [F.PER_UNIT[u] for u in source]
    try:
        values = np.stack([np.asarray(cols[c], dtype=np.float64) for c in channels], axis=1)
        times = np.asarray(cols["time"], dtype=np.float64)
    except (TypeError, ValueError):
        raise DataError(f"{path}: columns time, {', '.join(channels)} must be numbers") from None
    if not (np.isfinite(values).all() and np.isfinite(times).all()):
        raise DataError(f"{path} has empty or non-numeric cells in time/{'/'.join(channels)}; fill or drop those rows")
    labels = ([str(side_label)] * n if side_label else [str(a) for a in cols["activity"]])
    files = [str(f) for f in cols["file"]] if "file" in cols else [""] * n
    subjects = [str(s) for s in cols["subject"]] if "subject" in cols else [str(meta.get("device_id") or "unknown")] * n
    groups: dict[str, list[int]] = {}
    for i, f in enumerate(files):
        groups.setdefault(f, []).append(i)
    takes = []
    for f, rows in groups.items():
        rows = np.asarray(rows)
        rows = rows[np.argsort(times[rows], kind="stable")]
        base = f"{rel}:{f}" if f else rel
        start = 0
        part = 0
        for j in range(1, len(rows) + 1):
            if j == len(rows) or labels[rows[j]] != labels[rows[start]]:
                seg = rows[start:j]
                name = base if start == 0 and j == len(rows) else f"{base}#{part}"
                data = np.array([[F.to_units(v, per_unit[c]) for c, v in enumerate(row)]
                                 for row in values[seg].tolist()], dtype=np.int16).reshape(len(seg), len(channels))
                dt = np.diff(times[seg])
                rate = float(1.0 / np.median(dt)) if len(dt) and np.median(dt) > 0 else float(meta.get("rate_hz") or 0)
                takes.append(Take(name, labels[rows[start]], data, rate, subjects[rows[start]]))
                start = j
                part += 1
    return takes, channels, source


def load(path: str | Path, *, units: str = "auto") -> Dataset:
    """Every take under `path`, in board units, with one sample rate and one channel layout."""
    if units not in ("auto", "g", "mg"):
        raise DataError(f"units {units!r} is not supported; use auto, g or mg")
    root = Path(path)
    tables = find_tables(root)
    takes: list[Take] = []
    layout = None
    for table in tables:
        rel = table.name if root.is_file() else table.relative_to(root).as_posix()
        got, channels, source = _table_takes(table, rel, units)
        if not got:
            continue
        if layout is None:
            layout = (channels, source, table)
        elif channels != layout[0]:
            raise DataError(f"{table} has channels {', '.join(channels)} but {layout[2]} has "
                            f"{', '.join(layout[0])}; train on tables with the same channels")
        takes += got
    if not takes:
        raise DataError(f"no rows in {root}; record some takes first (edgeloop record --label wave)")
    rates = np.array([t.rate_hz for t in takes])
    rate = float(np.median(rates))
    odd = [t for t in takes if not rate * 0.97 <= t.rate_hz <= rate * 1.03]
    if rate <= 0 or odd:
        t = odd[0] if odd else takes[0]
        raise DataError(f"take {t.name} is sampled at {t.rate_hz:.4g} Hz but most are at {rate:.4g} Hz; "
                        "train on takes recorded at one rate (or resample them)")
    channels, source, _ = layout
    ds = Dataset(takes, channels, [BOARD_UNITS[u] for u in source], source, round(rate, 3), tables)
    if len(ds.classes) < 2:
        raise DataError(f"the data has one class ({ds.classes[0]}); a classifier needs at least two: "
                        "record takes of another gesture (or of idle)")
    return ds


def windows(data: np.ndarray, window: int, hop: int) -> np.ndarray:
    """(n, window, channels) int16: the windows the board's Windower emits for this take."""
    if len(data) < window:
        return np.zeros((0, window, data.shape[1]), dtype=np.int16)
    view = np.lib.stride_tricks.sliding_window_view(data, window, axis=0)[::hop]
    return np.ascontiguousarray(view.transpose(0, 2, 1))


def split(ds: Dataset, *, test_fraction: float, seed: int) -> tuple[list[Take], list[Take]]:
    """Hold out whole takes per class (never windows of one take on both sides), reproducibly."""
    rng = np.random.default_rng(seed)
    train, test = [], []
    for c, n in ds.takes_per_class().items():
        if n < 2:
            raise DataError(f"class '{c}' has {n} take; splitting by take needs at least 2 per class "
                            "(record another take of it)")
        mine = sorted((t for t in ds.takes if t.label == c), key=lambda t: t.name)
        order = rng.permutation(len(mine))
        k = min(n - 1, max(1, round(n * test_fraction)))
        test += [mine[i] for i in sorted(order[:k])]
        train += [mine[i] for i in sorted(order[k:])]
    return train, test


def stack(takes: list[Take], classes: list[str], window: int, hop: int):
    """Windows, integer labels and the take index of each window."""
    xs, ys, owners = [], [], []
    for i, t in enumerate(takes):
        w = windows(t.data, window, hop)
        xs.append(w)
        ys += [classes.index(t.label)] * len(w)
        owners += [i] * len(w)
    ch = takes[0].data.shape[1] if takes else 0
    x = np.concatenate(xs) if xs else np.zeros((0, window, ch), np.int16)
    return x, np.asarray(ys, dtype=np.int64), np.asarray(owners, dtype=np.int64)
