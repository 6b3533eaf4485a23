"""Labels for logged windows: review, set, import and export them (`edgeloop label`).

Labels live in the log itself (table `labels`, migration 4): one current label
per inference, with where it came from (`cli`, `review`, `csv:<file>`,
`labelstudio:<file>`) and when. Only inferences logged with their input window
(`edgeloop monitor --window`) can be labelled: a label without the window it
names could not train anything.

A label must be one of the classes of the session the window was logged in
(the model's classes, from the board's HELLO), or one the caller adds on
purpose (`extra_classes`, the CLI's --new-class): a typo must not become a
new class. Every write is one transaction: a file with one bad row changes
nothing. Exports are written atomically (edgeloop.atomic).

Formats (docs/labels.md is the page):
- CSV: header `id,label` (import also takes export's `start,end,label`
  time ranges); export adds host_time, device_id, top_class, confidence.
- Label Studio JSON: a list of tasks; `data` holds `edgeloop_id` and the
  window as an inline time series (`ts`: time plus one list per channel,
  for a TimeSeries tag with valueType="json"); the model's top class is a
  `predictions` entry and a label an `annotations` entry, both as a
  `choices` result from control `label` to object `ts`. Import reads the
  same shape back (Label Studio's JSON export) and its JSON-MIN shape
  (flat objects with `edgeloop_id` and `label`).
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from edgeloop.atomic import write_text_atomic
from edgeloop.errors import EdgeloopError
from edgeloop.log.db import open_log, shown
from edgeloop.log.store import LogBase, blob_int16

FROM_NAME, TO_NAME = "label", "ts"  # the Label Studio control and object names the config uses
SPARK = "▁▂▃▄▅▆▇█"
CHANNEL_NAMES = ("x", "y", "z")


class LabelError(EdgeloopError):
    """A label request names an unknown window or class, or a label file cannot be read."""


@dataclass
class Window:
    id: int
    session_id: int | None
    host_time: float
    device_id: str
    model_hash: str | None
    top_class: str | None
    confidence: float | None
    label: str | None
    classes: list[str]  # the session's classes (the model's)
    rate_hz: float
    values: np.ndarray  # (frames, channels) float, sensor units (window * session scale)
    raw: np.ndarray  # (frames, channels) int16 as the board sent it
    features: bool = False  # raw is the model's int8 input a board kept (a keyword second), not samples

    @property
    def day(self) -> str:
        return dt.datetime.fromtimestamp(self.host_time, dt.timezone.utc).date().isoformat()


def _has_labels(store: LogBase) -> bool:
    return store.schema_version >= 4


def load_windows(db: str | Path, *, ids=None, unlabelled: bool = False, labelled: bool = False,
                 max_confidence: float | None = None, model: str | None = None, limit: int | None = None
                 ) -> list[Window]:
    """The logged windows (with their labels), oldest first, read without writing to the log."""
    store = open_log(db, readonly=True)
    try:
        return _windows(store, ids=ids, unlabelled=unlabelled, labelled=labelled,
                        max_confidence=max_confidence, model=model, limit=limit)
    finally:
        store.close()


def _windows(store: LogBase, *, ids=None, unlabelled=False, labelled=False, max_confidence=None, model=None,
             limit=None) -> list[Window]:
    join = "LEFT JOIN labels l ON l.inference_id = i.id" if _has_labels(store) else ""
    label = "l.label" if join else "NULL"
    # A kept keyword window (schema 5) is the model's input features: labelled through its inference
    # (which carries no window of its own, or only the last 30 ms of audio) and shown instead of it.
    # One kept row per inference, its first (written in SQL that SQLite and PostgreSQL both read).
    if store.schema_version >= 5:
        join += (" LEFT JOIN (SELECT inference_id, min(id) AS kid FROM kept WHERE features = 1"
                 " GROUP BY inference_id) kfirst ON kfirst.inference_id = i.id LEFT JOIN kept kf ON kf.id = kfirst.kid")
        kf, kc = "kf.window", "kf.window_channels"
    else:
        kf = kc = "NULL"
    where, params = [f"(i.window IS NOT NULL OR {kf} IS NOT NULL)"], []
    if ids is not None:
        where.append(f"i.id IN ({','.join('?' * len(ids))})")
        params += list(ids)
    if unlabelled:
        where.append(f"{label} IS NULL")
    if labelled:
        where.append(f"{label} IS NOT NULL")
    if max_confidence is not None:
        where.append("i.confidence <= ?")
        params.append(max_confidence)
    if model:
        where.append("i.model_hash LIKE ?")
        params.append(model + "%")
    sql = (f"SELECT i.id, i.session_id, i.host_time, i.device_id, i.model_hash, i.top_class, i.confidence, "
           f"i.window, i.window_channels, {kf} AS kwin, {kc} AS kch, s.scale, s.rate_hz, s.classes, "
           f"{label} AS label FROM inferences i "
           f"LEFT JOIN sessions s ON s.id = i.session_id {join} WHERE {' AND '.join(where)} ORDER BY i.id")
    if limit:
        sql += f" LIMIT {int(limit)}"
    out = []
    for r in store.query(sql, tuple(params)):
        feats = r["kwin"] is not None
        blob, ch = (r["kwin"], r["kch"]) if feats else (r["window"], r["window_channels"])
        raw = np.asarray(blob_int16(blob), dtype=np.int16).reshape(-1, ch or 1)
        scale = 1.0 if feats else float(r["scale"] or 1.0)
        rate = 50.0 if feats else float(r["rate_hz"] or 1)  # feature frames are 20 ms apart
        out.append(Window(r["id"], r["session_id"], r["host_time"], r["device_id"] or "unknown", r["model_hash"],
                          r["top_class"], r["confidence"], r["label"], json.loads(r["classes"] or "[]"),
                          rate, raw.astype(np.float64) * scale, raw, feats))
    return out


def labelled_hash(items, samples) -> str:
    """sha256 over labelled items in id order: "<id>\\t<label>\\n", then `samples(item)` as int16
    little-endian bytes. The lineage's hash of a field data set, recomputable from the log alone."""
    import hashlib

    h = hashlib.sha256()
    for it in sorted(items, key=lambda it: it.id):
        h.update(f"{it.id}\t{it.label}\n".encode())
        h.update(np.asarray(samples(it)).astype("<i2").tobytes())
    return h.hexdigest()


def sparkline(values: np.ndarray, width: int = 24) -> str:
    """The window's per-frame magnitude (L2 over channels) as block characters, min..max of the window."""
    v = np.asarray(values, dtype=np.float64)
    mag = np.sqrt((v.reshape(len(v), -1) ** 2).sum(axis=1)) if len(v) else v
    if len(mag) == 0:
        return ""
    cols = np.array_split(mag, min(width, len(mag)))
    m = np.array([c.mean() for c in cols])
    lo, hi = m.min(), m.max()
    if hi - lo <= 1e-12 * max(1.0, abs(hi)):
        return SPARK[0] * len(m)
    idx = np.floor((m - lo) / (hi - lo) * (len(SPARK) - 1) + 0.5).astype(int)
    return "".join(SPARK[i] for i in idx)


def parse_set(text: str) -> tuple[int, str]:
    """`ID=class` (the CLI's --set) -> (id, class)."""
    rid, sep, cls = text.partition("=")
    if not sep or not cls.strip():
        raise LabelError(f"--set {text!r} should be ID=class, e.g. --set 12=wave")
    try:
        return int(rid), cls.strip()
    except ValueError:
        raise LabelError(f"--set {text!r}: {rid!r} is not a window id (a whole number from `edgeloop label`)") from None


def set_labels(db: str | Path, labels: dict[int, str], *, source: str, extra_classes=()) -> int:
    """Write `labels` (id -> class) in one transaction after checking every id and class; returns the count."""
    if not labels:
        return 0
    store = open_log(db)  # writable: opening migrates an older log to the labels table
    try:
        found = {w.id: w for w in _windows(store, ids=sorted(labels))}
        missing = sorted(set(labels) - set(found))
        if missing:
            n = store.query("SELECT count(*) AS n, min(id) AS lo, max(id) AS hi FROM inferences "
                            "WHERE inferences.window IS NOT NULL")[0]
            have = f"windows {n['lo']}..{n['hi']}" if n["n"] else "no logged windows"
            raise LabelError(f"no logged window with id {missing[0]}{' (and %d more)' % (len(missing) - 1) if len(missing) > 1 else ''} "
                             f"in {shown(db)} (it has {have}); list them with `edgeloop label --db {shown(db)}`")
        extra = list(extra_classes)
        for rid, cls in labels.items():
            known = found[rid].classes + extra
            if cls not in known:
                raise LabelError(f"class {cls!r} for window {rid} is not one of {', '.join(known)}; fix the label "
                                 f"or add the class on purpose with --new-class {cls}")
        now = time.time()
        store.write_many("INSERT INTO labels (inference_id, label, source, updated) VALUES (?,?,?,?) "
                         "ON CONFLICT (inference_id) DO UPDATE SET label = excluded.label, source = excluded.source, "
                         "updated = excluded.updated", [(rid, cls, source, now) for rid, cls in labels.items()])
        return len(labels)
    finally:
        store.close()


# -- files --------------------------------------------------------------------
def read_csv(path: str | Path, windows: list[Window]) -> dict[int, str]:
    """id -> label from a CSV (`id,label`, or `start,end,label` host-time ranges applied to `windows`)."""
    from edgeloop.log.export import ExportError, read_labels

    try:
        label_of = read_labels(path)
    except ExportError as e:
        raise LabelError(str(e)) from None
    if _is_id_csv(path):
        try:
            with open(path, newline="") as fh:
                return {int(r["id"]): r["label"].strip() for r in csv.DictReader(fh) if (r["label"] or "").strip()}
        except (ValueError, TypeError) as e:
            raise LabelError(f"the label file {path} has a bad row ({e}); ids are whole numbers") from None
    return {w.id: lab for w in windows for lab in [label_of(w.id, w.host_time)] if lab}


def _is_id_csv(path) -> bool:
    with open(path, newline="") as fh:
        return {"id", "label"} <= set(next(csv.reader(fh), []))


def read_labelstudio(path: str | Path) -> dict[int, str]:
    """id -> label from Label Studio's JSON export (full tasks) or its JSON-MIN export."""
    path = Path(path)
    try:
        tasks = json.loads(path.read_text())
    except OSError as e:
        raise LabelError(f"cannot read the label file {path}: {e.strerror}") from None
    except ValueError as e:
        raise LabelError(f"{path} is not JSON ({e}); give Label Studio's JSON export") from None
    if not isinstance(tasks, list):
        raise LabelError(f"{path} is not a Label Studio export (a JSON list of tasks)")
    out = {}
    for n, task in enumerate(tasks):
        if not isinstance(task, dict):
            raise LabelError(f"{path}: task {n} is not an object")
        data = task.get("data") if isinstance(task.get("data"), dict) else task  # JSON-MIN is flat
        rid = data.get("edgeloop_id")
        if not isinstance(rid, int) or isinstance(rid, bool):
            raise LabelError(f"{path}: task {n} has no data.edgeloop_id; label tasks exported with "
                             "`edgeloop label --export tasks.json`")
        label = _annotation_label(task) if "data" in task else task.get(FROM_NAME)
        if isinstance(label, list):
            label = label[0] if label else None
        if isinstance(label, str) and label:
            out[rid] = label
    return out


def _annotation_label(task: dict) -> str | None:
    """The choice of the task's last annotation that was not cancelled."""
    for ann in reversed(task.get("annotations") or []):
        if ann.get("was_cancelled"):
            continue
        for res in ann.get("result") or []:
            choices = (res.get("value") or {}).get("choices")
            if res.get("type") == "choices" and res.get("from_name", FROM_NAME) == FROM_NAME and choices:
                return choices[0]
    return None


def _choice(label: str) -> list[dict]:
    return [{"from_name": FROM_NAME, "to_name": TO_NAME, "type": "choices", "value": {"choices": [label]}}]


def labelstudio_tasks(windows: list[Window]) -> list[dict]:
    tasks = []
    for w in windows:
        names = CHANNEL_NAMES if w.values.shape[1] <= 3 else tuple(f"ch{i}" for i in range(w.values.shape[1]))
        ts = {"time": [round(i / w.rate_hz, 6) for i in range(len(w.values))]}
        ts.update({names[c]: [round(float(v), 6) for v in w.values[:, c]] for c in range(w.values.shape[1])})
        task = {"data": {"edgeloop_id": w.id, "device_id": w.device_id, "host_time": w.host_time,
                         "model_hash": w.model_hash, TO_NAME: ts},
                "predictions": [{"model_version": w.model_hash or "", "score": w.confidence,
                                 "result": _choice(w.top_class)}] if w.top_class else []}
        if w.label:
            task["annotations"] = [{"result": _choice(w.label), "was_cancelled": False}]
        tasks.append(task)
    return tasks


def labelstudio_config(classes: list[str], channels: int) -> str:
    """The labelling interface the exported tasks are made for (paste it into the project's settings)."""
    names = CHANNEL_NAMES if channels <= 3 else tuple(f"ch{i}" for i in range(channels))
    chans = "".join(f'<Channel column="{n}"/>' for n in names[:channels])
    choices = "".join(f'<Choice value="{c}"/>' for c in classes)
    return (f'<View><TimeSeries name="{TO_NAME}" valueType="json" value="${TO_NAME}" timeColumn="time">{chans}'
            f'</TimeSeries><Choices name="{FROM_NAME}" toName="{TO_NAME}" choice="single">{choices}</Choices></View>')


EXPORT_COLUMNS = ("id", "label", "host_time", "device_id", "top_class", "confidence")


def export_labels(db: str | Path, path: str | Path, *, unlabelled: bool = False, labelled: bool = False,
                  max_confidence: float | None = None) -> int:
    """Write the windows (and labels) as CSV or Label Studio JSON, by the file's suffix; atomic."""
    path = Path(path)
    fmt = path.suffix.lower()
    if fmt not in (".csv", ".json"):
        raise LabelError(f"cannot tell the format of {path}: name it .csv or .json (Label Studio)")
    ws = load_windows(db, unlabelled=unlabelled, labelled=labelled, max_confidence=max_confidence)
    if not ws:
        raise LabelError(f"no logged windows in {shown(db)} match; only inferences logged with `edgeloop monitor "
                         "--window` carry their input window")
    if fmt == ".json":
        text = json.dumps(labelstudio_tasks(ws), indent=1) + "\n"
    else:
        buf = io.StringIO()
        wr = csv.writer(buf, lineterminator="\n")
        wr.writerow(EXPORT_COLUMNS)
        wr.writerows((w.id, w.label or "", repr(w.host_time), w.device_id, w.top_class or "",
                      "" if w.confidence is None else repr(w.confidence)) for w in ws)
        text = buf.getvalue()
    try:
        write_text_atomic(path, text)
    except OSError as e:
        raise LabelError(f"cannot write {path}: {e.strerror}; pass a path in a writable folder") from None
    return len(ws)


def import_labels(db: str | Path, path: str | Path, *, extra_classes=()) -> int:
    """Read a CSV or Label Studio JSON label file and set every label in it (all or nothing)."""
    path = Path(path)
    if not path.is_file():
        raise LabelError(f"no label file at {path}")
    if path.suffix.lower() == ".json":
        labels, source = read_labelstudio(path), f"labelstudio:{path.name}"
    else:
        labels, source = read_csv(path, load_windows(db)), f"csv:{path.name}"
    if not labels:
        raise LabelError(f"{path} holds no labels (no annotated task or labelled row)")
    return set_labels(db, labels, source=source, extra_classes=extra_classes)


__all__ = ["LabelError", "Window", "load_windows", "set_labels", "parse_set", "import_labels", "export_labels",
           "sparkline", "labelstudio_tasks", "labelstudio_config", "read_labelstudio"]
