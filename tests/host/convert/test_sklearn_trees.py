"""sklearn tree ensembles → emlearn CSV/C, checked against emlearn's own C compiled with gcc.

The references are independent of the code under test: sklearn's predict for
single trees (exact, thanks to the threshold rewrite) and emlearn's generated
C for everything (the board evaluator must give the same class on every row).
"""

from __future__ import annotations

import pickle
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from sklearn.datasets import make_classification
from sklearn.ensemble import ExtraTreesClassifier, RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.tree import DecisionTreeClassifier

from edgeloop.convert.sklearn_trees import convert_estimator, convert_file
from edgeloop.errors import ConversionError
from edgeloop_fw import trees as board_trees
from tests.tools.paths import SHARED_DATA

GESTURES = SHARED_DATA / "gestures" / "cgestures.parquet"
HARNESS = r"""
#include <stdio.h>
#include <stdint.h>
#include "model.h"
int main(void) {
    int16_t x[NFEAT];
    for (;;) {
        for (int i = 0; i < NFEAT; i++) {
            int v;
            if (scanf("%d", &v) != 1) return 0;
            x[i] = (int16_t)v;
        }
        printf("%d\n", (int)model_predict(x, NFEAT));
    }
}
"""


def emlearn_c_predict(header: str, X: np.ndarray, tmp_path: Path) -> np.ndarray:
    """Compile emlearn's generated C with gcc and run it on every row of X."""
    import emlearn

    if shutil.which("gcc") is None:
        pytest.skip("gcc is not installed")
    (tmp_path / "model.h").write_text(header)
    (tmp_path / "main.c").write_text(HARNESS)
    exe = tmp_path / "predict"
    subprocess.run(["gcc", "-O1", f"-DNFEAT={X.shape[1]}", f"-I{emlearn.includedir}", f"-I{tmp_path}",
                    str(tmp_path / "main.c"), "-o", str(exe), "-lm"], check=True, capture_output=True)
    rows = "\n".join(" ".join(str(int(v)) for v in row) for row in X)
    out = subprocess.run([str(exe)], input=rows, capture_output=True, text=True, check=True).stdout
    return np.array([int(v) for v in out.split()])


def board_predict(model_csv: str, X: np.ndarray) -> np.ndarray:
    trees = board_trees.parse(model_csv.splitlines())
    return np.array([trees.predict([int(v) for v in row]) for row in X])


def synthetic(seed: int):
    X, y = make_classification(600, 8, n_informative=5, n_classes=4, n_clusters_per_class=1, random_state=seed)
    return np.round(X * 300).astype(np.int16), y


def gesture_windows():
    """Per-window int16 features (milli-g mean, std, min, max per axis) from the real recordings."""
    if not GESTURES.exists():
        pytest.skip(f"shared test data not found at {GESTURES}")
    import pyarrow.parquet as pq

    table = pq.read_table(GESTURES, columns=["file", "activity", "x", "y", "z"]).to_pydict()
    files = np.array(table["file"])
    xyz_all = np.stack([table["x"], table["y"], table["z"]], axis=1) * 1000
    X, y = [], []
    for name in sorted(set(files)):
        rows = np.flatnonzero(files == name)
        xyz = xyz_all[rows]
        label = table["activity"][rows[0]]
        for start in range(0, len(xyz) - 50 + 1, 25):
            w = xyz[start:start + 50]
            X.append(np.concatenate([w.mean(0), w.std(0), w.min(0), w.max(0)]))
            y.append(label)
    return np.round(np.array(X)).astype(np.int16), np.array(y)


MODELS = {
    "tree": lambda: DecisionTreeClassifier(max_depth=8, random_state=0),
    "forest": lambda: RandomForestClassifier(n_estimators=7, max_depth=6, random_state=0),
    "extra": lambda: ExtraTreesClassifier(n_estimators=5, max_depth=7, random_state=0),
}
DATA = {"synthetic": lambda: synthetic(1), "gestures": gesture_windows}


@pytest.mark.parametrize("data", sorted(DATA))
@pytest.mark.parametrize("kind", sorted(MODELS))
def test_board_evaluator_equals_emlearn_c(kind, data, tmp_path):
    X, y = DATA[data]()
    train, test = slice(0, len(X) * 2 // 3), slice(len(X) * 2 // 3, None)
    model = MODELS[kind]().fit(X[train], y[train])
    converted = convert_estimator(model)
    c_pred = emlearn_c_predict(converted.c_header("model"), X, tmp_path)
    ours = board_predict(converted.csv(), X)
    assert (ours == c_pred).all(), f"{(ours != c_pred).sum()} of {len(X)} rows differ from emlearn's C"
    if kind == "tree":
        # A single tree has no voting: with integer thresholds it must equal sklearn exactly.
        sk = np.searchsorted(model.classes_, model.predict(X))
        assert (ours == sk).all()
    else:
        # Majority vote vs probability averaging: close, not identical; held-out accuracy must stay close.
        sk_acc = (model.predict(X[test]) == y[test]).mean()
        our_acc = (model.classes_[ours[test]] == y[test]).mean()
        assert abs(sk_acc - our_acc) < 0.1


def test_threshold_rewrite_fixes_emlearns_truncation(tmp_path):
    """Why the rewrite exists: raw emlearn C sends x == 4 the wrong way at threshold 4.5."""
    import emlearn

    np.seterr(all="warn")
    X = np.arange(10, dtype=np.int16).reshape(-1, 1)
    y = (X[:, 0] > 4).astype(int)
    tree = DecisionTreeClassifier(random_state=0).fit(X, y)
    raw = emlearn.convert(tree, method="loadable", dtype="int16_t")
    np.seterr(all="warn")
    raw_pred = emlearn_c_predict(raw.save(name="model", format="c"), X, tmp_path)
    assert raw_pred[4] == 1 and tree.predict(X)[4] == 0  # the trap, shown by emlearn itself
    fixed = convert_estimator(tree)
    (tmp_path / "fixed").mkdir()
    assert (emlearn_c_predict(fixed.c_header("model"), X, tmp_path / "fixed") == tree.predict(X)).all()
    assert (board_predict(fixed.csv(), X) == tree.predict(X)).all()


def test_convert_file_writes_csv_and_header(tmp_path):
    X, y = synthetic(2)
    model = RandomForestClassifier(n_estimators=3, max_depth=4, random_state=0).fit(X, y)
    pkl = tmp_path / "m.pkl"
    pkl.write_bytes(pickle.dumps(model))
    info = convert_file(pkl, tmp_path / "m.csv", c_header=tmp_path / "m.h")
    assert info.n_trees == 3 and info.n_classes == 4 and info.n_features == 8
    assert "eml_trees.h" in (tmp_path / "m.h").read_text()
    board = board_trees.load(str(tmp_path / "m.csv"))
    assert board.n_features == 8 and len(board.roots) == 3


@pytest.mark.parametrize("make, message", [
    (lambda: LogisticRegression(), "not supported by the tree converter"),
    (lambda: DecisionTreeClassifier(), "not fitted"),
    (lambda: DecisionTreeClassifier().fit(np.array([[0.0], [1e6]]), [0, 1]), "outside int16"),
])
def test_unsupported_models_are_refused(make, message):
    with pytest.raises(ConversionError, match=message):
        convert_estimator(make())


def test_not_a_pickle_is_refused(tmp_path):
    bad = tmp_path / "m.pkl"
    bad.write_bytes(b"this is not a model")
    with pytest.raises(ConversionError, match="not a pickle or joblib file"):
        convert_file(bad, tmp_path / "out.csv")
    assert not (tmp_path / "out.csv").exists()


@pytest.mark.parametrize("text, message", [
    ("f,2\nc,2\nlb,0\nl,0\nr,0\nn,0,5,-1,-2\nx,1\n", "unknown record"),
    ("f,2\nc,2\nlb,0\nl,0\nr,0\nn,3,5,-1,-1\n", "uses feature 3"),
    ("f,2\nc,2\nlb,0\nl,0\nr,0\nn,0,5,7,-1\n", "points outside"),
    ("f,2\nc,2\nlb,0\nl,5\nr,0\nn,0,5,-1,-1\n", "out of range"),
    ("f,2\nc,2\nlb,8\n", "leaf_bits"),
    ("f,2\nc,2\n", "incomplete"),
])
def test_board_parser_refuses_corrupt_models(text, message):
    with pytest.raises(board_trees.TreeError, match=message):
        board_trees.parse(text.splitlines())


def test_cli_converts_a_pickled_forest(tmp_path):
    from edgeloop.cli import cli

    X, y = synthetic(3)
    pkl = tmp_path / "forest.pkl"
    pkl.write_bytes(pickle.dumps(RandomForestClassifier(n_estimators=4, max_depth=5, random_state=0).fit(X, y)))
    result = CliRunner().invoke(cli, ["convert", str(pkl), "--c-header", str(tmp_path / "f.h"), "--board", "rp2040"])
    assert result.exit_code == 0, result.output
    assert "4 trees" in result.output and "fits rp2040" in result.output
    trees = board_trees.load(str(tmp_path / "forest.csv"))
    assert len(trees.roots) == 4
    assert (tmp_path / "f.h").exists()


def test_cli_refuses_a_non_tree_model_with_one_line(tmp_path):
    from edgeloop.cli import cli

    pkl = tmp_path / "lr.pkl"
    pkl.write_bytes(pickle.dumps(LogisticRegression().fit([[0], [1]], [0, 1])))
    result = CliRunner().invoke(cli, ["convert", str(pkl)])
    assert result.exit_code == 1
    assert result.output.strip().count("\n") == 0 and "not supported" in result.output
    assert "Traceback" not in result.output
    assert not (tmp_path / "lr.csv").exists()
