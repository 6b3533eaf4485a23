"""`edgeloop train gesture` on the real recordings (../shared/data/gestures), checked against references.

References, none of them the code under test: TFLM runs the int8 .tflite
(edgeloop's runtime must give the same output bytes on every held-out
window), emlearn's generated C compiled with gcc runs the trees, the parquet
is re-read here with pyarrow and windowed with plain numpy slicing, and the
replay files the virtual board plays (edgeloop.sim.replay) hold the same int16 as
the training takes. The model card's numbers are recomputed from those
independent predictions.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from edgeloop import modelinfo
from edgeloop.sim import replay
from edgeloop.cli import cli
from edgeloop_fw import features as F
from edgeloop_fw import trees as board_trees
from tests.tools.paths import REPO, SHARED_DATA

DATA = SHARED_DATA / "gestures"
PARQUET = DATA / "cgestures.parquet"
need_data = pytest.mark.skipif(not PARQUET.exists(), reason=f"shared test data not found at {PARQUET}")
pytestmark = need_data


def one_line_error(result) -> str:
    assert result.exit_code != 0, result.output
    assert "Traceback" not in result.output
    lines = [ln for ln in result.output.splitlines() if ln.strip()]
    assert len(lines) == 1, result.output
    return lines[0]


def parquet_takes() -> dict[str, tuple[str, np.ndarray]]:
    """file -> (activity, float g (n, 3)) read straight from the table."""
    import pyarrow.parquet as pq

    t = pq.read_table(PARQUET).to_pydict()
    out: dict[str, list] = {}
    for f, a, x, y, z, tm in zip(t["file"], t["activity"], t["x"], t["y"], t["z"], t["time"]):
        out.setdefault(f, [a, []])[1].append((tm, x, y, z))
    return {f: (a, np.array(sorted(rows))[:, 1:]) for f, (a, rows) in out.items()}


def numpy_windows(mg: np.ndarray, window: int, hop: int) -> np.ndarray:
    starts = range(0, len(mg) - window + 1, hop)
    return np.array([mg[s:s + window] for s in starts])


def card_table(card: str) -> dict[str, list[str]]:
    """class -> the percentage cells of the accuracy table in MODEL_CARD.md."""
    rows = {}
    for line in card.splitlines():
        m = re.match(r"\|\s*\**([\w-]+)\**\s*\|\s*\**(\d+)\**\s*\|(.*)\|\s*$", line)
        if m:
            rows[m.group(1)] = [c.strip().strip("*").strip() for c in m.group(3).split("|")]
    return rows


def pct(v: float) -> str:
    return f"{100 * v:.1f} %"


def held_out(info: modelinfo.ModelInfo) -> list[str]:
    return [name.split(":", 1)[1] for name in info.split["test"]]


# -- the trained CNN (once per module) -----------------------------------------------------

@pytest.fixture(scope="module")
def cnn(tmp_path_factory):
    pytest.importorskip("tensorflow", reason="TensorFlow is not installed (pip install 'edgeloop[tf]')")
    pytest.importorskip("tflite_micro", reason="tflite-micro is not installed")
    out = tmp_path_factory.mktemp("gesture") / "model"
    r = CliRunner().invoke(cli, ["train", "gesture", "--data", str(PARQUET), "--out", str(out), "--epochs", "25"])
    assert r.exit_code == 0, r.output
    return out, modelinfo.load(out)


@pytest.mark.tf
@pytest.mark.slow
def test_split_is_by_take_and_reproducible(cnn):
    out, info = cnn
    train, test = set(info.split["train"]), set(info.split["test"])
    assert not train & test
    assert len(train | test) == 19  # every take of cgestures.parquet, each on one side
    takes = parquet_takes()
    for side in (train, test):  # every class on both sides
        assert {takes[n.split(":", 1)[1]][0] for n in side} == {"idle", "snake", "updown", "wave"}
    assert set(info.evaluation["takes"]) == test  # scored windows come from held-out takes only
    from edgeloop.train import dataset as D
    ds = D.load(PARQUET)
    again = D.split(ds, test_fraction=0.25, seed=0)[1]
    assert [t.name for t in again] == info.split["test"]


@pytest.mark.tf
@pytest.mark.slow
def test_int8_model_under_edgeloop_equals_tflm_on_every_held_out_window(cnn):
    from tflite_micro.python.tflite_micro import runtime

    from edgeloop.report.validate import quantize_input
    from tests.tools.runtime_helpers import edgeloop_interpreter

    out, info = cnn
    tflite = (out / "gesture.tflite").read_bytes()
    ref = runtime.Interpreter.from_bytes(tflite)
    ours = edgeloop_interpreter((out / "gesture.elm").read_bytes())
    inp = info.model["input"]
    takes = parquet_takes()
    labels, tflm_pred = [], []
    for name in held_out(info):
        activity, g = takes[name]
        mg = replay.g_to_mg(g)  # what the board's replay file holds
        for w in numpy_windows(mg, info.window, info.hop):
            q = bytearray(w.size)
            F.quantize_window(w.reshape(-1).tolist(), q, inp["multiplier"], inp["zero_point"])
            q = np.frombuffer(bytes(q), np.int8).reshape(1, *w.shape)
            # the board's fixed-point input is TFLite's own float quantization to within 1 LSB
            tfl = quantize_input(w / 1000.0, inp["scale"], inp["zero_point"]).reshape(q.shape)
            assert np.abs(tfl.astype(int) - q).max() <= 1
            ref.set_input(q, 0)
            ref.invoke()
            want = np.asarray(ref.get_output(0)).reshape(-1).astype(np.int8)
            ours.set_input(q.tobytes())
            ours.invoke()
            assert ours.get_output() == want.tobytes()
            labels.append(info.classes.index(activity))
            tflm_pred.append(int(want.argmax()))
    ev = info.evaluation
    assert labels == ev["labels"]
    assert tflm_pred == ev["predictions"]["int8"] == ev["predictions"]["board"]
    assert ev["identical_outputs"] == ev["windows"] == len(labels)


@pytest.mark.tf
@pytest.mark.slow
def test_model_card_numbers_come_from_the_evaluation(cnn):
    out, info = cnn
    card = (out / "MODEL_CARD.md").read_text()
    ev = info.evaluation
    y = np.array(ev["labels"])
    table = card_table(card)
    for runner_col, runner in enumerate(ev["runners"]):
        p = np.array(ev["predictions"][runner])
        for i, c in enumerate(info.classes):
            assert table[c][runner_col] == pct((p[y == i] == i).mean())
        assert table["all"][runner_col] == pct((p == y).mean())
    assert f"{info.model['macs']:,} MACs" in card
    assert f"Arena {info.model['arena_bytes']:,} B" in card
    assert f"{len((out / 'gesture.elm').read_bytes()):,} B" in card
    recipe = json.loads((out / "recipe.json").read_text())
    assert recipe["command"] in card and "--seed 0" in recipe["command"]
    assert recipe["versions"]["tensorflow-cpu"] and recipe["data_sha256"]
    board = info.board
    if "error" not in board:  # timed on the virtual board (Node present): the card shows that figure
        assert f"{board['ms_per_inference']:.1f} ms per inference" in card and board["board"] == "rp2040"


# -- trees ---------------------------------------------------------------------------------

def emlearn_c(header: str, X: np.ndarray, tmp: Path) -> np.ndarray:
    import emlearn

    if shutil.which("gcc") is None:
        pytest.skip("gcc is not installed")
    (tmp / "model.h").write_text(header)
    (tmp / "main.c").write_text(
        '#include <stdio.h>\n#include <stdint.h>\n#include "model.h"\n'
        "int main(void){int16_t x[NFEAT];for(;;){for(int i=0;i<NFEAT;i++){int v;"
        'if(scanf("%d",&v)!=1)return 0;x[i]=(int16_t)v;}printf("%d\\n",(int)model_predict(x,NFEAT));}}\n')
    exe = tmp / "predict"
    subprocess.run(["gcc", "-O1", f"-DNFEAT={X.shape[1]}", f"-I{emlearn.includedir}", f"-I{tmp}",
                    str(tmp / "main.c"), "-o", str(exe)], check=True, capture_output=True)
    rows = "\n".join(" ".join(str(int(v)) for v in r) for r in X)
    return np.array([int(v) for v in subprocess.run([str(exe)], input=rows, capture_output=True, text=True,
                                                     check=True).stdout.split()])


def train_trees(data: Path, out: Path) -> modelinfo.ModelInfo:
    r = CliRunner().invoke(cli, ["train", "gesture", "--data", str(data), "--out", str(out), "--model", "trees",
                                 "--no-board-time"])
    assert r.exit_code == 0, r.output
    return modelinfo.load(out)


def test_trees_board_evaluator_equals_emlearn_c_and_the_card(tmp_path):
    from edgeloop.train.gesture import command_line  # noqa: F401  (import check: no TensorFlow needed)
    from sklearn.ensemble import RandomForestClassifier

    from edgeloop.convert.sklearn_trees import convert_estimator
    import emlearn  # noqa: F401

    info = train_trees(PARQUET, tmp_path / "t")
    csv = (tmp_path / "t" / "gesture_trees.csv").read_bytes().decode()
    takes = parquet_takes()
    feats, labels = [], []
    for name in held_out(info):
        activity, g = takes[name]
        for w in numpy_windows(replay.g_to_mg(g), info.window, info.hop):
            buf = [0] * F.n_window_features(3)
            feats.append(F.window_features(w.reshape(-1).tolist(), 3, buf))
            labels.append(info.classes.index(activity))
    X = np.array(feats)
    evaluator = board_trees.parse(csv.splitlines())
    ours = np.array([evaluator.predict(list(map(int, row))) for row in X])
    # emlearn's C from the same forest: retrain it (seeded) and compile its header.
    train_names = [n.split(":", 1)[1] for n in info.split["train"]]
    Xtr, ytr = [], []
    for name in train_names:
        activity, g = takes[name]
        for w in numpy_windows(replay.g_to_mg(g), info.window, info.train_hop):
            Xtr.append(F.window_features(w.reshape(-1).tolist(), 3, [0] * F.n_window_features(3)))
            ytr.append(info.classes.index(activity))
    est = RandomForestClassifier(n_estimators=10, max_depth=8, random_state=0, n_jobs=1).fit(np.array(Xtr), ytr)
    model = convert_estimator(est)
    assert model.csv() == csv  # the shipped CSV is this forest
    assert np.array_equal(emlearn_c(model.c_header("model"), X, tmp_path), ours)
    ev = info.evaluation
    assert ev["labels"] == labels and ev["predictions"]["board"] == ours.tolist()
    assert ev["predictions"]["int8"] == ours.tolist()
    card = card_table((tmp_path / "t" / "MODEL_CARD.md").read_text())
    y = np.array(labels)
    for i, c in enumerate(info.classes):
        assert card[c][2] == pct((ours[y == i] == i).mean())


def test_window_features_match_numpy(tmp_path):
    """The integer features against numpy's definitions (floor division for the means)."""
    rng = np.random.default_rng(1)
    for n, ch in ((50, 3), (7, 6), (2, 1)):
        w = rng.integers(-4000, 4000, size=(n, ch))
        got = F.window_features(w.reshape(-1).tolist(), ch, [0] * F.n_window_features(ch))
        want = []
        for c in range(ch):
            v = w[:, c]
            mean = int(np.floor(v.sum() / n + 0.5))
            want += [mean, v.min(), v.max(), np.abs(v - mean).sum() // n, np.abs(np.diff(v)).sum() // (n - 1)]
        if ch >= 3:
            m = np.abs(w[:, :3]).sum(axis=1)
            mean = int(np.floor(m.sum() / n + 0.5))
            want += [mean, np.abs(m - mean).sum() // n]
        assert got == [int(v) for v in want]


def test_input_multiplier_is_exact_for_float32_scales():
    rng = np.random.default_rng(2)
    for scale in np.float32(rng.uniform(0.0011, 0.2, 500)).tolist() + [0.00736471, 1 / 127]:
        s = Fraction(float(np.float32(scale)))
        want = int(Fraction(32768, 1000) / s + Fraction(1, 2))
        assert F.input_multiplier(scale) == want


def test_training_takes_are_the_replayed_takes():
    """The int16 the trainer sees is the int16 the virtual board replays (edgeloop.sim.replay)."""
    from edgeloop.train import dataset as D

    ds = D.load(PARQUET)
    assert ds.units == ["mg", "mg", "mg"] and ds.rate_hz == 100
    for t in ds.takes:
        file = t.name.split(":", 1)[1]
        assert np.array_equal(replay.load(PARQUET, take=file).data, t.data), t.name


def write_record_dataset(root: Path) -> None:
    """The real takes as `edgeloop record` writes them, through its own library (one folder per take)."""
    from edgeloop.stream.recording import Take, write_take

    for i, (file, (activity, g)) in enumerate(sorted(parquet_takes().items())):
        take = Take(label=activity, started=1750000000 + 10 * i,
                    hello={"units": "mg,mg,mg", "scale": 1.0, "board": "rp2040", "device_id": "test"})
        take.channels, take.rate_hz = 3, 100
        take.data = replay.g_to_mg(g).reshape(-1).tolist()
        d = root / file
        d.mkdir(parents=True)
        write_take(take, d)


def test_record_format_dataset_trains_the_same_way(tmp_path):
    write_record_dataset(tmp_path / "dataset")
    a = train_trees(PARQUET, tmp_path / "a")
    b = train_trees(tmp_path / "dataset", tmp_path / "b")
    assert b.data["takes"] == 19 and b.source_units == ["mg"] * 3
    assert [n.split(":")[-1] for n in a.split["test"]] == [n.split("/")[0] for n in b.split["test"]]
    assert (tmp_path / "a" / "gesture_trees.csv").read_bytes() == (tmp_path / "b" / "gesture_trees.csv").read_bytes()
    assert a.evaluation["predictions"] == b.evaluation["predictions"]


# -- bad input -------------------------------------------------------------------------------

def csv_table(path: Path, rows: list[tuple], header="time,x,y,z,activity,file") -> Path:
    path.write_text(header + "\n" + "\n".join(",".join(map(str, r)) for r in rows) + "\n")
    return path


def take_rows(label: str, file: str, n: int = 120, phase: float = 0.0):
    return [(i / 100, round(np.sin(i / 5 + phase) * 0.5, 4), 0.1, 1.0, label, file) for i in range(n)]


@pytest.mark.parametrize("case, expect", [
    ("empty", "holds no .parquet or .csv tables"),
    ("columns", "lacks columns z, activity; expected time, x, y, z, activity"),
    ("one_class", "has one class (wave)"),
    ("one_take", "class 'idle' has 1 take"),
    ("short", "shorter than --window 50"),
    ("window", "at least 16 frames"),
])
def test_bad_input_is_one_line_and_writes_nothing(tmp_path, case, expect):
    d = tmp_path / "data"
    d.mkdir()
    args = []
    if case == "empty":
        (d / "notes.txt").write_text("not a table")
    elif case == "columns":
        csv_table(d / "t.csv", [(0, 1, 2), (0.01, 1, 2)], header="time,x,y")
    elif case == "one_class":
        csv_table(d / "t.csv", take_rows("wave", "a") + take_rows("wave", "b"))
    elif case == "one_take":
        csv_table(d / "t.csv", take_rows("wave", "a") + take_rows("wave", "b") + take_rows("idle", "c"))
    elif case == "short":
        csv_table(d / "t.csv", take_rows("wave", "a") + take_rows("wave", "b")
                  + take_rows("idle", "c", 30) + take_rows("idle", "d", 30))
    elif case == "window":
        csv_table(d / "t.csv", take_rows("wave", "a") + take_rows("wave", "b"))
        args = ["--window", "8"]
    out = tmp_path / "out"
    r = CliRunner().invoke(cli, ["train", "gesture", "--data", str(d), "--out", str(out), "--model", "cnn", *args])
    line = one_line_error(r)
    assert expect in line, line
    assert not out.exists()
    assert [p.name for p in tmp_path.iterdir()] == ["data"]  # no temp folder left behind either


def test_failed_training_keeps_the_previous_model(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "gesture_trees.csv").write_text("previous")
    d = tmp_path / "data"
    d.mkdir()
    csv_table(d / "t.csv", take_rows("wave", "a") + take_rows("wave", "b"))
    r = CliRunner().invoke(cli, ["train", "gesture", "--data", str(d), "--out", str(out), "--model", "trees"])
    one_line_error(r)
    assert [p.name for p in out.iterdir()] == ["gesture_trees.csv"]
    assert (out / "gesture_trees.csv").read_text() == "previous"


def test_help_has_examples():
    for args in (["train", "--help"], ["train", "gesture", "--help"]):
        r = CliRunner().invoke(cli, args)
        assert r.exit_code == 0 and "Example" in r.output and "edgeloop train gesture --data" in r.output


def test_shipped_models_are_current():
    """models/gesture/gesture.elm is what today's converter makes of the shipped int8 .tflite (re-train if not)."""
    from edgeloop.convert.int8 import convert_tflite_bytes

    root = REPO / "models"
    elm = convert_tflite_bytes((root / "gesture" / "gesture.tflite").read_bytes()).data
    assert elm == (root / "gesture" / "gesture.elm").read_bytes()
    info = modelinfo.load(root / "gesture")
    assert info.model["bytes"] == len(elm) and info.evaluation["identical_outputs"] == info.evaluation["windows"]
    trees = board_trees.parse((root / "gesture_trees" / "gesture_trees.csv").read_text().splitlines())
    assert trees.n_features == F.n_window_features(3)
