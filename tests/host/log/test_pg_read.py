"""`export`, `label`, `drift` and `retrain`'s data loading read a PostgreSQL log exactly as they read
an SQLite one.

The same frames are logged twice, into an SQLite file by the Store and into a real PostgreSQL server
(started by the test) by the PostgreSQL store's writer (the one `edgeloop collect` writes through):
gesture windows of two boards, kept windows (sensor samples and a keyword board's features),
a keyword session's raw audio with its 30 ms inference windows, detections. Labels are set through
`edgeloop label` on each log. Every output is then compared: the SQLite log is the established
path, and the arrays are also checked against the frames as written here (the independent
reference: the int16 windows times the session's scale, the second of audio cut from the stream).
"""

from __future__ import annotations

import csv
import hashlib
import sqlite3

import numpy as np
import pytest

from edgeloop import modelinfo
from edgeloop.log.store import SCHEMA_VERSION, Store
from edgeloop_fw import protocol as P
from tests.tools.cli_result import invoke, one_line
from tests.tools.mosquitto import free_port
from tests.tools.paths import REPO

psycopg = pytest.importorskip("psycopg", reason="psycopg is not installed (pip install 'psycopg[binary]')")

MODEL = REPO / "models" / "gesture"
T0 = 1_780_000_000.0
SCALE = 0.5  # mg per count: exported values are the int16 window times this
GESTURES = modelinfo.load(MODEL).classes
KW_CLASSES = ["silence", "unknown", "yes", "no"]
FRAME, HOP, HEARD = 480, 320, 480 + 48 * 320


@pytest.fixture(scope="module")
def server():
    from tests.tools.postgres import Postgres

    pg = Postgres().start()
    yield pg
    pg.stop()


@pytest.fixture
def pg_url(server, request):
    """A fresh database per test: row ids start at 1 as in a new SQLite file."""
    name = "t_" + hashlib.sha1(request.node.name.encode()).hexdigest()[:12]
    with psycopg.connect(server.url, autocommit=True) as con:
        con.execute(f"CREATE DATABASE {name}")
    return server.url.rsplit("/", 1)[0] + "/" + name


def _hello(device, classes, **kw):
    return dict(dict(rate_hz=100, channels=3, window=50, hop=25, mode=2, scale=SCALE, device_id=device,
                     board="rp2040", firmware="edgeloop_fw 0.1.0", model_hash=_model_hash(), sensor="accel",
                     units="mg,mg,mg", classes=classes), **kw)


def _model_hash():
    info = modelinfo.load(MODEL)
    return hashlib.sha256((MODEL / info.model["file"]).read_bytes()).hexdigest()[:16]


def _q16(p):
    return [int(round(v * 65535)) for v in p]


class Frames:
    """What the boards sent, made once from a seed, written the same way into any log."""

    def __init__(self):
        rng = np.random.default_rng(7)
        self.gesture = {}  # device -> list of (window int16 (50, 3), scores q16, host_time)
        for d, (device, offset) in enumerate((("d1", 0.0), ("d2", 400.0))):
            rows = []
            for i in range(30):
                w = np.clip(np.round(rng.normal(offset, 600, (50, 3))), -32768, 32767).astype(np.int16)
                p = rng.dirichlet(np.ones(len(GESTURES)))
                rows.append((w, _q16(p), T0 + 86400.0 * d + 2.0 * i))
            self.gesture[device] = rows
        self.audio = rng.integers(-3000, 3000, 20 * HOP + HEARD, dtype=np.int16)  # the keyword board's stream
        self.features = rng.integers(-128, 128, 49 * 40).tolist()

    def write(self, store) -> None:
        for device, rows in self.gesture.items():
            store.begin_session(_hello(device, GESTURES))
            for i, (w, q, t) in enumerate(rows):
                store.add_inference(dict(window_index=i, latency_us=1000 + i, top=int(np.argmax(q)), scores=q,
                                         model_hash=_model_hash(), window=w.reshape(-1).tolist(),
                                         window_channels=3), i, i * 250, host_time=t)
                if i % 10 == 3:  # a capture rule kept it: the same window, tied to this inference
                    k = {"window_index": i, "latency_us": 1000 + i, "t_ms": i * 250, "record": 0,
                         "rule": (P.RULE_BELOW, P.RULE_MARGIN, P.RULE_RANDOM)[i // 10], "top": int(np.argmax(q)),
                         "scores": q, "model_hash": _model_hash(), "firmware": "edgeloop_fw 0.1.0",
                         "window_channels": 3, "window": w.reshape(-1).tolist(), "ring": False}
                    store.add_kept(P.decode_payload(P.MSG_KEPT, P.encode_payload(P.MSG_KEPT, k)), 100 + i, i * 250,
                                   host_time=t + 0.5)
            store.flush()
        store.begin_session(_hello("k1", KW_CLASSES, rate_hz=16000, channels=1, window=480, hop=320,
                                   scale=1 / 32768, units="pcm16", sensor="mic", model_hash="kw0001"))
        for n in range(0, len(self.audio), HOP):
            data = self.audio[n:n + HOP]
            store.add_samples({"sample_index": n, "rate_hz": 16000, "channels": 1}, n // HOP, n // 16,
                              host_time=T0 + 3 * 86400.0 + n / 16000, data_le=data.astype("<i2").tobytes())
        for wi in (50, 60):  # window w ends at sample (w - 1) x 320 + 480 of the stream
            end = (wi - 1) * HOP + FRAME
            q = _q16([0.1, 0.1, 0.7, 0.1])
            store.add_inference(dict(window_index=wi, latency_us=900, top=2, scores=q, model_hash="kw0001",
                                     window=self.audio[end - FRAME:end].tolist(), window_channels=1),
                                wi, wi * 20, host_time=T0 + 3 * 86400.0 + wi * 0.02)
            store.add_detection({"class_index": 2, "time_ms": wi * 20, "window_index": wi, "score": 60000,
                                 "model_hash": "kw0001"}, 500 + wi, wi * 20, host_time=T0 + 3 * 86400.0 + wi * 0.02)
        k = {"window_index": 70, "latency_us": 900, "t_ms": 1400, "record": 0, "rule": P.RULE_RANDOM, "top": 3,
             "scores": _q16([0.1, 0.2, 0.3, 0.4]), "model_hash": "kw0001", "firmware": "edgeloop_fw 0.1.0",
             "window_channels": 40, "window": self.features, "ring": False, "features": True}
        store.add_kept(P.decode_payload(P.MSG_KEPT, P.encode_payload(P.MSG_KEPT, k)), 600, 1400,
                       host_time=T0 + 3 * 86400.0 + 1.4)
        store.flush()


@pytest.fixture
def logs(tmp_path, pg_url):
    """(SQLite path, PostgreSQL URL) holding the same frames, labelled the same way through `edgeloop label`."""
    from edgeloop.log.pgstore import PgStore

    frames = Frames()
    db = tmp_path / "log.sqlite"
    with Store(db) as s:
        frames.write(s)
    with PgStore(pg_url) as s:
        frames.write(s)
    # every gesture window gets a label (id,label CSV); the keyword ones by --set
    ids = [r[0] for r in sqlite3.connect(db).execute(
        "SELECT id FROM inferences WHERE window_channels = 3 ORDER BY id")]
    labels = tmp_path / "labels.csv"
    with open(labels, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["id", "label"])
        w.writerows((i, GESTURES[(i * 5) % len(GESTURES)]) for i in ids)
    kw = [r[0] for r in sqlite3.connect(db).execute(
        "SELECT id FROM inferences WHERE model_hash = 'kw0001' ORDER BY id")]
    for where in (db, pg_url):
        assert invoke("label", "--db", where, "--import", labels).exit_code == 0
        r = invoke("label", "--db", where, "--set", f"{kw[0]}=yes", "--set", f"{kw[2]}=no")
        assert r.exit_code == 0, r.output
        r = invoke("label", "--db", where, "--set", f"{ids[0]}=wave")  # a correction replaces the label
        assert r.exit_code == 0, r.output
    return db, pg_url, frames, ids


def test_export_npz_and_parquet_are_identical_and_are_the_frames(logs, tmp_path):
    import pyarrow.parquet as pq

    db, url, frames, ids = logs
    for fmt in ("npz", "parquet"):
        for name, where in (("sqlite", db), ("pg", url)):
            r = invoke("export", "--db", where, "--model", _model_hash(), "--format", fmt, "--out", tmp_path / name)
            assert r.exit_code == 0, r.output
    a, b = np.load(tmp_path / "sqlite" / "windows.npz"), np.load(tmp_path / "pg" / "windows.npz")
    assert sorted(a.files) == sorted(b.files)
    for k in a.files:
        assert np.array_equal(a[k], b[k]), k
    sent = np.stack([w for rows in frames.gesture.values() for w, _, _ in rows]).astype(np.float32) * SCALE
    assert np.array_equal(b["x"], sent) and list(b["ids"]) == ids
    sq, pg = (pq.read_table(tmp_path / n / "windows.parquet") for n in ("sqlite", "pg"))
    assert sq.equals(pg)
    assert pg.num_rows == 60 * 50


def test_export_kept_and_detections_are_identical(logs, tmp_path):
    db, url, frames, _ = logs
    for name, where in (("sqlite", db), ("pg", url)):
        assert invoke("export", "--db", where, "--kept", "--model", _model_hash(), "--format", "npz",
                      "--out", tmp_path / name).exit_code == 0
        assert invoke("export", "--db", where, "--detections", "--format", "csv",
                      "--out", tmp_path / name).exit_code == 0
        r = invoke("export", "--db", where, "--kept", "--rule", "margin", "--format", "npz",
                   "--out", tmp_path / name / "m")
        assert r.exit_code == 0, r.output
    a, b = np.load(tmp_path / "sqlite" / "windows.npz"), np.load(tmp_path / "pg" / "windows.npz")
    for k in a.files:
        assert np.array_equal(a[k], b[k]), k
    assert list(b["rule"]) == ["below", "margin", "random"] * 2  # by kept row: d1 then d2
    assert np.array_equal(np.load(tmp_path / "pg" / "m" / "windows.npz")["x"][0],
                          frames.gesture["d1"][13][0].astype(np.float32) * SCALE)
    sq, pg = ((tmp_path / n / "detections.csv").read_text() for n in ("sqlite", "pg"))
    assert sq == pg and len(pg.splitlines()) == 3


def test_labels_listed_and_exported_are_identical(logs, tmp_path):
    from edgeloop.log.labels import load_windows

    db, url, _, ids = logs
    ws, wp = load_windows(db), load_windows(url)
    assert [(w.id, w.label, w.top_class, w.confidence, w.classes, w.features) for w in ws] == \
           [(w.id, w.label, w.top_class, w.confidence, w.classes, w.features) for w in wp]
    assert all(np.array_equal(a.raw, b.raw) for a, b in zip(ws, wp))
    assert wp[0].label == "wave" and wp[1].label == GESTURES[(ids[1] * 5) % len(GESTURES)]
    assert wp[-1].features and wp[-1].label == "no" and wp[-1].raw.reshape(-1).tolist() == logs[2].features
    for suffix in ("csv", "json"):
        for name, where in (("sqlite", db), ("pg", url)):
            assert invoke("label", "--db", where, "--export", tmp_path / f"{name}.{suffix}").exit_code == 0
        assert (tmp_path / f"sqlite.{suffix}").read_text() == (tmp_path / f"pg.{suffix}").read_text()
    listing = [invoke("label", "--db", where, "--labelled", "--limit", "5").output for where in (db, url)]
    assert listing[0] == listing[1] and len(listing[1].splitlines()) == 6
    # a label the model does not know is refused on PostgreSQL as on SQLite, and changes nothing
    assert "not one of" in one_line(invoke("label", "--db", url, "--set", f"{ids[0]}=jump"))
    assert load_windows(url, ids=[ids[0]])[0].label == "wave"


def test_drift_is_identical(logs):
    from edgeloop.retrain import drift as D

    db, url, _, _ = logs
    a, b = D.check(db, MODEL), D.check(url, MODEL)
    assert np.array_equal(a.features, b.features) and len(b.features) == 60
    assert [(g.by, g.key, g.windows, g.low_share, g.psi, g.ks, g.verdict) for g in a.groups] == \
           [(g.by, g.key, g.windows, g.low_share, g.psi, g.ks, g.verdict) for g in b.groups]
    assert [g.key for g in b.groups if g.by == "device"] == ["d1", "d2"]
    r = invoke("drift", "--db", url, "--model", MODEL)
    assert r.exit_code == 0 and r.output == invoke("drift", "--db", db, "--model", MODEL).output


def test_retrain_data_loading_is_identical(logs):
    from edgeloop.log.keyword_audio import clips_hash, labelled_clips
    from edgeloop.log.kept_features import features_hash, labelled_features
    from edgeloop.log.labels import load_windows
    from edgeloop.retrain.retrain import field_hash

    db, url, frames, _ = logs
    ga, gb = load_windows(db, labelled=True), load_windows(url, labelled=True)
    assert len(gb) == 60 + 2 and field_hash(ga) == field_hash(gb)  # the gesture windows, a clip, the features
    assert [(w.session_id, w.label) for w in ga] == [(w.session_id, w.label) for w in gb]
    ka, kb = labelled_features(db), labelled_features(url)
    assert len(kb) == 1 and features_hash(ka) == features_hash(kb)
    assert kb[0].label == "no" and kb[0].features.reshape(-1).tolist() == frames.features
    (ca, ma), (cb, mb) = labelled_clips(db), labelled_clips(url)
    assert (ma, mb) == (0, 0) and len(cb) == 1 and clips_hash(ca) == clips_hash(cb)
    end = 49 * HOP + FRAME  # window 50: the second the model heard ends here in the stream
    assert np.array_equal(cb[0].clip[:HEARD], frames.audio[end - HEARD:end]) and not cb[0].clip[HEARD:].any()


def test_both_logs_have_the_same_tables_and_columns(tmp_path, pg_url):
    from edgeloop.log.pgstore import MIGRATIONS, PgStore

    assert MIGRATIONS[-1][0] == SCHEMA_VERSION
    with Store(tmp_path / "l.sqlite") as s:
        tables = [r[0] for r in s.query("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")]
        lite = {t: [r[1] for r in s.query(f"PRAGMA table_info({t})")] for t in tables}
    with PgStore(pg_url) as s:
        pg = {}
        for r in s.query("SELECT table_name, column_name FROM information_schema.columns WHERE table_schema = "
                         "current_schema() AND table_name != 'edgeloop_schema' ORDER BY table_name, ordinal_position"):
            pg.setdefault(r["table_name"], []).append(r["column_name"])
        assert s.schema_version == SCHEMA_VERSION
    assert pg == lite


def test_a_database_that_cannot_be_reached_or_holds_no_log_is_one_line(tmp_path, pg_url):
    gone = f"postgresql://edgeloop:secret@127.0.0.1:{free_port()}/nothing"
    for args in (("export", "--db", gone, "--format", "npz", "--out", tmp_path / "o"),
                 ("label", "--db", gone), ("label", "--db", gone, "--set", "1=wave"),
                 ("drift", "--db", gone, "--model", MODEL)):
        line = one_line(invoke(*args))
        assert "cannot reach the database edgeloop@127.0.0.1" in line and "secret" not in line
    assert not (tmp_path / "o").exists()
    line = one_line(invoke("export", "--db", pg_url, "--format", "npz", "--out", tmp_path / "o"))
    assert "holds no edgeloop log" in line  # reading creates nothing
    with psycopg.connect(pg_url) as con:
        assert con.execute("SELECT count(*) FROM information_schema.tables WHERE table_schema = 'public'"
                           ).fetchone()[0] == 0
