"""Turn the inference log into a retraining set, in the layout training reads.

- npz: arrays `x` (N, samples, channels) float32 in sensor units and `y`
  (N,) labels, plus `ids` (log row ids) and `confidence`.
- csv / parquet: the gesture table layout of ../shared/data/gestures/
  cgestures.parquet: time, x, y, z, subject, file, activity — one block of
  rows per window (`file` = "inference-<id>", `subject` = device id).

Only inferences logged with their input window (`edgeloop monitor --window`)
can be exported. With `kept`, the windows the board's capture rules kept
(the `kept` table, migration 3; each carries its window) are exported instead,
optionally only those one `rule` kept; npz then adds a `rule` array and `ids`
are the kept windows' inference ids. `export_detections` writes the detections table instead
(what a keyword spotter reported, with the window index that joins each one
to its inference): a list to review for false alarms and misses, csv or
parquet, selected by the same --since and --model. Labels come from --label-from (a CSV with `id,label`, or
`start,end,label` host-time ranges in Unix seconds or ISO 8601), else from
the model's own top class (a pseudo-label: review before training on it).
"""

from __future__ import annotations

import csv
import datetime as dt
import json
import os
from pathlib import Path

import numpy as np

from edgeloop.errors import EdgeloopError, StoreError
from edgeloop.log.db import open_log, shown
from edgeloop.log.store import blob_int16

FORMATS = ("npz", "csv", "parquet")


class ExportError(EdgeloopError):
    """The export request cannot be satisfied (bad filter, no rows, bad label file)."""


def parse_time(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        pass
    try:
        t = dt.datetime.fromisoformat(text)
    except ValueError:
        raise ExportError(f"time {text!r} is neither Unix seconds nor ISO 8601 (e.g. 2026-11-22T10:00)") from None
    if t.tzinfo is None:
        t = t.astimezone()
    return t.timestamp()


def read_labels(path: str | Path):
    """A function (row id, host time) -> label or None, from an id or a time-range CSV."""
    path = Path(path)
    try:
        with open(path, newline="") as fh:
            rows = list(csv.DictReader(fh))
    except OSError as e:
        raise ExportError(f"cannot read the label file {path}: {e.strerror}") from None
    if not rows:
        raise ExportError(f"the label file {path} has no rows; write `id,label` or `start,end,label` with a header")
    cols = set(rows[0])
    try:
        if {"id", "label"} <= cols:
            by_id = {int(r["id"]): r["label"] for r in rows}
            return lambda rid, t: by_id.get(rid)
        if {"start", "end", "label"} <= cols:
            spans = [(parse_time(r["start"]), parse_time(r["end"]), r["label"]) for r in rows]
            return lambda rid, t: next((lab for a, b, lab in spans if a <= t < b), None)
    except (ValueError, TypeError) as e:
        raise ExportError(f"the label file {path} has a bad row ({e})") from None
    raise ExportError(f"the label file {path} needs columns id,label or start,end,label (found {','.join(sorted(cols))})")


def _filters(first: str, since: str | None, model: str | None) -> tuple[list[str], list]:
    """The WHERE terms and their parameters that every export shares: --since and --model."""
    where, params = [first], []
    if since:
        where.append("host_time >= ?")
        params.append(parse_time(since))
    if model:
        where.append("model_hash LIKE ?")
        params.append(model + "%")
    return where, params


def _select(db, table: str, sql, params: list, check=None) -> tuple[list, int]:
    """(matching rows, rows in `table`) from the log, opened read-only and closed again; `sql` may
    be a function of the open store (columns that depend on its schema version)."""
    store = open_log(db, readonly=True)
    try:
        if check:
            check(store)
        return store.query(sql(store) if callable(sql) else sql, tuple(params)), store.count(table)
    finally:
        store.close()


def _kept_rows(db, where: list[str], params: list, rule: str | None) -> tuple[list, int]:
    """Kept windows (migration 3) with their inference's class and confidence; ids are the inference ids."""
    from edgeloop_fw.protocol import RULE_NAMES

    if rule is not None:
        if rule not in RULE_NAMES.values():
            raise ExportError(f"rule {rule!r} is not a capture rule; use one of {', '.join(RULE_NAMES.values())}")
        where.append("k.rule = ?")
        params.append(rule)

    def written_with_kept(store):
        if store.schema_version < 3:
            raise ExportError(f"{shown(db)} was written before kept windows were logged (schema {store.schema_version}); "
                              "open it once with `edgeloop monitor --db` to upgrade it, or record a new log")

    def sql(store):  # a kept keyword window (schema 5) is int8 features: no sensor scale applies
        features = "k.features" if store.schema_version >= 5 else "0"
        return ("SELECT i.id, k.host_time, k.device_id, i.top_class, i.confidence, k.window, k.window_channels, "
                f"s.scale, s.rate_hz, k.rule, {features} AS features FROM kept k "
                "JOIN inferences i ON i.id = k.inference_id "
                f"LEFT JOIN sessions s ON s.id = k.session_id WHERE {' AND '.join(where)} ORDER BY k.id")

    return _select(db, "kept", sql, params, check=written_with_kept)


def export(db: str | Path, out: str | Path, *, fmt: str, since: str | None = None, model: str | None = None,
           max_confidence: float | None = None, label_from: str | Path | None = None, kept: bool = False,
           rule: str | None = None) -> dict:
    """Write the retraining set; returns what was written (counts, path).

    `kept`: only the windows the board's capture rules kept (`rule`: only those one rule kept)."""
    if fmt not in FORMATS:
        raise ExportError(f"format {fmt!r} is not supported; use one of {', '.join(FORMATS)}")
    if rule is not None and not kept:
        raise ExportError("--rule selects kept windows; add --kept")
    prefix = "k." if kept else "i."
    where, params = _filters("window IS NOT NULL", since, model)
    where = [prefix + w for w in where]
    if max_confidence is not None:
        where.append("i.confidence <= ?")
        params.append(max_confidence)
    if kept:
        rows, total = _kept_rows(db, where, params, rule)
    else:
        rows, total = _select(db, "inferences",
                              "SELECT i.id, i.host_time, i.device_id, i.top_class, i.confidence, i.window, "
                              "i.window_channels, s.scale, s.rate_hz FROM inferences i LEFT JOIN sessions s "
                              f"ON s.id = i.session_id WHERE {' AND '.join(where)} ORDER BY i.id", params)
    if not rows:
        if kept:
            raise ExportError(f"no kept windows in {shown(db)} match ({total} in the log; a board keeps windows when it "
                              "was deployed with capture rules: `edgeloop deploy --model DIR --keep-below 0.6`)")
        raise ExportError(f"no logged windows in {shown(db)} match ({total} inferences in the log; only those logged "
                          "with `edgeloop monitor --window` carry their input window)")
    label_of = read_labels(label_from) if label_from else None
    windows, labels, ids, conf, subjects, times, rates, rules = [], [], [], [], [], [], [], []
    shape = None
    for r in rows:
        feats = kept and bool(r["features"])
        a = np.asarray(blob_int16(r["window"]), dtype=np.float32) * (1.0 if feats else float(r["scale"] or 1.0))
        w = a.reshape(-1, r["window_channels"] or 1)
        if shape is None:
            shape = w.shape
        if w.shape != shape:
            raise ExportError(f"windows of different shapes in the selection ({shape} and {w.shape}); "
                              "narrow it with --model or --since")
        label = label_of(r["id"], r["host_time"]) if label_of else r["top_class"]
        if label is None:
            continue  # not covered by the label file: not part of the set
        windows.append(w)
        labels.append(label)
        ids.append(r["id"])
        conf.append(r["confidence"] if r["confidence"] is not None else np.nan)
        subjects.append(r["device_id"] or "unknown")
        times.append(r["host_time"])
        rates.append(r["rate_hz"] or 1)
        rules.append(r["rule"] if kept else "")
    if not windows:
        raise ExportError(f"none of the {len(rows)} selected windows is covered by the label file {label_from}")
    out = Path(out)
    try:
        out.mkdir(parents=True, exist_ok=True)
        path = _write(out, fmt, np.stack(windows), labels, ids, conf, subjects, rates, rules if kept else None)
        (out / "export.json").write_text(json.dumps({
            "source": shown(db), "format": fmt, "windows": len(windows), "window_shape": list(shape),
            "since": since, "model": model, "max_confidence": max_confidence, "kept": kept, "rule": rule,
            "labels": "file " + str(label_from) if label_from else "model top class (pseudo-labels)",
            "classes": sorted(set(labels))}, indent=1) + "\n")
    except OSError as e:
        raise ExportError(f"cannot write to {out}: {e.strerror}; pass --out with a writable folder") from None
    return {"windows": len(windows), "path": path, "shape": shape, "classes": sorted(set(labels))}


DETECTION_COLUMNS = ("id", "session_id", "host_time", "device_id", "board", "model_hash", "class", "class_index",
                     "score", "time_ms", "window_index", "seq", "device_ms")


def export_detections(db: str | Path, out: str | Path, *, fmt: str, since: str | None = None,
                      model: str | None = None) -> dict:
    """Write the logged detections as one table (detections.csv / .parquet); returns count and path."""
    if fmt not in ("csv", "parquet"):
        raise ExportError(f"detections export as csv or parquet (a table of events, no windows), not {fmt}; "
                          "pass --format csv")
    where, params = _filters("1 = 1", since, model)

    def written_with_detections(store):
        if store.schema_version < 2:
            raise ExportError(f"{shown(db)} was written before detections were logged (schema {store.schema_version}); "
                              "open it once with `edgeloop monitor --db` to upgrade it, or record a new log")

    rows, total = _select(db, "detections",
                          "SELECT id, session_id, host_time, device_id, board, model_hash, class_name AS class, "
                          "class_index, score, time_ms, window_index, seq, device_ms FROM detections "
                          f"WHERE {' AND '.join(where)} ORDER BY id", params, check=written_with_detections)
    if not rows:
        raise ExportError(f"no detections in {shown(db)} match ({total} in the log; detections come from a board in "
                          "keyword mode, logged by `edgeloop monitor` or `edgeloop demo --keyword`)")
    out = Path(out)
    try:
        out.mkdir(parents=True, exist_ok=True)
        path = out / f"detections.{fmt}"
        tmp = out / f"detections.part.{fmt}"
        if fmt == "csv":
            with open(tmp, "w", newline="") as fh:
                w = csv.writer(fh, lineterminator="\n")
                w.writerow(DETECTION_COLUMNS)
                w.writerows([r[c] for c in DETECTION_COLUMNS] for r in rows)
        else:
            import pyarrow as pa
            import pyarrow.parquet as pq
            pq.write_table(pa.table({c: [r[c] for r in rows] for c in DETECTION_COLUMNS}), tmp)
        os.replace(tmp, path)
    except OSError as e:
        raise ExportError(f"cannot write to {out}: {e.strerror}; pass --out with a writable folder") from None
    return {"detections": len(rows), "path": path}


def _write(out: Path, fmt: str, x: np.ndarray, labels, ids, conf, subjects, rates, rules=None) -> Path:
    if fmt == "npz":
        path = out / "windows.npz"
        tmp = out / "windows.part.npz"
        extra = {} if rules is None else {"rule": np.asarray(rules)}
        np.savez(tmp, x=x, y=np.asarray(labels), ids=np.asarray(ids, dtype=np.int64),
                 confidence=np.asarray(conf, dtype=np.float32), **extra)
        os.replace(tmp, path)
        return path
    n, length, ch = x.shape
    names = ["x", "y", "z"][:ch] if ch <= 3 else [f"ch{i}" for i in range(ch)]
    cols = {"time": np.concatenate([np.arange(length) / rates[i] for i in range(n)])}
    for c, name in enumerate(names):
        cols[name] = x[:, :, c].reshape(-1).astype(np.float64)
    cols["subject"] = np.repeat(np.asarray(subjects, dtype=object), length)
    cols["file"] = np.repeat(np.asarray([f"inference-{i}" for i in ids], dtype=object), length)
    cols["activity"] = np.repeat(np.asarray(labels, dtype=object), length)
    if fmt == "csv":
        path = out / "windows.csv"
        tmp = out / "windows.csv.part"
        with open(tmp, "w", newline="") as fh:
            w = csv.writer(fh, lineterminator="\n")
            w.writerow(list(cols))
            for row in zip(*(cols[k] for k in cols)):
                w.writerow([f"{v:.6g}" if isinstance(v, float) else v for v in row])
        os.replace(tmp, path)
        return path
    import pyarrow as pa
    import pyarrow.parquet as pq
    path = out / "windows.parquet"
    tmp = out / "windows.parquet.part"
    table = pa.table({k: (pa.array(list(v), pa.string()) if v.dtype == object else pa.array(v))
                      for k, v in cols.items()})
    pq.write_table(table, tmp)
    os.replace(tmp, path)
    return path


__all__ = ["export", "export_detections", "ExportError", "FORMATS", "StoreError"]
