"""Scores a keyword model earns on speakers it never heard: what a user can trust in the field.

Clip scores (one inference per held-out 1 s clip):
- per-class accuracy and the class-balanced accuracy (the mean of the per-class figures, so the
  many `unknown` clips do not hide a keyword the model misses);
- the false-keyword rate: the share of clips holding no keyword (`unknown` words; `silence`,
  i.e. background noise) for which the model names a keyword -- the error that makes a device
  act when nobody asked;
- a threshold table: a keyword counts only when its score (int8 output + 128, of 255) is above
  the threshold, as on the board, trading missed keywords for fewer false ones.

The streaming score plays a long recording made of held-out clips over held-out background noise
continuously through the board's own spotter (edgeloop_fw.kws.KeywordSpotter: front end, ring,
averaging, threshold, suppression) and counts detections, misses and false alarms per hour, as in
MLPerf Tiny's streaming wake-word task. Its inferences run under TFLM (`TflmInterpreter` below)
because the board's runtime takes ~0.1 s per inference under CPython; the clip scores check in
the same run that edgeloop's runtime gives TFLM's output bytes, so the spotter sees the same numbers.
"""

from __future__ import annotations

import io
from array import array

import numpy as np

SILENCE, UNKNOWN = 0, 1
THRESHOLDS = (0, 128, 160, 192, 200, 216, 232)


def clip_scores(tflite: bytes, x: np.ndarray) -> np.ndarray:
    """TFLM's int8 output + 128 (0..255) for each (49, 40) int8 feature clip."""
    from ..reference import tflm

    ref = tflm.interpreter(tflite, "scoring the keyword model")
    shape = tuple(ref.get_input_details(0)["shape"])  # (1, 49, 40, 1), or (1, 1960) for micro_speech
    out = np.zeros((len(x), 0), np.int64)
    rows = []
    for f in x:
        rows.append(tflm.invoke(ref, np.ascontiguousarray(f.reshape(shape))).reshape(-1).astype(np.int64) + 128)
    return np.array(rows, np.int64) if rows else out


def summary(scores: np.ndarray, y: np.ndarray, classes: list[str], threshold: int = 0) -> dict:
    """Per-class accuracy, class-balanced accuracy and false-keyword rates at one threshold.

    A clip's answer is its top class; a keyword answer whose score is not above `threshold`
    becomes `unknown` (the board would stay quiet)."""
    pred = scores.argmax(axis=1)
    top = scores.max(axis=1)
    pred = np.where((pred >= 2) & (top <= threshold), UNKNOWN, pred)
    per_class = {}
    for c, name in enumerate(classes):
        m = y == c
        if m.any():
            per_class[name] = {"clips": int(m.sum()), "accuracy": float((pred[m] == c).mean())}
    kw = y >= 2
    said = pred >= 2
    out = {"threshold": threshold, "clips": int(len(y)), "per_class": per_class,
           "balanced_accuracy": float(np.mean([v["accuracy"] for v in per_class.values()])) if per_class else 0.0,
           "accuracy": float((pred == y).mean()) if len(y) else 0.0}
    for name, c in (("unknown", UNKNOWN), ("silence", SILENCE)):
        m = y == c
        out[f"false_keyword_{name}"] = float(said[m].mean()) if m.any() else None
    none = y < 2
    out["false_keyword"] = float(said[none].mean()) if none.any() else None
    out["keyword_detected"] = float((pred[kw] == y[kw]).mean()) if kw.any() else None
    out["wrong_keyword"] = float((said[kw] & (pred[kw] != y[kw])).mean()) if kw.any() else None
    return out


def threshold_table(scores: np.ndarray, y: np.ndarray, classes: list[str], thresholds=THRESHOLDS) -> list[dict]:
    return [summary(scores, y, classes, t) for t in thresholds]


class TflmInterpreter:
    """What KeywordSpotter needs of an interpreter (the model's tensors, an arena, invoke), with the
    arithmetic done by TFLM on the same int8 .tflite: the tensors and arena layout are edgeloop's
    own (its loader), so the spotter's code runs unchanged."""

    def __init__(self, elm: bytes, tflite: bytes):
        from edgeloop_fw.runtime.interpreter import Interpreter
        from edgeloop_fw.runtime.loader import Model

        from ..reference import tflm

        board = Interpreter(Model(io.BytesIO(elm)))
        self.model = board.model
        self.arena = board.arena
        self._bytes = memoryview(self.arena).cast("B")  # the arena as plain bytes, whatever its format
        self._in, self._out = self.model.inputs[0], self.model.outputs[0]
        self._ref = tflm.interpreter(tflite, "the streaming score")
        self._shape = tuple(self._ref.get_input_details(0)["shape"])

    def invoke(self):
        from ..reference import tflm

        t = self._in
        x = np.frombuffer(bytes(self._bytes[t.offset:t.offset + t.nbytes]), np.int8).reshape(self._shape)
        out = tflm.invoke(self._ref, x).astype(np.int8).tobytes()
        self._bytes[self._out.offset:self._out.offset + len(out)] = out


def make_stream(keyword_clips: list[np.ndarray], keyword_labels: list[int], other_clips: list[np.ndarray],
                noises: list[np.ndarray], seed: int, gap_s=(1.0, 2.0)) -> tuple[np.ndarray, list[tuple[int, int]]]:
    """One long int16 recording: clips in a seeded order, each after a gap, over a continuous bed of
    background noise at a level drawn per second. Returns (samples, [(label, start sample)] of every
    keyword clip)."""
    rng = np.random.default_rng([seed, 21])
    items = [(c, lab) for c, lab in zip(keyword_clips, keyword_labels)] + [(c, UNKNOWN) for c in other_clips]
    order = rng.permutation(len(items))
    gaps = rng.uniform(gap_s[0], gap_s[1], len(items))
    total = int(sum(int(g * 16000) + 16000 for g in gaps)) + 32000
    x = np.zeros(total, np.float64)
    if noises:
        for s in range(0, total, 16000):
            n = noises[int(rng.integers(len(noises)))].astype(np.float64) * float(rng.uniform(0.0, 0.5))
            m = min(16000, total - s)
            x[s:s + m] += n[:m]
    marks = []
    at = 0
    for i, g in zip(order, gaps):
        at += int(g * 16000)
        clip, lab = items[i]
        x[at:at + 16000] += clip.astype(np.float64)
        if lab >= 2:
            marks.append((lab, at))
        at += 16000
    return np.clip(np.round(x), -32768, 32767).astype(np.int16), marks


def stream_features(x: np.ndarray, cache=None) -> np.ndarray:
    """The board's front end over the whole stream, never reset, one row of 40 int8 per 20 ms: what
    KeywordSpotter.feed computes before push_features, done once for every model scored on the stream
    (and cached by the stream's content: ~1 ms a frame in pure Python)."""
    import hashlib

    from edgeloop_fw.audio import AudioFrontend

    path = None
    if cache is not None:
        path = cache / f"stream-{hashlib.sha256(x.tobytes()).hexdigest()[:24]}.npy"
        if path.is_file():
            return np.load(path)
    fe = AudioFrontend()
    samples = array("h", x.astype("<i2").tobytes())
    n = 1 + (len(x) - 480) // 320
    out = np.zeros((n, fe.num_channels), np.int8)
    for f in range(n):
        out[f] = np.frombuffer(bytes(b & 0xFF for b in fe.process(samples, f * 320)), np.int8)
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        np.save(path, out)
    return out


def stream_score(interpreter, classes: list[str], x: np.ndarray, marks: list[tuple[int, int]], settings: dict,
                 late_ms: int = 750, features: np.ndarray | None = None) -> dict:
    """The board's spotter over the stream: a keyword counts as detected when the spotter reports
    its class between its start and `late_ms` after its end; every other report is a false alarm.
    `features`: stream_features(x), when already computed (the same rows feed() would make)."""
    from edgeloop_fw.kws import KeywordSpotter

    found = []

    def listener(k, c):
        if c >= 0:
            found.append((k.detected_ms, c, k.detected_score))

    k = KeywordSpotter(interpreter, classes, listener=listener, **settings)
    if features is None:
        k.feed(array("h", x.astype("<i2").tobytes()))
    else:
        for row in features:
            k.push_features(row)
    return match(found, marks, len(x), settings, late_ms)


def match(found: list[tuple[int, int, int]], marks: list[tuple[int, int]], n_samples: int, settings: dict,
          late_ms: int = 750) -> dict:
    """Detections (ms, class, score) against the keywords (label, start sample) of a stream of
    n_samples: each keyword takes the first unused report of its class from its start to late_ms
    after its end; every other report is a false alarm."""
    used = set()
    hits = 0
    for lab, start in marks:
        a, b = start * 1000 // 16000, (start + 16000) * 1000 // 16000 + late_ms
        for j, (ms, c, _) in enumerate(found):
            if j not in used and c == lab and a <= ms <= b:
                used.add(j)
                hits += 1
                break
    false = len(found) - len(used)
    hours = n_samples / 16000 / 3600
    return {"keywords": len(marks), "detected": hits, "missed": len(marks) - hits, "false_alarms": false,
            "hours": hours, "false_alarms_per_hour": false / hours if hours else 0.0,
            "detected_rate": hits / len(marks) if marks else None, "settings": dict(settings),
            "detections": len(found)}
