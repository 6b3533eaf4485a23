"""`edgeloop predict` on this computer, each input kind against a reference that is not edgeloop's code.

Gesture windows come from cgestures.parquet through pyarrow (tests/tools/gesture_reference.py) and are quantized
here with numpy's float arithmetic; keyword clips go through TFLM's own
preprocessor model (audio_preprocessor_int8.tflite); both then run under
TensorFlow Lite Micro (edgeloop.reference.tflm). Trees are checked against
scikit-learn on features computed here with numpy from their definition.
Odd inputs must give one line, a non-zero exit and no output file.
"""

from __future__ import annotations

import hashlib
import pickle
import re
import struct
import wave

import numpy as np
import pytest

from edgeloop import modelinfo
from edgeloop.reference import tflm
from tests.tools.cli_result import invoke, one_line
from tests.tools.gesture_reference import PARQUET, held_out_stream
from tests.tools.paths import REPO, SHARED_DATA

GESTURE = REPO / "models" / "gesture"
KEYWORD = REPO / "models" / "keyword"
SPEECH = SHARED_DATA / "tflm" / "micro_speech"


def need(path):
    if not path.exists():
        pytest.skip(f"shared test data not found at {path}")


def takes_mg(n_takes=5) -> list[tuple[str, np.ndarray]]:
    """(label, int16 mg frames) of the gesture model's held-out takes, read from the parquet by pyarrow."""
    need(PARQUET)
    stream, spans = held_out_stream(modelinfo.load(GESTURE))
    return [(label, stream[start:start + n]) for start, n, label in spans[:n_takes]]


def tflm_gesture(windows: np.ndarray) -> np.ndarray:
    """int8 outputs of gesture.tflite for mg windows, quantized in float: round(mg / 1000 / scale) + zp."""
    ref = tflm.interpreter(GESTURE / "gesture.tflite", "the test's reference")
    d = ref.get_input_details(0)
    scale, zp = d["quantization_parameters"]["scales"][0], d["quantization_parameters"]["zero_points"][0]
    outs = []
    for w in windows:
        q = np.clip(np.floor(w / 1000.0 / scale + 0.5) + zp, -128, 127).astype(np.int8)
        outs.append(tflm.invoke(ref, q.reshape(d["shape"])).reshape(-1))
    return np.array(outs)


def read_npy(path):
    return np.load(path, allow_pickle=False)


def test_gesture_npy_and_csv_windows_equal_tflm(tmp_path):
    pytest.importorskip("tflite_micro")
    info = modelinfo.load(GESTURE)
    wins = np.stack([frames[s:s + info.window] for _, frames in takes_mg() for s in (0, 130, 300)])
    np.save(tmp_path / "batch.npy", wins)
    ref = tflm_gesture(wins)
    r = invoke("predict", "--model", GESTURE, "--input", tmp_path / "batch.npy", "--output", tmp_path / "out.npy")
    assert r.exit_code == 0, r.output
    got = read_npy(tmp_path / "out.npy").reshape(len(wins), -1)
    assert np.array_equal(got, ref)
    # One window as .csv (with a header row, floats): class names and scores = TFLM's, dequantized.
    w = wins[4]
    (tmp_path / "w.csv").write_text("x,y,z\n" + "\n".join(",".join(f"{v:.1f}" for v in row) for row in w))
    r = invoke("predict", "--model", GESTURE, "--input", tmp_path / "w.csv")
    assert r.exit_code == 0, r.output
    printed = dict(re.findall(r"^  (\w+)\s+([\d.]+)", r.output, re.M))
    assert set(printed) == set(info.classes)
    probs = (ref[4].astype(int) + 128) / 256  # int8 softmax: scale 1/256, zero point -128
    for i, c in enumerate(info.classes):
        assert abs(float(printed[c]) - probs[i]) <= 0.0005, c
    assert f"top: {info.classes[int(ref[4].argmax())]}" in r.output


def test_bare_model_file_and_int8_tensor_keep_working(tmp_path):
    pytest.importorskip("tflite_micro")
    wins = np.stack([frames[:50] for _, frames in takes_mg(2)])
    ref = tflm.interpreter(GESTURE / "gesture.tflite", "reference")
    d = ref.get_input_details(0)
    scale, zp = d["quantization_parameters"]["scales"][0], d["quantization_parameters"]["zero_points"][0]
    q = np.clip(np.floor(wins / 1000.0 / scale + 0.5) + zp, -128, 127).astype(np.int8)
    np.save(tmp_path / "q.npy", q)
    bare = tmp_path / "m.elm"  # away from its model.json: no classes, only the tensor
    bare.write_bytes((GESTURE / "gesture.elm").read_bytes())
    r = invoke("predict", "--model", bare, "--input", tmp_path / "q.npy", "--raw")
    assert r.exit_code == 0, r.output
    got = np.array([[int(v) for v in row.split()] for row in re.findall(r"\[([-\d ]+)\]", r.output)])
    assert np.array_equal(got, np.array([tflm.invoke(ref, x.reshape(d["shape"])).reshape(-1) for x in q]))


def _wav(path, pcm, rate=16000):
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(pcm.astype("<i2").tobytes())


def tflm_keyword(clip: np.ndarray) -> np.ndarray:
    """TFLM's preprocessor model over the clip's 49 frames (a fresh interpreter: a reset front end),
    then keyword.tflite."""
    pre = tflm.interpreter(SPEECH / "audio_preprocessor_int8.tflite", "reference")
    feats = np.stack([tflm.invoke(pre, clip[f * 320:f * 320 + 480].reshape(1, -1).astype(np.int16)).reshape(-1)
                      for f in range(49)])
    ref = tflm.interpreter(KEYWORD / "keyword.tflite", "reference")
    return tflm.invoke(ref, feats.astype(np.int8).reshape(ref.get_input_details(0)["shape"])).reshape(-1)


def test_keyword_wav_goes_through_the_front_end_and_equals_tflm(tmp_path):
    pytest.importorskip("tflite_micro")
    need(SPEECH / "yes_1000ms.wav")
    info = modelinfo.load(KEYWORD)
    clips = []
    for word in ("yes", "no"):
        with wave.open(str(SPEECH / f"{word}_1000ms.wav")) as w:
            clips.append(np.frombuffer(w.readframes(w.getnframes()), "<i2"))
    for word, clip in zip(("yes", "no"), clips):
        r = invoke("predict", "--model", KEYWORD, "--input", SPEECH / f"{word}_1000ms.wav", "--output", tmp_path / "o.npy")
        assert r.exit_code == 0, r.output
        ref = tflm_keyword(clip)
        assert np.array_equal(read_npy(tmp_path / "o.npy").reshape(-1), ref), word
        assert f"top: {info.classes[int(ref.argmax())]}" in r.output
    # Two clips and a bit in one file: one inference per one-second clip, the tail named.
    _wav(tmp_path / "two.wav", np.concatenate(clips + [clips[0][:5000]]))
    r = invoke("predict", "--model", KEYWORD, "--input", tmp_path / "two.wav", "--output", tmp_path / "o2.npy")
    assert r.exit_code == 0 and "2 clip(s)" in r.output and "0.31 s" in r.output, r.output
    got = read_npy(tmp_path / "o2.npy").reshape(2, -1)
    assert np.array_equal(got, np.stack([tflm_keyword(c) for c in clips]))


def features_np(w: np.ndarray) -> np.ndarray:
    """The gesture trees' 17 features from their definition (docs/gesture.md), in numpy integers."""
    w = w.astype(np.int64)
    n = len(w)
    out = []
    for c in range(w.shape[1]):
        v = w[:, c]
        mean = (2 * v.sum() + n) // (2 * n)
        out += [mean, v.min(), v.max(), np.abs(v - mean).sum() // n, np.abs(np.diff(v)).sum() // (n - 1)]
    mag = np.abs(w[:, :3]).sum(axis=1)
    mean = (2 * mag.sum() + n) // (2 * n)
    out += [mean, np.abs(mag - mean).sum() // n]
    return np.clip(np.array(out), -32768, 32767)


def sklearn_tree(tmp_path):
    """A decision tree trained here on numpy features, converted by `edgeloop convert` to its CSV:
    (csv, some raw windows, sklearn's class for each)."""
    from sklearn.tree import DecisionTreeClassifier

    wins, labels = [], []
    for label, frames in takes_mg(8):
        for s in range(0, len(frames) - 50 + 1, 10):
            wins.append(frames[s:s + 50])
            labels.append(label)
    wins = np.stack(wins)
    x = np.stack([features_np(w) for w in wins])
    clf = DecisionTreeClassifier(max_depth=6, random_state=0).fit(x, labels)
    (tmp_path / "tree.pkl").write_bytes(pickle.dumps(clf))
    conv = invoke("convert", tmp_path / "tree.pkl", "--out", tmp_path / "tree.csv")
    assert conv.exit_code == 0, conv.output
    pick = np.arange(0, len(wins), 7)
    return tmp_path / "tree.csv", wins[pick], clf.classes_, clf.predict(x[pick])


def test_trees_csv_written_by_convert_predicts_like_sklearn(tmp_path):
    csv, wins, classes, expected = sklearn_tree(tmp_path)
    np.save(tmp_path / "w.npy", wins)
    r = invoke("predict", "--model", csv, "--input", tmp_path / "w.npy", "--output", tmp_path / "v.npy")
    assert r.exit_code == 0, r.output
    votes = read_npy(tmp_path / "v.npy")
    assert np.array_equal(classes[votes.argmax(axis=1)], expected)
    assert np.all(votes.sum(axis=1) == 1)  # one tree, one vote


def test_trees_model_folder_prints_its_class_names(tmp_path):
    label, frames = takes_mg(1)[0]
    np.savetxt(tmp_path / "w.csv", frames[:50], fmt="%d", delimiter=",")
    r = invoke("predict", "--model", REPO / "models" / "gesture_trees", "--input", tmp_path / "w.csv")
    assert r.exit_code == 0, r.output
    info = modelinfo.load(REPO / "models" / "gesture_trees")
    assert set(re.findall(r"^  (\w+)\s+[\d.]+", r.output, re.M)) == set(info.classes)


def _crafted(tmp_path, name, fmt, at, value):
    """gesture.elm with one summary field changed and the hash recomputed, so checks behind the hash run."""
    blob = bytearray((GESTURE / "gesture.elm").read_bytes())
    struct.pack_into(fmt, blob, at, value)
    blob[12:44] = hashlib.sha256(bytes(blob[44:])).digest()
    path = tmp_path / name
    path.write_bytes(bytes(blob))
    return path


def odd_inputs(tmp_path):
    """(what, model, input, words the line must hold) for each reported odd input."""
    np.save(tmp_path / "empty.npy", np.zeros((0,)))
    (tmp_path / "text.npy").write_text("hello, not numpy\n")
    np.savez(tmp_path / "str.npz", np.array(list("abc")))
    np.savez(tmp_path / "two.npz", a=np.zeros(3), b=np.ones(3))
    (tmp_path / "nan.csv").write_text("1,2,3\nnan,2,3\n")
    (tmp_path / "words.csv").write_text("1,2,3\n4,five,6\n")
    np.save(tmp_path / "short.npy", np.zeros((10, 3), np.int16))
    _wav(tmp_path / "short.wav", np.zeros(480, np.int16))
    _wav(tmp_path / "8k.wav", np.zeros(8000, np.int16), rate=8000)
    (tmp_path / "x.txt").write_text("1,2,3")
    np.save(tmp_path / "ok.npy", np.zeros((50, 3), np.int16))
    (tmp_path / "notamodel.elm").write_bytes(b"\x00" * 200)
    bad_magic = _crafted(tmp_path, "magic.elm", "<4s", 0, b"XXXX")
    return [
        ("empty .npy", GESTURE, tmp_path / "empty.npy", "no values"),
        ("text file as .npy", GESTURE, tmp_path / "text.npy", "not a .npy file"),
        (".npz of strings", GESTURE, tmp_path / "str.npz", "<U1 values; predict takes numbers"),
        (".npz of two arrays", GESTURE, tmp_path / "two.npz", "2 arrays"),
        ("NaN in a .csv", GESTURE, tmp_path / "nan.csv", "NaN"),
        ("a word in a .csv", GESTURE, tmp_path / "words.csv", "'five' is not a number"),
        ("window too short", GESTURE, tmp_path / "short.npy", "window of 50 x 3"),
        (".wav too short", KEYWORD, tmp_path / "short.wav", "needs 15840"),
        (".wav at 8 kHz", KEYWORD, tmp_path / "8k.wav", "16000 Hz"),
        (".wav for a gesture model", GESTURE, tmp_path / "short.wav", "is a gesture model"),
        ("unknown input type", GESTURE, tmp_path / "x.txt", "unknown input type"),
        ("missing input", GESTURE, tmp_path / "nothing.npy", "does not exist"),
        ("missing model", tmp_path / "nomodel", tmp_path / "ok.npy", "no model at"),
        ("not a model", tmp_path / "notamodel.elm", tmp_path / "ok.npy", "not an edgeloop model"),
        ("crafted magic", bad_magic, tmp_path / "ok.npy", "not an edgeloop model"),
    ]


def test_each_odd_input_is_one_line_and_writes_nothing(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    for what, model, inp, words in odd_inputs(tmp_path):
        r = invoke("predict", "--model", model, "--input", inp, "--output", out / "y.npy")
        line = one_line(r)
        assert words in line, (what, line)
        assert list(out.iterdir()) == [], what  # not even a temp file


@pytest.mark.parametrize("field", [
    pytest.param(("<H", 64, 60000), id="n_tensors beyond the tables"),
])
def test_crafted_header_is_one_line(tmp_path, field):
    model = _crafted(tmp_path, "crafted.elm", *field)
    np.save(tmp_path / "q.npy", np.zeros((1, 50, 3), np.int8))
    line = one_line(invoke("predict", "--model", model, "--input", tmp_path / "q.npy", "--output", tmp_path / "y.npy"))
    assert "crafted.elm" in line
    assert not (tmp_path / "y.npy").exists()


def test_help_teaches_with_examples():
    r = invoke("predict", "--help")
    assert r.exit_code == 0 and "edgeloop predict --model models/keyword --input yes.wav" in r.output


# -- on the virtual board ----------------------------------------------------------------------------

@pytest.fixture(scope="module")
def board(tmp_path_factory):
    """One virtual rp2040 with edgeloop deployed, shared by the board tests (a deploy takes a while)."""
    from tests.conftest import _need_sim

    _need_sim()
    from edgeloop.sim import VirtualBoard

    vb = VirtualBoard(board="rp2040", flash_dir=tmp_path_factory.mktemp("flash"), register=False)
    try:
        r = invoke("deploy", "--port", vb.port)
        assert r.exit_code == 0, r.output
        yield vb
    finally:
        vb.stop()


def board_latency(output: str) -> float:
    return float(re.search(r"on the board at \S+: ([\d.]+) ms per inference", output).group(1))


@pytest.mark.sim
@pytest.mark.slow
def test_on_the_board_each_input_kind_equals_tflm_and_reports_latency(board, tmp_path):
    pytest.importorskip("tflite_micro")
    info = modelinfo.load(GESTURE)
    wins = np.stack([frames[s:s + info.window] for _, frames in takes_mg(2) for s in (0, 200)])
    np.save(tmp_path / "g.npy", wins)
    r = invoke("predict", "--model", GESTURE, "--input", tmp_path / "g.npy", "--port", board.port, "--output", tmp_path / "g.out.npy")
    assert r.exit_code == 0, r.output
    assert np.array_equal(read_npy(tmp_path / "g.out.npy").reshape(len(wins), -1), tflm_gesture(wins))
    assert 0 < board_latency(r.output) < 5000

    need(SPEECH / "yes_1000ms.wav")
    with wave.open(str(SPEECH / "yes_1000ms.wav")) as w:
        clip = np.frombuffer(w.readframes(w.getnframes()), "<i2")
    r = invoke("predict", "--model", KEYWORD, "--input", SPEECH / "yes_1000ms.wav", "--port", board.port,
               "--output", tmp_path / "k.out.npy")
    assert r.exit_code == 0, r.output
    assert np.array_equal(read_npy(tmp_path / "k.out.npy").reshape(-1), tflm_keyword(clip))
    assert board_latency(r.output) > 0

    csv, twins, classes, expected = sklearn_tree(tmp_path)
    np.save(tmp_path / "t.npy", twins)
    r = invoke("predict", "--model", csv, "--input", tmp_path / "t.npy", "--port", board.port, "--output", tmp_path / "t.out.npy")
    assert r.exit_code == 0, r.output
    assert np.array_equal(classes[read_npy(tmp_path / "t.out.npy").argmax(axis=1)], expected)
    assert board_latency(r.output) > 0  # below the virtual board's 1 ms tick: timed over repeats


_HEAP = "import gc\ngc.collect()\nprint(gc.mem_free(), sorted(k for k in globals() if not k.startswith('_el_')))"


def heap_and_globals(port):
    """Free heap after a full collection, and the REPL's global names (deploy's `_el_*` helper aside:
    it stays between connections on purpose, so the next deploy need not resend it)."""
    import ast

    from edgeloop.link.device import Device

    with Device(port) as dev:
        free, names = dev.exec(_HEAP).decode().split(" ", 1)
    return int(free), ast.literal_eval(names)


@pytest.mark.sim
@pytest.mark.slow
def test_a_hundred_predicts_leave_the_heap_where_it_was(board, tmp_path):
    """The first call imports the runtime (kept, like the app's own imports) and leaves deploy's helper;
    from then on a call must leave nothing behind.

    Tolerance: MicroPython's GC is conservative, so a stale word on the C stack can pin a few blocks;
    two back-to-back measurements on the virtual board differed by up to ~300 bytes. 1 KiB covers that,
    while the smallest leak (one 16-byte block per call) adds 1,600 bytes over 100 calls; a leftover
    global (a whole interpreter, as predict used to keep in `_it`) also fails the names check."""
    np.save(tmp_path / "w.npy", takes_mg(1)[0][1][:50])
    names0 = heap_and_globals(board.port)[1]
    run = ["predict", "--model", GESTURE, "--input", tmp_path / "w.npy", "--port", board.port]
    assert invoke(*run).exit_code == 0
    before, names1 = heap_and_globals(board.port)
    for _ in range(100):
        r = invoke(*run)
        assert r.exit_code == 0, r.output
    after, names2 = heap_and_globals(board.port)
    assert names0 == names1 == names2
    print(f"free heap {before} before, {after} after 100 calls")
    assert abs(after - before) <= 1024, (before, after)
