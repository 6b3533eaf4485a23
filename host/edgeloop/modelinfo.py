"""model.json: what a trained model is, how it was trained and how well it did, in one versioned shape.

Training writes it beside the model file and the card; the demo, the CLI,
the tests and the benchmarks read it. Each used to pick its own dict keys
out of two unversioned shapes (gesture and keyword), so a change to what
training writes broke readers one at a time. Now `dumps`/`save` are the
writer and `load` the one reader: it checks the file, lifts the older
shapes to the current one, and refuses a newer schema in one line.

It is a file format, not a step of the loop, so it sits at the bottom of
the package beside errors.py and atomic.py: train/ (the writer), demo/ and
cli/ (readers) all import it and it imports none of them.

Schema history:
  0  (no "schema" key) gesture and keyword files as `edgeloop train` wrote
     them before versioning; keyword files had no "kind".
  1  one shape for both tasks: "schema", then the core every model has
     (task, kind, classes, window, hop, rate_hz, model, evaluation), then
     the sections only one task has (gesture: the takes' units, data and
     split, the board timing; keyword: real recordings, stream, spotter).
  2  "sensor": what the model reads ({"kind": "imu"|"microphone", "channels": n}),
     so `edgeloop deploy` can write the board's /edgeloop.json and refuse a
     board whose profile has no such sensor. Derived from schema 1's task and
     units (accelerometer mg, gyroscope ddps; keyword: one microphone).
     Optional "capture" (the board's capture rules, checked by
     edgeloop_fw.capture.check) was added within schema 2: it is optional and
     readers ignore nothing, so an older edgeloop refuses a file that has it
     with "unknown field capture".
  3  "lineage" (optional): where a retrained model came from -- the parent's
     model hash, the hashes of every data set it was trained on, the seeds,
     the side-by-side re-validation against the parent and whether promotion
     was forced (`edgeloop retrain`). Schema 2 files need no change.
"""

from __future__ import annotations

import json
import os
from dataclasses import MISSING, dataclass, fields
from pathlib import Path

from .atomic import write_bytes_atomic
from .errors import ModelError

SCHEMA = 3
FILE_NAME = "model.json"
TASKS = ("gesture", "keyword")
SENSOR_KINDS = ("imu", "microphone")


class ModelInfoError(ModelError):
    """model.json is missing, not JSON, from a newer edgeloop, or not in the shape its schema says."""


@dataclass(kw_only=True)
class ModelInfo:
    """One model.json. Field order is the file's key order; sections a task does not have are None."""

    schema: int = SCHEMA
    task: str
    kind: str  # "cnn" or "trees"
    classes: list[str]  # output order
    window: int  # stream frames per window (audio: samples per front-end frame)
    hop: int
    train_hop: int | None = None  # gesture: the denser hop training windows used
    rate_hz: float
    sensor: dict | None = None  # {"kind", "channels"}: what the board must stream; derived when not given
    channels: list[str] | None = None  # gesture: the sensor's channels, units on the board, units recorded
    units: list[str] | None = None
    source_units: list[str] | None = None
    data: dict | None = None  # gesture: where the takes came from
    split: dict | None = None  # gesture: which takes trained, which were held out
    model: dict  # "file" (and "reference") beside model.json, sizes, input quantization
    board: dict | None = None  # gesture: time per inference measured on the virtual board
    evaluation: dict  # held-out scores per runner; layout per task, see board_accuracy()
    real_recordings: list | None = None  # keyword: TFLM's recordings one by one
    stream: dict | None = None  # keyword: the same recordings back to back through the spotter
    kws: dict | None = None  # keyword: the spotter's settings the board should use
    capture: dict | None = None  # gesture: which windows the board keeps (edgeloop_fw.capture; deploy flags override)
    train_seconds: float | None = None
    lineage: dict | None = None  # retrained models: parent, data hashes, seeds, re-validation, forced

    def __post_init__(self):
        if self.sensor is None:  # writers (train) state the task and units; the sensor follows from them
            self.sensor = sensor_of(self.task, self.channels, self.units)

    def to_json(self) -> dict:
        """The file's content, without the sections this task does not have."""
        return {f.name: getattr(self, f.name) for f in fields(self) if getattr(self, f.name) is not None}

    def board_accuracy(self) -> tuple[str, dict[str, float], float]:
        """(runner name, accuracy per class, overall) of the on-board runtime, as the card states them."""
        ev = self.evaluation
        if self.task == "gesture":
            return ev["runners"]["board"], dict(ev["per_class"]["board"]), float(ev["overall"]["board"])
        real = ev["real recordings"]  # keyword: TFLM's recordings, one clip each
        return ("edgeloop, clips scored one by one", dict(zip(real["classes"], real["per_class"]["edgeloop"])),
                float(real["overall"]["edgeloop"]))

    def check(self) -> None:
        """Raise ModelInfoError naming the first field that does not fit the schema."""
        if self.schema != SCHEMA:
            raise ModelInfoError(f"schema {self.schema!r} is not {SCHEMA}")
        if self.task not in TASKS:
            raise ModelInfoError(f"task {self.task!r} is not one of {', '.join(TASKS)}")
        for name, ok, want in _CHECKS:
            value = getattr(self, name)
            if value is not None and not ok(value):
                raise ModelInfoError(f"{name} should be {want}, not {value!r}")
        for name in _REQUIRED:
            if getattr(self, name) is None:
                raise ModelInfoError(f"{name} is missing")
        if not isinstance(self.model.get("file"), str):
            raise ModelInfoError("model.file (the model file's name) is missing")
        if self.sensor.get("kind") not in SENSOR_KINDS or not _count(self.sensor.get("channels")):
            raise ModelInfoError(f"sensor should be {{\"kind\": {' or '.join(SENSOR_KINDS)}, \"channels\": n}}, "
                                 f"not {self.sensor!r}")
        if self.capture is not None:
            from edgeloop_fw import capture  # the board's own check: one meaning for the section

            try:
                capture.check(self.capture, self.classes)
            except ValueError as e:
                raise ModelInfoError(str(e)) from None


def sensor_of(task: str, channels: list | None, units: list | None) -> dict:
    """The sensor a model of `task` reads: keyword models one microphone, gesture models an IMU's channels."""
    if task == "keyword":
        return {"kind": "microphone", "channels": 1}
    return {"kind": "imu", "channels": len(units or channels or ()) or 3}


def _count(v) -> bool:
    return isinstance(v, int) and not isinstance(v, bool) and v >= 1


def _names(v) -> bool:
    return isinstance(v, list) and all(isinstance(s, str) for s in v)


_CHECKS = (
    ("kind", lambda v: isinstance(v, str) and bool(v), "a model kind such as cnn"),
    ("classes", lambda v: _names(v) and bool(v), "a list of class names"),
    ("window", _count, "a whole number of frames"),
    ("hop", _count, "a whole number of frames"),
    ("train_hop", _count, "a whole number of frames"),
    ("rate_hz", lambda v: isinstance(v, (int, float)) and not isinstance(v, bool) and v >= 0, "a rate in Hz (0: unknown)"),
    ("channels", _names, "a list of channel names"),
    ("units", _names, "a list of unit names"),
    ("source_units", _names, "a list of unit names"),
    ("real_recordings", lambda v: isinstance(v, list), "a list"),
    ("train_seconds", lambda v: isinstance(v, (int, float)), "a number of seconds"),
) + tuple((name, lambda v: isinstance(v, dict), "an object")
          for name in ("sensor", "data", "split", "model", "board", "evaluation", "stream", "kws", "capture", "lineage"))

_REQUIRED = tuple(f.name for f in fields(ModelInfo) if f.default is MISSING)


def _from_schema_0(raw: dict) -> dict:
    """Unversioned files: both shapes already hold schema 1's keys, except that keyword files had no kind."""
    if raw.get("task") == "keyword":
        raw.setdefault("kind", "cnn")  # the only keyword model `edgeloop train keyword` has made
    return raw


def _from_schema_1(raw: dict) -> dict:
    """Schema 1 had no sensor section: the task and the units say which one."""
    raw.setdefault("sensor", sensor_of(raw.get("task"), raw.get("channels"), raw.get("units")))
    return raw


_MIGRATIONS = {0: _from_schema_0, 1: _from_schema_1, 2: lambda raw: raw}  # 2 -> 3: lineage is optional  # schema n -> a dict in schema n + 1


def from_json(raw, where: str = FILE_NAME) -> ModelInfo:
    """A ModelInfo from parsed model.json content of any schema this edgeloop knows."""
    if not isinstance(raw, dict):
        raise ModelInfoError(f"{where}: expected a JSON object, found {type(raw).__name__}")
    raw = dict(raw)
    schema = raw.pop("schema", 0)
    if not isinstance(schema, int) or isinstance(schema, bool) or schema < 0:
        raise ModelInfoError(f"{where}: schema should be a whole number, not {schema!r}")
    if schema > SCHEMA:
        raise ModelInfoError(f"{where} is model.json schema {schema}, newer than this edgeloop reads "
                             f"(up to {SCHEMA}); upgrade edgeloop")
    for n in range(schema, SCHEMA):
        raw = _MIGRATIONS[n](raw)
    known = {f.name for f in fields(ModelInfo)}
    unknown = sorted(set(raw) - known)
    if unknown:
        raise ModelInfoError(f"{where}: unknown field{'s' if len(unknown) > 1 else ''} {', '.join(unknown)} "
                             f"for model.json schema {SCHEMA}")
    missing = [name for name in _REQUIRED if name not in raw]
    if missing:
        raise ModelInfoError(f"{where}: missing {', '.join(missing)}; retrain the model with `edgeloop train`")
    info = ModelInfo(**raw)
    try:
        info.check()
    except ModelInfoError as e:
        raise ModelInfoError(f"{where}: {e}") from None
    return info


def load(path: str | os.PathLike, task: str | None = None) -> ModelInfo:
    """The model.json at `path` (the file, or the model folder holding it).

    `task`, when given, must be the file's task; it also names the command
    that rebuilds a broken file.
    """
    path = Path(path)
    if path.is_dir():
        path = path / FILE_NAME
    retrain = f"`edgeloop train {task or 'gesture|keyword'}`"
    try:
        raw = json.loads(path.read_text())
    except FileNotFoundError:
        raise ModelInfoError(f"{path} does not exist; train a model with {retrain}") from None
    except (OSError, ValueError) as e:
        raise ModelInfoError(f"{path} is not readable JSON ({e}); retrain with {retrain}") from None
    info = from_json(raw, str(path))
    if task is not None and info.task != task:
        raise ModelInfoError(f"{path} describes a {info.task} model, not a {task} model")
    return info


def dumps(info: ModelInfo) -> str:
    """The file's text (checked first, so training cannot write a file `load` refuses)."""
    info.check()
    return json.dumps(info.to_json(), indent=1) + "\n"


def save(info: ModelInfo, path: str | os.PathLike) -> Path:
    """Write model.json atomically into the folder `path` (or to the file `path`)."""
    path = Path(path)
    if path.is_dir():
        path = path / FILE_NAME
    write_bytes_atomic(path, dumps(info).encode())
    return path
