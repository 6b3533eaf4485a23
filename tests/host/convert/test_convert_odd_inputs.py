"""`edgeloop convert` on the odd inputs users hit (issue 14): each gets one line, early, and nothing written.

The references are outside the code under test: zipfile for what a .keras
archive is, sklearn's own fitted trees for node counts, thresholds and the
majority vote the board's evaluator must reproduce, the umask for file modes,
and the raw stderr bytes of a real `python -m edgeloop.cli` process.
"""

from __future__ import annotations

import os
import pickle
import re
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from sklearn.datasets import make_classification
from sklearn.ensemble import RandomForestClassifier
from sklearn.tree import DecisionTreeClassifier

from edgeloop.cli import cli

ROOT = Path(__file__).resolve().parents[3]


def one_line(result, code: int = 1) -> str:
    """The whole output is one line, with no blank line before it, and the exit code is `code`."""
    assert result.exit_code == code, result.output
    assert "Traceback" not in result.output
    assert result.output.count("\n") == 1 and result.output.endswith("\n"), repr(result.output)
    return result.output.strip()


def fake_keras(path: Path, truncate: bool = False, config: bool = True) -> Path:
    """A zip shaped like a .keras archive (no TensorFlow needed to make it)."""
    with zipfile.ZipFile(path, "w") as z:
        if config:
            z.writestr("config.json", '{"class_name": "Sequential"}')
        z.writestr("model.weights.h5", os.urandom(4096))
    if truncate:
        path.write_bytes(path.read_bytes()[:2000])
    return path


def integer_forest(n_trees=4, depth=5, seed=0, n=600):
    X, y = make_classification(n, 6, n_informative=4, n_classes=3, n_clusters_per_class=1, random_state=seed)
    X = np.round(X * 300).astype(np.int16)
    return RandomForestClassifier(n_estimators=n_trees, max_depth=depth, random_state=seed).fit(X, y), X, y


def pickled(tmp_path: Path, model, name="m.pkl") -> Path:
    p = tmp_path / name
    p.write_bytes(pickle.dumps(model))
    return p


# --- .keras files that exist but are not models -------------------------------------------------------

@pytest.mark.parametrize("make, says", [
    (lambda p: p.write_bytes(b""), "is empty (0 bytes)"),
    (lambda p: fake_keras(p, truncate=True), "zip archive cut short"),
    (lambda p: fake_keras(p, config=False), "without config.json"),
    (lambda p: p.write_bytes(b"\x89HDF\r\n\x1a\n" + bytes(100)), "HDF5 file"),
    (lambda p: p.write_text("hello"), "not a zip archive"),
])
def test_an_existing_but_broken_keras_file_says_what_is_wrong(tmp_path, make, says):
    model = tmp_path / "m.keras"
    make(model)
    line = one_line(CliRunner().invoke(cli, ["convert", str(model), "--calib", str(model)]))
    assert says in line and "not found" not in line.lower(), line
    assert "model.save" in line  # what to do about it
    assert not (tmp_path / "m.elm").exists()


# --- cheap arguments are checked before any heavy work ------------------------------------------------

@pytest.fixture
def no_heavy_work(monkeypatch):
    """Quantizing, loading a pickle or converting trees fails the test: the refusal must come first."""
    def heavy(*a, **k):
        raise AssertionError("heavy work started before the arguments were checked")

    monkeypatch.setattr("edgeloop.cli.convert_console.load_with_progress", heavy)
    monkeypatch.setattr("edgeloop.convert.keras.import_tensorflow", heavy)
    monkeypatch.setattr("edgeloop.convert.sklearn_trees.load_estimator", heavy)


@pytest.mark.parametrize("args, says", [
    (["{keras}", "--calib", "{keras}", "--board", "pico9000"], "unknown board 'pico9000'"),
    (["{keras}", "--calib", "{keras}", "--c-header", "x.h"], "--c-header does not apply to a Keras model"),
    (["{keras}", "--calib", "{keras}", "--max-nodes", "9"], "--max-nodes does not apply to a Keras model"),
    (["{pkl}", "--calib", "{keras}"], "--calib does not apply to scikit-learn trees"),
    (["{pkl}", "--report", "r.html"], "--report does not apply to scikit-learn trees"),
    (["{pkl}", "--board", "pico9000"], "unknown board 'pico9000'"),
    (["{pkl}", "--out", "{pkl}"], "is the model itself"),
])
def test_cheap_arguments_are_refused_before_heavy_work(tmp_path, no_heavy_work, args, says):
    paths = {"keras": str(fake_keras(tmp_path / "m.keras")), "pkl": str(pickled(tmp_path, "not loaded"))}
    before = sorted(os.listdir(tmp_path))
    line = one_line(CliRunner().invoke(cli, ["convert", *[a.format(**paths) for a in args]]))
    assert says in line, line
    assert sorted(os.listdir(tmp_path)) == before


def test_usage_errors_are_one_line(tmp_path):
    line = one_line(CliRunner().invoke(cli, ["convert", str(tmp_path / "m.pkl"), "--calib", "missing.npz"]), code=2)
    assert "'--calib'" in line and "does not exist" in line and "convert --help" in line


# --- tree size, checked from the fitted trees before emlearn runs -------------------------------------

def test_an_oversized_forest_is_refused_before_conversion(tmp_path, monkeypatch):
    import emlearn

    rng = np.random.default_rng(0)
    X, y = rng.integers(-300, 300, (2000, 6)), rng.integers(0, 3, 2000)  # noise: deep, bushy trees
    forest = RandomForestClassifier(n_estimators=60, random_state=0, n_jobs=1).fit(X, y)
    splits = sum(int((e.tree_.children_left >= 0).sum()) for e in forest.estimators_)
    assert splits > 32767  # beyond the board evaluator's int16 node indices
    monkeypatch.setattr(emlearn, "convert", lambda *a, **k: pytest.fail("emlearn ran on an oversized forest"))
    line = one_line(CliRunner().invoke(cli, ["convert", str(pickled(tmp_path, forest))]))
    assert f"{splits:,} decision nodes" in line and "at most 32,767" in line and "n_estimators" in line
    assert not (tmp_path / "m.csv").exists()


def test_max_nodes_and_board_heap_limits(tmp_path):
    forest, _, _ = integer_forest(n_trees=5, depth=6)
    splits = sum(int((e.tree_.children_left >= 0).sum()) for e in forest.estimators_)
    pkl = pickled(tmp_path, forest)
    line = one_line(CliRunner().invoke(cli, ["convert", str(pkl), "--max-nodes", str(splits - 1)]))
    assert f"{splits:,} decision nodes" in line and f"--max-nodes allows at most {splits - 1:,}" in line
    ok = CliRunner().invoke(cli, ["convert", str(pkl), "--max-nodes", str(splits)])
    assert ok.exit_code == 0 and f"{splits} nodes" in ok.output, ok.output


# --- --validate for trees ------------------------------------------------------------------------------

def majority_vote(forest, X) -> np.ndarray:
    """The board's arithmetic from sklearn's own trees: one vote per tree, lowest class wins ties."""
    votes = np.zeros((len(X), len(forest.classes_)), int)
    for e in forest.estimators_:
        votes[np.arange(len(X)), e.predict(X).astype(int)] += 1
    return votes.argmax(axis=1)


def shown_accuracy(output: str) -> dict[str, list[str]]:
    """class -> the percentages in its table row."""
    rows = {}
    for line in output.splitlines():
        cells = [c.strip() for c in re.split(r"[│┃|]", line) if c.strip()]
        if len(cells) >= 3 and cells[-1].endswith("%"):
            rows[cells[0]] = cells[2:]
    return rows


def test_validate_scores_trees_per_class(tmp_path):
    forest, X, y = integer_forest(n_trees=7, depth=4, seed=3)
    val = tmp_path / "val.npz"
    np.savez(val, x=X[:200], y=y[:200])
    r = CliRunner().invoke(cli, ["convert", str(pickled(tmp_path, forest)), "--validate", str(val)])
    assert r.exit_code == 0, r.output
    assert "scikit-learn" in r.output and "edgeloop" in r.output and "accuracy on 200 labelled samples" in r.output
    rows = shown_accuracy(r.output)
    sk, board = forest.predict(X[:200]), majority_vote(forest, X[:200])
    for c in range(3):
        mask = y[:200] == c
        assert rows[str(c)] == [f"{(sk[mask] == c).mean():.1%}", f"{(board[mask] == c).mean():.1%}"]
    assert rows["all"] == [f"{(sk == y[:200]).mean():.1%}", f"{(board == y[:200]).mean():.1%}"]


def test_validate_refuses_labels_a_classifier_does_not_have(tmp_path):
    forest, X, _ = integer_forest()
    val = tmp_path / "reg.npz"
    np.savez(val, x=X[:50], y=np.linspace(0.1, 9.7, 50))  # regression targets, not classes
    line = one_line(CliRunner().invoke(cli, ["convert", str(pickled(tmp_path, forest)), "--validate", str(val)]))
    assert "not among" in line and "classes [0, 1, 2]" in line
    assert not (tmp_path / "m.csv").exists()


def test_validate_refuses_regression_targets_for_keras_before_any_work(tmp_path, no_heavy_work):
    val = tmp_path / "reg.npz"
    np.savez(val, x=np.zeros((4, 3), np.float32), y=np.array([0.5, 1.25, 2.0, 3.0]))
    line = one_line(CliRunner().invoke(cli, ["convert", str(fake_keras(tmp_path / "m.keras")), "--calib",
                                             str(val), "--validate", str(val)]))
    assert "not class indices" in line and "regression" in line


# --- trees trained on fractional features --------------------------------------------------------------

def fractional_tree():
    X, y = make_classification(400, 3, n_informative=3, n_redundant=0, random_state=5)
    return DecisionTreeClassifier(max_depth=5, random_state=0).fit(X, y), X, y


def test_fractional_thresholds_get_a_note(tmp_path):
    tree, _, _ = fractional_tree()
    t = tree.tree_
    split = t.children_left >= 0
    off_grid = split & (2 * t.threshold != np.floor(2 * t.threshold))
    r = CliRunner().invoke(cli, ["convert", str(pickled(tmp_path, tree))])
    assert r.exit_code == 0, r.output
    features = ", ".join(map(str, sorted(set(t.feature[off_grid].tolist()))))
    assert f"note: {int(off_grid.sum())} of {int(split.sum())} thresholds (on features {features})" in r.output


def test_rounding_that_changes_predictions_is_refused(tmp_path):
    tree, X, y = fractional_tree()
    val = tmp_path / "val.npz"
    np.savez(val, x=X, y=y)
    board_view = np.rint(X)
    changed = int((tree.predict(X) != tree.predict(board_view)).sum())  # what the board's integers decide
    assert changed > 0
    r = CliRunner().invoke(cli, ["convert", str(pickled(tmp_path, tree)), "--validate", str(val)])
    line = one_line(r)
    assert "rounding to the board's int16 features changes" in line and "retrain" in line
    assert not (tmp_path / "m.csv").exists()


def test_integer_features_validate_without_a_rounding_note(tmp_path):
    forest, X, y = integer_forest()
    val = tmp_path / "val.npz"
    np.savez(val, x=X, y=y)
    r = CliRunner().invoke(cli, ["convert", str(pickled(tmp_path, forest)), "--validate", str(val)])
    assert r.exit_code == 0 and f"accuracy on {len(X)} labelled samples" in r.output, r.output
    assert "note:" not in r.output and "rounding" not in r.output, r.output


# --- output files ------------------------------------------------------------------------------------------

@pytest.fixture
def umask_027():
    old = os.umask(0o027)
    yield 0o640
    os.umask(old)


def test_outputs_get_the_umask_mode_like_open(tmp_path, umask_027):
    forest, _, _ = integer_forest()
    keep = tmp_path / "kept.csv"
    keep.write_text("old")
    keep.chmod(0o604)  # an existing file keeps its mode, as with open(..., "w")
    pkl = pickled(tmp_path, forest)
    r = CliRunner().invoke(cli, ["convert", str(pkl), "-o", str(tmp_path / "f.csv"), "--c-header", str(tmp_path / "f.h")])
    assert r.exit_code == 0, r.output
    assert (tmp_path / "f.csv").stat().st_mode & 0o777 == umask_027
    assert (tmp_path / "f.h").stat().st_mode & 0o777 == umask_027
    assert CliRunner().invoke(cli, ["convert", str(pkl), "-o", str(keep)]).exit_code == 0
    assert keep.stat().st_mode & 0o777 == 0o604 and keep.read_text().startswith("f,")


# --- stderr of a real process: one line on failure, no TensorFlow chatter on success --------------------

def run_cli(*args, cwd) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT / "host"), str(ROOT / "firmware")])}
    env.pop("TF_CPP_MIN_LOG_LEVEL", None)
    return subprocess.run([sys.executable, "-m", "edgeloop.cli", "convert", *map(str, args)], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=600)


@pytest.mark.tf
@pytest.mark.slow
def test_real_process_stderr(tmp_path, umask_027):
    pytest.importorskip("tensorflow")
    from tests.tools import keras_zoo

    model = keras_zoo.build("conv2d")
    model.save(tmp_path / "m.keras")
    x = keras_zoo.calibration(model, n=20)
    np.savez(tmp_path / "calib.npz", x=x)
    np.savez(tmp_path / "val.npz", x=x, y=np.asarray(model(x)).argmax(axis=1))
    # Fails inside the progress bar, after TensorFlow's import: still exactly one line.
    bad = run_cli("m.keras", cwd=tmp_path)
    assert bad.returncode == 1 and bad.stdout == ""
    assert bad.stderr.startswith("edgeloop: full-integer int8 needs representative data") and bad.stderr.count("\n") == 1, bad.stderr
    ok = run_cli("m.keras", "--calib", "calib.npz", "--validate", "val.npz", "--report", "r.html", cwd=tmp_path)
    assert ok.returncode == 0, ok.stderr
    assert ok.stderr == "", ok.stderr  # no "I0000 ... port.cc] oneDNN ..." or absl notice
    assert "wrote m.elm" in ok.stdout
    for name in ("m.elm", "r.html"):
        assert (tmp_path / name).stat().st_mode & 0o777 == umask_027


@pytest.mark.tf
def test_a_regression_model_is_not_validated_as_a_classifier(tmp_path):
    keras = pytest.importorskip("keras")
    inp = keras.Input((4,))
    keras.Model(inp, keras.layers.Dense(1)(inp)).save(tmp_path / "reg.keras")
    x = np.random.default_rng(0).normal(size=(20, 4)).astype(np.float32)
    np.savez(tmp_path / "val.npz", x=x, y=np.zeros(20, int))  # integer labels: only the model can tell
    line = one_line(CliRunner().invoke(cli, ["convert", str(tmp_path / "reg.keras"), "--calib", str(tmp_path / "val.npz"),
                                             "--validate", str(tmp_path / "val.npz")]))
    assert "1 output value" in line and "regression" in line
    assert not (tmp_path / "reg.elm").exists()
