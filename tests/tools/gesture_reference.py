"""The gesture models' answer key, from sources that are not the code under test.

Takes read straight from their tables with pyarrow (cgestures.parquet in g, or a set
`edgeloop export` wrote, in mg), the label of each window, and the int8 .tflite under
TensorFlow Lite Micro on each window (through edgeloop.reference.tflm, the one TFLM
gateway). Shared by the demo tests (with ../shared/data, and with the recordings the
package ships), the deploy tests and the loop test, so each log row is checked one way.
"""

from __future__ import annotations

import json
import re
from array import array
from pathlib import Path

import numpy as np

from edgeloop import modelinfo
from edgeloop_fw import features as F
from tests.tools.paths import REPO, SHARED_DATA

PARQUET = SHARED_DATA / "gestures" / "cgestures.parquet"
GESTURE = REPO / "models" / "gesture"


def table_take(table: Path, take: str) -> tuple[np.ndarray, str]:
    """One take of a gesture table as int16 mg (rounded half away from zero) and its activity."""
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    t = pq.read_table(table)
    rows = t.filter(pc.equal(t["file"], take))
    xyz = np.stack([rows[c].to_numpy() for c in ("x", "y", "z")], axis=1).astype(np.float64)
    if np.median(np.linalg.norm(xyz, axis=1)) < 100:  # in g (about 1), not mg (about 1000)
        xyz = xyz * 1000.0
    mg = np.clip(np.sign(xyz) * np.floor(np.abs(xyz) + 0.5), -32768, 32767).astype(np.int16)
    return mg, str(rows["activity"][0])


def held_out_stream(info: modelinfo.ModelInfo) -> tuple[np.ndarray, list[tuple[int, int, str]]]:
    """The held-out takes back to back in int16 mg, and (start, frames, label) per take."""
    parts, spans, start = [], [], 0
    for name in info.split["test"]:
        take = name.split(":", 1)[1]
        mg, _ = table_take(PARQUET, take)
        label = re.search(r"_([a-z]+)\.npy$", take).group(1)
        parts.append(mg)
        spans.append((start, len(mg), label))
        start += len(mg)
    return np.concatenate(parts), spans


def label_of(k: int, window: int, hop: int, spans) -> str | None:
    s = (k - 1) * hop
    for start, n, label in spans:
        if start <= s and s + window <= start + n:
            return label
    return None


class Tflm:
    """A model folder's int8 .tflite under TFLM; `outputs(window)` is its int8 output for an int16 window,
    quantized with the board's own feature code (the int8 input bytes the board computes)."""

    def __init__(self, model_dir: Path):
        from edgeloop.reference import tflm

        info = modelinfo.load(model_dir)
        self.info = info
        self.ref = tflm.interpreter(Path(model_dir) / info.model["reference"], "the loop test")
        qp = self.ref.get_output_details(0)["quantization_parameters"]
        self.scale, self.zero_point = float(qp["scales"][0]), int(qp["zero_points"][0])

    def outputs(self, window: np.ndarray) -> np.ndarray:
        from edgeloop.reference import tflm

        inp = self.info.model["input"]
        w = np.ascontiguousarray(window, dtype="<i2")
        q = F.quantize_window(array("h", w.tobytes()), bytearray(w.size), inp["multiplier"], inp["zero_point"])
        x = np.frombuffer(bytes(q), np.int8).reshape(1, self.info.window, -1)
        return tflm.invoke(self.ref, x).reshape(-1).astype(np.int64)

    def check_row(self, window: np.ndarray, top: int, scores: str) -> int:
        """Assert a logged inference (top, scores JSON) is TFLM's on its logged window; returns TFLM's top."""
        want = self.outputs(window)
        assert top == int(want.argmax()), (top, want)
        probs = [min(1.0, (v - self.zero_point) * self.scale) for v in want]
        assert np.allclose(json.loads(scores), probs, atol=3e-5), (scores, probs)
        return top


def tflm_outputs(stream: np.ndarray, n_windows: int, info: modelinfo.ModelInfo,
                 model_dir: Path = GESTURE) -> dict[int, np.ndarray]:
    ref = Tflm(model_dir)
    return {k: ref.outputs(stream[(k - 1) * info.hop:(k - 1) * info.hop + info.window])
            for k in range(1, n_windows + 1)}


class Trees:
    """A tree model folder's forest through the board's feature code and evaluator under CPython
    (the trees tests prove that evaluator equal to emlearn's C); `check_row` asserts a logged
    inference's votes are the evaluator's on its logged window."""

    def __init__(self, model_dir: Path):
        from edgeloop_fw import trees

        info = modelinfo.load(model_dir)
        self.csv = (Path(model_dir) / info.model["file"]).read_text()
        self.forest = trees.parse(self.csv.splitlines())
        self.n_trees = sum(1 for ln in self.csv.splitlines() if ln.startswith("r,"))

    def votes(self, window: np.ndarray) -> list[int]:
        ch = window.shape[1]
        out = array("h", bytes(2 * F.n_window_features(ch)))
        F.window_features(array("h", np.ascontiguousarray(window, dtype="<i2").tobytes()), ch, out)
        return list(self.forest.predict_votes(out))

    def check_row(self, window: np.ndarray, top: int, scores: str) -> int:
        votes = [round(s * self.n_trees) for s in json.loads(scores)]  # vote shares in Q0.16
        want = self.votes(window)
        assert votes == want and sum(votes) == self.n_trees, (votes, want)
        assert top == want.index(max(want)), (top, want)
        return top


def reference(model_dir: Path):
    """The independent runner for a gesture model folder: TFLM for a CNN, the evaluator for trees."""
    return Trees(model_dir) if modelinfo.load(model_dir).kind == "trees" else Tflm(model_dir)
