"""Kept windows in the log (migration 3): an old log upgrades, each kept row points at its inference
and carries its provenance. Expected rows are written out by hand from the frames' fields."""

from __future__ import annotations

import json
import sqlite3

from edgeloop.log.store import MIGRATIONS, SCHEMA_VERSION, Store
from edgeloop_fw import protocol as P

HELLO = dict(rate_hz=100, channels=3, window=4, hop=2, mode=2, scale=1.0, device_id="d1", board="rp2040",
             firmware="edgeloop_fw 0.1.0", model_hash="abc123", sensor="replay", units="mg,mg,mg",
             classes=["idle", "wave"])
WINDOW = list(range(-6, 6))


def kept(i, t_ms, rule=P.RULE_BELOW, ring=False, record=0, firmware="edgeloop_fw 0.1.0", model_hash="abc123"):
    f = {"window_index": i, "latency_us": 900, "t_ms": t_ms, "record": record, "rule": rule, "top": 1,
         "scores": [30000, 35535], "model_hash": model_hash, "firmware": firmware, "window_channels": 3,
         "window": WINDOW, "ring": ring}
    return P.decode_payload(P.MSG_KEPT, P.encode_payload(P.MSG_KEPT, f))  # as the session hands it over


def version_2_log(path):
    raw = sqlite3.connect(path)
    for v in (1, 2):
        for sql in dict(MIGRATIONS)[v]:
            raw.execute(sql)
    raw.execute("INSERT INTO inferences (host_time, window_index, top) VALUES (1.0, 5, 1)")
    raw.execute("INSERT INTO detections (host_time, window_index, class_index) VALUES (1.0, 5, 1)")
    raw.execute("PRAGMA user_version = 2")
    raw.commit()
    raw.close()


def test_a_version_2_log_gains_the_kept_table_and_keeps_its_rows(tmp_path):
    db = tmp_path / "old.sqlite"
    version_2_log(db)
    with Store(db) as s:
        assert s.schema_version == SCHEMA_VERSION >= 3
        assert (s.count("inferences"), s.count("detections"), s.count("kept")) == (1, 1, 0)
    cols = [r[1] for r in sqlite3.connect(db).execute("PRAGMA table_info(kept)")]
    assert {"inference_id", "rule", "model_hash", "firmware", "board", "device_id", "source", "window"} <= set(cols)


def test_kept_rows_join_their_inference_or_bring_their_own(tmp_path):
    db = tmp_path / "log.sqlite"
    with Store(db, batch_rows=1000, batch_seconds=3600) as s:
        s.begin_session(HELLO)
        s.add_inference({"window_index": 7, "latency_us": 900, "top": 1, "scores": [30000, 35535],
                         "model_hash": "abc123", "window": None}, 20, 5000, host_time=10.0)
        live = s.add_kept(kept(7, 5000, P.RULE_MARGIN), 21, 5000, host_time=10.1)  # joins the queued inference
        lost = s.add_kept(kept(8, 5500, P.RULE_RANDOM), 23, 5500, host_time=10.6)  # its inference frame was lost
        ring = s.add_kept(kept(3, 100, P.RULE_CLASS, ring=True, record=4, firmware="edgeloop_fw 0.0.9",
                               model_hash="old999"), 24, 5600, host_time=10.7)
        again = s.add_kept(kept(3, 100, P.RULE_CLASS, ring=True, record=4, firmware="edgeloop_fw 0.0.9",
                                model_hash="old999"), 30, 9000, host_time=11.0)  # shipped twice
        assert None not in (live, lost, ring) and again is None
    con = sqlite3.connect(db)
    rows = con.execute("SELECT k.id, k.rule, k.source, k.record, k.model_hash, k.firmware, k.board, k.device_id,"
                       " k.window_index, k.device_ms, i.window_index, i.device_ms, i.seq, i.model_hash, i.firmware,"
                       " i.top_class, i.scores, k.window FROM kept k JOIN inferences i ON i.id = k.inference_id"
                       " ORDER BY k.id").fetchall()
    assert [r[:16] for r in rows] == [
        (live, "margin", "live", None, "abc123", "edgeloop_fw 0.1.0", "rp2040", "d1", 7, 5000, 7, 5000, 20,
         "abc123", "edgeloop_fw 0.1.0", "wave"),
        (lost, "random", "live", None, "abc123", "edgeloop_fw 0.1.0", "rp2040", "d1", 8, 5500, 8, 5500, None,
         "abc123", "edgeloop_fw 0.1.0", "wave"),
        (ring, "class", "ring", 4, "old999", "edgeloop_fw 0.0.9", "rp2040", "d1", 3, 100, 3, 100, None,
         "old999", "edgeloop_fw 0.0.9", "wave")]
    assert all(json.loads(r[16]) == [round(30000 / 65535, 6), round(35535 / 65535, 6)] for r in rows)
    import numpy as np
    assert all(np.frombuffer(r[17], "<i2").tolist() == WINDOW for r in rows)
    assert con.execute("SELECT count(*) FROM inferences").fetchone()[0] == 3


def test_export_kept_windows_filters_by_rule(tmp_path):
    import numpy as np
    from click.testing import CliRunner

    from edgeloop.cli import cli as main

    db = tmp_path / "log.sqlite"
    with Store(db) as s:
        s.begin_session(HELLO)
        for i in range(6):  # plain inferences with windows: not kept, not exported with --kept
            s.add_inference({"window_index": i, "latency_us": 1, "top": 0, "scores": [65535, 0],
                             "model_hash": "abc123", "window": WINDOW, "window_channels": 3}, i, 100 * i)
        s.add_kept(kept(10, 1000, P.RULE_BELOW), 10, 1000)
        s.add_kept(kept(11, 1100, P.RULE_RANDOM), 11, 1100)
        s.add_kept(kept(12, 1200, P.RULE_BELOW, ring=True, record=1), 12, 1200)
    r = CliRunner().invoke(main, ["export", "--db", str(db), "--kept", "--format", "npz", "--out", str(tmp_path / "a")])
    assert r.exit_code == 0, r.output
    z = np.load(tmp_path / "a" / "windows.npz")
    assert z["rule"].tolist() == ["below", "random", "below"] and z["x"].shape == (3, 4, 3)
    np.testing.assert_array_equal(z["x"][0], np.array(WINDOW).reshape(4, 3))
    r = CliRunner().invoke(main, ["export", "--db", str(db), "--kept", "--rule", "below", "--format", "npz",
                                  "--out", str(tmp_path / "b")])
    assert r.exit_code == 0 and np.load(tmp_path / "b" / "windows.npz")["rule"].tolist() == ["below", "below"]
    r = CliRunner().invoke(main, ["export", "--db", str(db), "--kept", "--rule", "margin", "--format", "npz",
                                  "--out", str(tmp_path / "c")])
    assert r.exit_code == 1 and "no kept windows" in r.output and "Traceback" not in r.output
    r = CliRunner().invoke(main, ["export", "--db", str(db), "--rule", "below", "--format", "npz",
                                  "--out", str(tmp_path / "d")])
    assert r.exit_code == 1 and "add --kept" in r.output


def test_export_kept_from_a_version_2_log_says_how_to_upgrade(tmp_path):
    from click.testing import CliRunner

    from edgeloop.cli import cli as main

    db = tmp_path / "old.sqlite"
    version_2_log(db)
    r = CliRunner().invoke(main, ["export", "--db", str(db), "--kept", "--format", "npz", "--out", str(tmp_path / "o")])
    assert r.exit_code == 1 and "before kept windows were logged" in r.output


def test_a_ring_record_stored_before_the_first_ping_joins_its_inference(tmp_path):
    """Kept before the host's first ping: the board sent the inference live and stored the kept window;
    shipped moments later, it joins that inference (same session, index, time, scores) — one row, not two."""
    db = tmp_path / "log.sqlite"
    with Store(db) as s:
        s.begin_session(HELLO)
        s.add_inference({"window_index": 2, "latency_us": 900, "top": 1, "scores": [30000, 35535],
                         "model_hash": "abc123", "window": None}, 5, 700)
        s.add_inference({"window_index": 2, "latency_us": 900, "top": 1, "scores": [30001, 35534],
                         "model_hash": "abc123", "window": None}, 6, 700)  # same index and time, other scores
        s.add_kept(kept(2, 700, ring=True, record=1), 9, 1500)
    con = sqlite3.connect(db)
    assert con.execute("SELECT count(*) FROM inferences").fetchone()[0] == 2
    assert con.execute("SELECT i.seq FROM kept k JOIN inferences i ON i.id = k.inference_id").fetchall() == [(5,)]


def test_kept_keyword_features_are_logged_labelled_and_exported_unscaled(tmp_path):
    """A keyword board's kept window is int8 features (layout 2): logged with `features` 1, no window on
    the inference row made from it, shown by `label` as the features, exported as the values themselves
    (the session's 1/32768 audio scale does not apply to them)."""
    import numpy as np
    from click.testing import CliRunner

    from edgeloop.cli import cli as main
    from edgeloop.log.labels import load_windows

    feats = [(i * 7) % 256 - 128 for i in range(49 * 40)]
    f = {"window_index": 60, "latency_us": 900, "t_ms": 1200, "record": 0, "rule": P.RULE_RANDOM, "top": 1,
         "scores": [30000, 35535], "model_hash": "kw0001", "firmware": "edgeloop_fw 0.1.0", "window_channels": 40,
         "window": feats, "ring": False, "features": True}
    db = tmp_path / "kw.sqlite"
    with Store(db) as s:
        s.begin_session(dict(HELLO, rate_hz=16000, channels=1, window=480, hop=320, scale=1 / 32768, units="pcm16",
                             sensor="mic", classes=["no", "yes"]))
        s.add_kept(P.decode_payload(P.MSG_KEPT, P.encode_payload(P.MSG_KEPT, f)), 5, 1200)
    con = sqlite3.connect(db)
    assert con.execute("SELECT features, window_channels FROM kept").fetchall() == [(1, 40)]
    assert con.execute("SELECT window FROM inferences").fetchall() == [(None,)]
    (w,) = load_windows(db)
    assert w.features and w.raw.reshape(-1).tolist() == feats and w.values.max() == 127
    r = CliRunner().invoke(main, ["export", "--db", str(db), "--kept", "--format", "npz", "--out", str(tmp_path / "o")])
    assert r.exit_code == 0, r.output
    np.testing.assert_array_equal(np.load(tmp_path / "o" / "windows.npz")["x"][0], np.array(feats).reshape(49, 40))
