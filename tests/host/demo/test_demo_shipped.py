"""`edgeloop demo` from a fresh clone: no ../shared, only the recordings the package ships.

The shipped files are checked against the originals in ../shared/data (read
here with pyarrow and wave, not with the demo's reader), then the demo runs as
a user would run it (the CLI in a subprocess) with its data folder pointed at
an empty one, and every window the board logged is checked against TFLM on
the original recordings, as tests/host/demo/test_demo.py does with ../shared.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import sqlite3
import subprocess
import sys
import wave

import numpy as np
import pytest

from edgeloop import modelinfo
from tests.tools.gesture_reference import GESTURE, PARQUET, held_out_stream, tflm_outputs
from tests.tools.paths import REPO, SHARED_DATA

SHIPPED = REPO / "host" / "edgeloop" / "demo" / "recordings"
SPEECH = SHARED_DATA / "tflm" / "micro_speech"


def need_shared():
    if not PARQUET.exists() or not SPEECH.exists():
        pytest.skip(f"shared test data not found at {SHARED_DATA}")


def test_shipped_gesture_takes_are_the_held_out_takes_of_the_parquet():
    need_shared()
    info = modelinfo.load(GESTURE)
    stream, spans = held_out_stream(info)
    with np.load(SHIPPED / "gesture_heldout.npz", allow_pickle=False) as z:
        assert list(z["takes"]) == info.split["test"]
        assert list(z["labels"]) == [label for _, _, label in spans]
        assert set(z["rates"].tolist()) == {info.rate_hz}
        for i, (start, n, _) in enumerate(spans):
            assert np.array_equal(z[f"take{i}"], stream[start:start + n]), i
        assert str(z["source_sha256"]) == hashlib.sha256(PARQUET.read_bytes()).hexdigest()


def test_shipped_keyword_files_are_tflms_byte_for_byte_and_small():
    need_shared()
    for name in ("silence_1000ms.wav", "yes_1000ms.wav", "noise_1000ms.wav", "no_1000ms.wav",
                 "audio_preprocessor_int8.tflite"):
        assert (SHIPPED / name).read_bytes() == (SPEECH / name).read_bytes(), name
    total = sum(p.stat().st_size for p in SHIPPED.iterdir())
    assert total < 200_000, total
    assert "Apache-2.0" in (SHIPPED / "README.md").read_text() and "MIT" in (SHIPPED / "README.md").read_text()


def test_keyword_set_falls_back_to_the_shipped_clips(tmp_path, monkeypatch):
    need_shared()
    from edgeloop.demo.data import keyword_set

    monkeypatch.setenv("EDGELOOP_DATA_DIR", str(tmp_path))
    rs = keyword_set()
    pcm = []
    for name in ("silence", "yes", "noise", "no"):
        with wave.open(str(SPEECH / f"{name}_1000ms.wav")) as w:
            pcm.append(np.frombuffer(w.readframes(w.getnframes()), "<i2"))
    assert np.array_equal(rs.replay.data.reshape(-1), np.concatenate(pcm))
    assert all(p.parent == SHIPPED for p in rs.sources) and any("shipped with edgeloop" in n for n in rs.notes)
    # The demo's host check finds TFLM's preprocessor beside them, so it still compares against TFLM.
    assert (rs.sources[0].parent / "audio_preprocessor_int8.tflite").is_file()


def test_an_explicit_data_folder_is_not_replaced_by_the_shipped_recordings(tmp_path):
    from edgeloop.demo.data import DemoDataError, gesture_set

    with pytest.raises(DemoDataError, match="--data"):
        gesture_set(tmp_path)


@pytest.mark.sim
@pytest.mark.slow
def test_demo_without_shared_data_agrees_with_tflm_window_by_window(tmp_path):
    """The CLI in a subprocess, its data folder an empty one: exit 0, and the log equals TFLM."""
    need_shared()
    pytest.importorskip("tflite_micro")
    from edgeloop.sim import node_status

    ok, why = node_status()
    if not ok:
        pytest.skip(f"virtual board unavailable: {why}")
    empty = tmp_path / "no-shared"
    empty.mkdir()
    db = tmp_path / "demo.sqlite"
    env = dict(os.environ, EDGELOOP_DATA_DIR=str(empty), EDGELOOP_CACHE_DIR=str(tmp_path / "cache"),
               EDGELOOP_RUNTIME_DIR=str(tmp_path / "run"),
               PYTHONPATH=os.pathsep.join([str(REPO / "host"), str(REPO / "firmware")]))
    r = subprocess.run([sys.executable, "-m", "edgeloop.cli", "demo", "--db", str(db)], cwd=tmp_path, env=env,
                       capture_output=True, text=True, timeout=900)
    out = r.stdout + r.stderr
    assert r.returncode == 0, out[-3000:]
    assert "Traceback" not in out
    assert "shipped with edgeloop" in out and str(SHIPPED / "gesture_heldout.npz") in out

    info = modelinfo.load(GESTURE)
    stream, spans = held_out_stream(info)  # the originals, from ../shared, read by pyarrow
    n_windows = (len(stream) - info.window) // info.hop + 1
    session = int(re.search(r"\(session (\d+): (\d+) inferences", out).group(1))
    con = sqlite3.connect(db)
    rows = con.execute("SELECT window_index, top, scores, window, window_channels FROM inferences "
                       "WHERE session_id = ? AND window_index BETWEEN 1 AND ? ORDER BY window_index",
                       (session, n_windows)).fetchall()
    con.close()
    assert [row[0] for row in rows] == list(range(1, n_windows + 1))
    ref = tflm_outputs(stream, n_windows, info)
    for k, top, scores, blob, ch in rows:
        w = stream[(k - 1) * info.hop:(k - 1) * info.hop + info.window]
        assert np.array_equal(np.frombuffer(blob, "<i2").reshape(-1, ch), w), k  # the board saw the originals
        assert top == int(np.argmax(ref[k])), k
        assert np.all(np.abs(np.array(json.loads(scores)) - (ref[k] + 128) / 256) < 1 / 512), k
    assert f"same output on {n_windows} of {n_windows} windows" in out
    # The card's held-out accuracy, as with ../shared (the shipped takes are the same frames).
    overall = round(100 * info.evaluation["overall"]["board"], 1)
    assert re.search(rf"^\s+all\s+\d+\s+\d+\s+{overall}%\s+{overall}%$", out, re.M), out[-2000:]
