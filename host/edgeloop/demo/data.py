"""What `edgeloop demo` replays: a model's held-out recordings as one stream, with the answer key.

The demo is only worth watching if the board sees data the model never
trained on, so the takes come from the model's own record of its split
(`model.json`: `split.test`), read from the real recordings in
`../shared/data`, and are played back to back in one replay file. Takes are
cut to a whole number of hops, so every take starts on the board's window
grid: window k (1-based, as the board numbers them) covers frames
[(k-1)*hop, (k-1)*hop + window) of the stream, and it belongs to a take
exactly when it lies inside one. Those windows are the model card's
held-out windows; the few that straddle two takes are run and checked but
not scored.

A fresh clone has no `../shared`, so the few recordings the demo replays
ship in the package (`recordings/`: the held-out takes, TFLM's four clips
and its preprocessor model; see its README for licence and source), and the
demo falls back to them when the default data folder lacks them. A folder
given with --data is used as given: missing files there are an error.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from edgeloop import modelinfo as MI
from edgeloop.sim import replay as R
from edgeloop.errors import EdgeloopError
from edgeloop.resources import models_dir, repo_root



class DemoDataError(EdgeloopError):
    """The demo's model or recordings are missing or do not match each other."""


DATA_ENV = "EDGELOOP_DATA_DIR"
SHIPPED = Path(__file__).resolve().parent / "recordings"
GESTURE_TAKES = "gesture_heldout.npz"  # the gesture model's held-out takes, int16 mg, cut from the parquet
KEYWORD_FILES = ("silence_1000ms.wav", "yes_1000ms.wav", "noise_1000ms.wav", "no_1000ms.wav",
                 "audio_preprocessor_int8.tflite")  # TFLM's, byte for byte


def default_data_dir() -> Path:
    """$EDGELOOP_DATA_DIR, else ../shared/data beside the checkout (or beside the current folder for an
    installed edgeloop)."""
    if os.environ.get(DATA_ENV):
        return Path(os.environ[DATA_ENV]).expanduser().resolve()
    base = repo_root() or Path.cwd()
    return (base / ".." / "shared" / "data").resolve()


def shipped_note(where: Path) -> str:
    return (f"replaying the recordings shipped with edgeloop ({SHIPPED}; README there): "
            f"{where} is not there")


class ShippedTakes:
    """The shipped gesture takes: {take name: Replay}, and the SHA-256 of the parquet they were cut from."""

    def __init__(self, path: Path = SHIPPED / GESTURE_TAKES):
        self.path = path
        with np.load(path, allow_pickle=False) as z:
            self.source_sha256 = str(z["source_sha256"])
            self.takes = {str(name): R.Replay(z[f"take{i}"].astype(np.int16), float(z["rates"][i]), "mg",
                                              str(z["labels"][i]))
                          for i, name in enumerate(z["takes"])}

    def take(self, name: str) -> R.Replay:
        if name not in self.takes:
            raise DemoDataError(f"the recordings shipped with edgeloop hold the shipped model's held-out takes, "
                                f"not {name}; put the data it was trained on in {default_data_dir()} or pass --data")
        return self.takes[name]


@dataclass(frozen=True)
class Segment:
    """One recording inside the replay stream."""

    name: str
    label: str
    start: int  # first frame in the stream
    frames: int


@dataclass
class ReplaySet:
    kind: str  # "gesture" or "keyword"
    model_dir: Path
    info: MI.ModelInfo  # model.json
    classes: list[str]
    window: int
    hop: int
    replay: R.Replay  # all segments back to back
    segments: list[Segment]
    sources: list[Path]
    notes: list[str] = field(default_factory=list)
    # Keyword models see `input_frames` front-end frames (one per hop) and run every `every` hops.
    input_frames: int = 1
    every: int = 1
    kws: dict | None = None  # the spotter's settings, for the board's config

    @property
    def model_file(self) -> Path:
        return self.model_dir / self.info.model["file"]

    @property
    def reference_file(self) -> Path:
        return self.model_dir / self.info.model["reference"]

    @property
    def frames(self) -> int:
        return len(self.replay.data)

    @property
    def seconds(self) -> float:
        return self.frames / self.replay.rate_hz

    @property
    def n_windows(self) -> int:
        """Windows the board's windower cuts from the stream (hops, for audio)."""
        return (self.frames - self.window) // self.hop + 1 if self.frames >= self.window else 0

    def expected(self) -> list[int]:
        """Window indices (1-based, as the board numbers them) that produce an inference."""
        first = self.input_frames
        return list(range(first, self.n_windows + 1, self.every))

    def span(self, k: int) -> tuple[int, int]:
        """Frames [start, end) of the stream that the inference at window k sees."""
        return (k - self.input_frames) * self.hop, (k - 1) * self.hop + self.window

    def window_frames(self, k: int) -> np.ndarray:
        """The int16 frames of window k (1-based), as the board's windower cuts them."""
        s = (k - 1) * self.hop
        return self.replay.data[s:s + self.window]

    def window_label(self, k: int) -> int | None:
        """Class index of the recording inference k lies in, or None when it straddles two."""
        s, e = self.span(k)
        for seg in self.segments:
            if seg.start <= s and e <= seg.start + seg.frames:
                return self.classes.index(seg.label)
        return None

    def card_accuracy(self) -> tuple[str, dict[str, float], float]:
        """(column name, per class, overall) of the card's on-board-runtime accuracy."""
        return self.info.board_accuracy()


def read_model_info(model_dir: Path, kind: str) -> MI.ModelInfo:
    if not (model_dir / MI.FILE_NAME).exists():
        raise DemoDataError(f"no {kind} model at {model_dir} (model.json missing); "
                            f"train one with `edgeloop train {kind} --out {model_dir}`")
    try:
        info = MI.load(model_dir, task=kind)
    except MI.ModelInfoError as e:
        raise DemoDataError(str(e)) from None
    for name in ("file", "reference") if info.kind != "trees" else ("file",):  # trees have no TFLite twin
        f = model_dir / info.model.get(name, "?")
        if not f.is_file():
            raise DemoDataError(f"{f} is missing; the model folder {model_dir} is incomplete "
                                f"(retrain with `edgeloop train {kind} --out {model_dir}`)")
    return info


def _table_path(table: str, tables: list[str], data_dir: Path) -> Path:
    """Where a training table named in model.json is under data_dir (its path below .../data/)."""
    for t in tables:
        if Path(t).name == table:
            parts = Path(t).parts
            rel = Path(*parts[parts.index("data") + 1:]) if "data" in parts else Path(table)
            return data_dir / rel
    return data_dir / "gestures" / table


def _need(path: Path, what: str) -> None:
    if not path.is_file():
        raise DemoDataError(f"{what} are not at {path}: the demo replays real recordings from the "
                            f"`shared/data` folder next to the edgeloop checkout ({default_data_dir()}); "
                            "put them there or pass --data DIR")


def _cut(n: int, rate: float, seconds: float | None, window: int, hop: int) -> int:
    if seconds is not None:
        n = min(n, max(window, int(seconds * rate)))
    n -= (n - window) % hop if n >= window else 0  # whole hops, so the next take starts on the window grid
    return n


def gesture_set(data_dir: Path | None = None, model_dir: Path | None = None,
                seconds: float | None = None) -> ReplaySet:
    """The gesture model's held-out takes (model.json `split.test`), each cut to `seconds` if given."""
    explicit = data_dir is not None
    data_dir = Path(data_dir) if data_dir else default_data_dir()
    model_dir = Path(model_dir) if model_dir else models_dir() / "gesture"
    info = read_model_info(model_dir, "gesture")
    classes, window, hop = list(info.classes), int(info.window), int(info.hop)
    held = (info.split or {}).get("test") or []
    if not held:
        raise DemoDataError(f"{model_dir / 'model.json'} does not list its held-out takes (split.test); "
                            "retrain with `edgeloop train gesture`")
    parts, segments, sources, start, cut = [], [], [], 0, False
    shipped = None
    for name in held:
        table, _, take = name.rpartition(":")
        path = _table_path(table, (info.data or {}).get("tables", []), data_dir) if table else \
            data_dir / "gestures" / "raw" / take
        if not path.is_file() and not explicit:
            if shipped is None:
                shipped = ShippedTakes()
                missing = path
            rep, path = shipped.take(name), shipped.path
        else:
            _need(path, "gesture recordings")
            rep = R.load(path, take=take) if table else R.load(path)
        if rep.label not in classes:
            raise DemoDataError(f"take {name} is labelled {rep.label!r}, not one of the model's classes "
                                f"{', '.join(classes)}; is --data the data the model was trained on?")
        n = _cut(len(rep.data), rep.rate_hz, seconds, window, hop)
        if n < window:
            raise DemoDataError(f"take {name} has {len(rep.data)} frames, fewer than one {window}-frame window")
        cut |= n < len(rep.data)
        parts.append(rep.data[:n])
        segments.append(Segment(take, rep.label, start, n))
        if path not in sources:
            sources.append(path)
        start += n
    rates = {round(float(info.rate_hz), 3), round(rep.rate_hz, 3)}
    if len(rates) != 1:
        raise DemoDataError(f"the recordings are at {rep.rate_hz:g} Hz but the model was trained at "
                            f"{info.rate_hz} Hz")
    stream = R.Replay(np.concatenate(parts).astype(np.int16), rep.rate_hz, "mg", "heldout")
    rs = ReplaySet("gesture", model_dir, info, classes, window, hop, stream, segments, sources)
    if shipped is not None:
        rs.notes.append(shipped_note(missing))
    rs.notes += _hash_notes(model_dir, [(p.name, hashlib.sha256(p.read_bytes()).hexdigest()) for p in sources
                                        if p != getattr(shipped, "path", None)]
                            + ([("cgestures.parquet", shipped.source_sha256)] if shipped else []))
    if cut:
        rs.notes.append("takes cut to whole hops" + (f" of at most {seconds:g} s" if seconds else "")
                        + ": the accuracy covers fewer windows than the model card's")
    return rs


def _hash_notes(model_dir: Path, sources: list[tuple[str, str]]) -> list[str]:
    """Say so when the recordings (file name, SHA-256) differ from the ones the card was measured on."""
    recipe = model_dir / "recipe.json"
    try:
        want = json.loads(recipe.read_text()).get("data_sha256", {})
    except (OSError, ValueError):
        return []
    notes = []
    for name, digest in sources:
        ref = next((v for k, v in want.items() if Path(k).name == name), None)
        if ref and digest != ref:
            notes.append(f"{name} differs from the file the model card was measured on "
                         "(SHA-256 in recipe.json): accuracies need not match the card")
    return notes


KEYWORD_RECORDINGS = (("silence", "silence"), ("yes", "yes"), ("noise", "silence"), ("no", "no"))


def keyword_set(data_dir: Path | None = None, model_dir: Path | None = None, every: int | None = None) -> ReplaySet:
    """TFLM's four real one-second recordings back to back (noise is scored as silence).

    `every` (default: the model's spotter setting) is how often the board runs
    the model; 2 puts one inference exactly on each one-second recording.
    """
    explicit = data_dir is not None
    data_dir = Path(data_dir) if data_dir else default_data_dir()
    model_dir = Path(model_dir) if model_dir else models_dir() / "keyword"
    info = read_model_info(model_dir, "keyword")
    classes = list(info.classes)
    frames_in = int(info.model["input"]["features"][0])
    kws = dict(info.kws or {})
    kws["every"] = int(every or kws.get("every", 4))
    parts, segments, sources, start, notes = [], [], [], 0, []
    for name, label in KEYWORD_RECORDINGS:
        path = data_dir / "tflm" / "micro_speech" / f"{name}_1000ms.wav"
        if not path.is_file() and not explicit:
            if not notes:
                notes.append(shipped_note(path.parent))
            path = SHIPPED / path.name
        _need(path, "keyword recordings")
        rep = R.load(path)
        if rep.rate_hz != info.rate_hz:
            raise DemoDataError(f"{path} is at {rep.rate_hz:g} Hz; the keyword model takes {info.rate_hz} Hz")
        parts.append(rep.data)
        segments.append(Segment(path.name, label, start, len(rep.data)))
        sources.append(path)
        start += len(rep.data)
    stream = R.Replay(np.concatenate(parts).astype(np.int16), rep.rate_hz, "pcm16", "speech")
    return ReplaySet("keyword", model_dir, info, classes, int(info.window), int(info.hop), stream,
                     segments, sources, notes, input_frames=frames_in, every=kws["every"], kws=kws)
