"""training_reference.json (edgeloop.trainref): the numbers drift compares with, checked independently.

The takes are re-read from the parquet with pyarrow and windowed with plain
numpy slicing; feature values come from the board's per-window statistics
(edgeloop_fw.features, the specification of those features); quantiles and
bin shares are recomputed here with numpy; the held-out confidence histogram
is recomputed from TFLM's outputs on the int8 .tflite (the reference runtime),
not from edgeloop's runtime.
"""

from __future__ import annotations

import json
from array import array

import numpy as np
import pytest
from click.testing import CliRunner

from edgeloop import modelinfo, trainref
from edgeloop.cli import cli
from edgeloop_fw import features as F
from tests.host.train.test_train_gesture import PARQUET, numpy_windows, parquet_takes
from tests.tools.paths import REPO

need_data = pytest.mark.skipif(not PARQUET.exists(), reason=f"shared test data not found at {PARQUET}")
pytestmark = need_data


def takes_mg(info) -> dict[str, tuple[str, np.ndarray]]:
    """name -> (class, int16 mg), as the board's sensor driver would give (round half away from zero)."""
    out = {}
    for f, (label, g) in parquet_takes().items():
        mg = np.sign(g) * np.floor(np.abs(g) * 1000 + 0.5)
        out[f"cgestures.parquet:{f}"] = (label, mg.astype(np.int16))
    return out


def features_of(windows: np.ndarray) -> np.ndarray:
    out = np.empty((len(windows), F.n_window_features(3)), np.int64)
    buf = array("h", bytes(2 * out.shape[1]))
    for i, w in enumerate(windows):
        F.window_features(array("h", w.astype(np.int16).reshape(-1).tobytes()), 3, buf)
        out[i] = buf
    return out


def check_reference(folder):
    info = modelinfo.load(folder)
    ref = json.loads((folder / trainref.FILE_NAME).read_text())
    takes = takes_mg(info)
    train = np.concatenate([numpy_windows(takes[n][1], info.window, info.train_hop) for n in info.split["train"]])
    feats = features_of(train)
    assert ref["features"] == F.feature_names(["x", "y", "z"])
    assert ref["windows"] == len(train) <= trainref.SAMPLE_MAX
    for j, name in enumerate(ref["features"]):
        col = feats[:, j]
        assert ref["sample"][name] == sorted(col.tolist()), name
        assert ref["quantiles"][name] == pytest.approx(np.quantile(col, np.linspace(0, 1, 21)), abs=1e-6)
        cuts = np.unique(np.quantile(col, np.arange(1, 10) / 10))
        assert ref["bins"][name]["cuts"] == pytest.approx(cuts)
        want = np.array([(np.digitize(col, cuts) == b).mean() for b in range(len(cuts) + 1)])
        assert ref["bins"][name]["share"] == pytest.approx(want, abs=1e-6)
    return info, ref, takes


def test_the_shipped_cnn_reference_matches_numpy_and_tflm():
    pytest.importorskip("tflite_micro", reason="tflite-micro is not installed")
    from edgeloop.reference import tflm

    folder = REPO / "models" / "gesture"
    info, ref, takes = check_reference(folder)
    test = np.concatenate([numpy_windows(takes[n][1], info.window, info.hop) for n in info.split["test"]])
    inp = info.model["input"]
    interp = tflm.interpreter((folder / info.model["reference"]).read_bytes(), "test")
    top = []
    for w in test:
        q = bytearray(w.size)
        F.quantize_window(array("h", w.astype(np.int16).reshape(-1).tobytes()), q, inp["multiplier"], inp["zero_point"])
        out = tflm.invoke(interp, np.frombuffer(bytes(q), np.int8).reshape(1, *w.shape)).reshape(-1)
        top.append((int(out.max()) + 128) / 256)  # output scale 1/256, zero point -128 (softmax int8)
    counts, _ = np.histogram(top, bins=np.linspace(0, 1, 21))
    assert ref["confidence"]["counts"] == counts.tolist() and ref["confidence"]["windows"] == len(test)
    assert ref["confidence"]["low_share"] == pytest.approx(np.mean(np.array(top) < 0.6))


def test_training_writes_the_reference_beside_the_model(tmp_path):
    out = tmp_path / "trees"
    r = CliRunner().invoke(cli, ["train", "gesture", "--data", str(PARQUET), "--out", str(out), "--model", "trees",
                                 "--no-board-time", "--trees", "4", "--depth", "5"])
    assert r.exit_code == 0, r.output
    info, ref, takes = check_reference(out)
    assert info.model["training_reference"] == trainref.FILE_NAME
    # the trees' confidence is the board evaluator's vote share; the forest itself is checked against
    # emlearn's C in test_train_gesture, so here only the count of held-out windows is checked
    test = np.concatenate([numpy_windows(takes[n][1], info.window, info.hop) for n in info.split["test"]])
    assert ref["confidence"]["windows"] == len(test) == sum(ref["confidence"]["counts"])


def test_a_damaged_or_newer_reference_is_one_clear_error(tmp_path):
    (tmp_path / trainref.FILE_NAME).write_text('{"schema": 9}')
    with pytest.raises(trainref.ReferenceError, match="schema 9 is not 1; upgrade edgeloop"):
        trainref.load(tmp_path)
    (tmp_path / trainref.FILE_NAME).write_text("{")
    with pytest.raises(trainref.ReferenceError, match="not readable JSON"):
        trainref.load(tmp_path)
    (tmp_path / trainref.FILE_NAME).unlink()
    with pytest.raises(trainref.ReferenceError, match="--make-reference"):
        trainref.load(tmp_path)
