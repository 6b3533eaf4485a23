"""The gesture demo's answer key, from sources that are not the demo's code.

The held-out takes named in models/gesture/model.json read straight from
cgestures.parquet with pyarrow, the label of each window, and the shipped
int8 .tflite under TensorFlow Lite Micro on each window. Shared by the demo
tests (with ../shared/data, and with the recordings the package ships).
"""

from __future__ import annotations

import re
from array import array

import numpy as np

from edgeloop import modelinfo
from edgeloop_fw import features as F
from tests.tools.paths import REPO, SHARED_DATA

PARQUET = SHARED_DATA / "gestures" / "cgestures.parquet"
GESTURE = REPO / "models" / "gesture"


def held_out_stream(info: modelinfo.ModelInfo) -> tuple[np.ndarray, list[tuple[int, int, str]]]:
    """The held-out takes back to back in int16 mg, and (start, frames, label) per take."""
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    table = pq.read_table(PARQUET)
    parts, spans, start = [], [], 0
    for name in info.split["test"]:
        take = name.split(":", 1)[1]
        rows = table.filter(pc.equal(table["file"], take))
        g = np.stack([rows[c].to_numpy() for c in ("x", "y", "z")], axis=1) * 1000.0
        mg = np.clip(np.sign(g) * np.floor(np.abs(g) + 0.5), -32768, 32767).astype(np.int16)
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


def tflm_outputs(stream: np.ndarray, n_windows: int, info: modelinfo.ModelInfo) -> dict[int, np.ndarray]:
    from tflite_micro.python.tflite_micro import runtime

    ref = runtime.Interpreter.from_bytes((GESTURE / "gesture.tflite").read_bytes())
    inp = info.model["input"]
    out = {}
    for k in range(1, n_windows + 1):
        w = stream[(k - 1) * info.hop:(k - 1) * info.hop + info.window]
        q = F.quantize_window(array("h", w.astype("<i2").tobytes()), bytearray(w.size),
                              inp["multiplier"], inp["zero_point"])
        ref.set_input(np.frombuffer(bytes(q), np.int8).reshape(1, info.window, -1), 0)
        ref.invoke()
        out[k] = np.asarray(ref.get_output(0)).reshape(-1).astype(np.int64)
    return out
