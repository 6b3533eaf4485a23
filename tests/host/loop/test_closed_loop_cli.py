"""Issue 15's "done when", from the commands alone: a shifted field, kept windows, labels, drift,
retrain, a signed update, refusals and a rollback, on one virtual board with an emulated IMU.

Every step is `python -m edgeloop.cli ...` in its own process, as a user types it. The shift: the
parent is trained on a table a user prepared without any `wave` take and without one take of each
other class (written here with pyarrow); the field is those takes. The board is the same flash
folder throughout (a new `sim` process per take = the board restarted with another gesture):

 1. `train gesture --model trees` on the prepared table (the parent)
 2. `keys new`, `deploy --provision-key`, `deploy --model` refused, `bundle` + `deploy --bundle --keep-*`
 3. `monitor --window --db` per field take: the kept windows are exactly the ones the rules select
    from the logged scores (numpy, tests/tools/capture_reference.py), with provenance; every logged
    inference is the trees reference's on its logged window
 4. `label --import` of the kept windows with the class of the take each window comes from (found
    by its frames), refused first without `--new-class wave`
 5. `drift`: DRIFT, window count, unsure share and KS of the min/max features against scipy
 6. `retrain`: promoted; lineage checked against the log (ids, hash), the board's own decisions
    (parent, field), the parent's card (emlearn C) and the trees reference (candidate)
 7. `bundle --counter 2` + `deploy --bundle`: slot b, the candidate's hash in the log, and the
    candidate beats the parent on the held-out field takes on the board itself
 8. refused, each with the board's (or the host's) one line, exit != 0, nothing changed: a byte of
    the payload flipped, a byte of the signed manifest flipped, unsigned, an older counter, a
    self-test that fails on the board; then an update that never confirms is rolled back at the
    next start; the board runs the candidate.

The trees reference (tests/tools/gesture_reference.Trees) is the board's evaluator under CPython
(proved equal to emlearn's C by the trees tests) over the board's feature code.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import struct
import subprocess
import time
from pathlib import Path

import numpy as np
import pytest

from edgeloop import modelinfo
from edgeloop_fw import protocol as P
from tests.host.loop.test_loop_cli import env, held_out, last_session  # noqa: F401 (env is a fixture)
from tests.tools import cli_process as cli
from tests.tools.capture_reference import selection
from tests.tools.gesture_reference import Trees, table_take
from tests.tools.paths import SHARED_DATA

pytestmark = [pytest.mark.slow, pytest.mark.sim, pytest.mark.tf]

GESTURES = SHARED_DATA / "gestures" / "cgestures.parquet"
NEW = "wave"  # the gesture the parent never saw
KEEP = {"below": 0.75, "margin": 0.45, "random": 0.1, "seed": 3}
KEEP_FLAGS = ["--keep-below", "0.75", "--keep-margin", "0.45", "--keep-random", "0.1", "--keep-seed", "3"]
UNSURE = 0.6  # docs/drift.md: the reference's low-confidence threshold


def takes_by_class() -> dict[str, list[str]]:
    import pyarrow.parquet as pq

    t = pq.read_table(GESTURES, columns=["file", "activity"])
    out: dict[str, set] = {}
    for f, a in zip(t["file"].to_pylist(), t["activity"].to_pylist()):
        out.setdefault(a, set()).add(f)
    return {a: sorted(fs) for a, fs in sorted(out.items())}


def write_without(takes: list[str], out: Path) -> Path:
    """What a user prepares: the recordings table minus some takes."""
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    t = pq.read_table(GESTURES)
    out.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(t.filter(pc.invert(pc.is_in(t["file"], value_set=pa.array(takes)))), out)
    return out


def board(flash: Path, take: str, env: dict) -> cli.Sim:
    """The board (its flash folder) powered up with the emulated IMU playing `take`."""
    return cli.Sim("--board", "rp2040", "--flash", flash, "--imu", GESTURES, "--take", take, env=env)


def refused(*args, env: dict) -> str:
    """A command that must fail: its one stderr line."""
    r = subprocess.run(cli.COMMAND + [str(a) for a in args], env=env, capture_output=True, text=True, timeout=600,
                       stdin=subprocess.DEVNULL)
    lines = [ln for ln in r.stderr.splitlines() if ln.strip()]
    assert r.returncode != 0 and "Traceback" not in r.stderr, (args, r.returncode, r.stderr, r.stdout)
    assert len(lines) == 1, lines
    return lines[0]


def q16(scores_json: str) -> list[int]:
    return [int(round(p * 65535)) for p in json.loads(scores_json)]


def file_hash(model_dir: Path) -> str:
    """The hash the board logs for a trees model: the CSV's SHA-256, first 8 bytes in hex."""
    return hashlib.sha256((model_dir / "gesture_trees.csv").read_bytes()).hexdigest()[:16]


def board_files(flash: Path) -> dict[str, bytes]:
    """What the app depends on: config, key, both slots, slot state (plain file reads)."""
    return {p.relative_to(flash).as_posix(): p.read_bytes() for p in sorted(flash.rglob("*"))
            if p.is_file() and (p.relative_to(flash).as_posix().startswith(("slots/", "keys/"))
                                or p.name == "edgeloop.json")}


def slot_state(flash: Path) -> dict:
    """/slots/state.json: the JSON line, then the SHA-256 of it (docs/bundle.md)."""
    text, digest = (flash / "slots" / "state.json").read_text().split("\n")[:2]
    assert hashlib.sha256(text.encode()).hexdigest() == digest
    return json.loads(text)


def rows(db: Path, sql: str, *params) -> list[sqlite3.Row]:
    con = sqlite3.connect(db)
    con.row_factory = sqlite3.Row
    try:
        return con.execute(sql, params).fetchall()
    finally:
        con.close()


def session_model(db: Path, session: int) -> str:
    return rows(db, "SELECT model_hash FROM sessions WHERE id = ?", session)[0]["model_hash"]


def window_of(r) -> np.ndarray:
    return np.frombuffer(r["window"], "<i2").reshape(-1, r["window_channels"])


def owner(window: np.ndarray, frames: dict[str, set]) -> str:
    """The one take whose frames the window is made of (the emulated chip only repeats or drops frames)."""
    got = [t for t, fs in frames.items() if all(tuple(f) in fs for f in window.tolist())]
    assert len(got) == 1, got
    return got[0]


def re_signed_with_wrong_selftest(bundle: bytes, key_pem: bytes) -> bytes:
    """The bundle with its manifest's self-test hash replaced, signed again with the user's key: laid out
    with struct/json as docs/bundle.md states, signed by `cryptography` (not edgeloop's bundle code). A
    model whose outputs on the board are not what the host computed looks like this to the board."""
    from cryptography.hazmat.primitives import serialization

    magic, fmt, zero, sig_len, man_len = struct.unpack_from("<4sBBHI", bundle, 0)
    assert (magic, fmt, zero, sig_len) == (b"ELBN", 1, 0, 64)
    manifest = json.loads(bundle[12:12 + man_len])
    payload = bundle[12 + man_len + sig_len:]
    manifest["selftest"]["outputs_sha256"] = hashlib.sha256(b"not what this model computes").hexdigest()
    raw = json.dumps(manifest, separators=(",", ":"), sort_keys=True).encode()
    sig = serialization.load_pem_private_key(key_pem, password=None).sign(raw)
    return struct.pack("<4sBBHI", b"ELBN", 1, 0, len(sig), len(raw)) + raw + sig + payload


def test_the_closed_loop_from_the_commands(env, tmp_path):  # noqa: F811 (env: the fixture)
    if not GESTURES.exists():
        pytest.skip(f"shared test data not found at {GESTURES}")
    started = time.monotonic()
    report: dict = {}
    by_class = takes_by_class()
    assert NEW in by_class and len(by_class[NEW]) >= 4, by_class
    # The field: every wave take, and the last take of each other class.
    field = [(t, NEW) for t in by_class[NEW]] + [(ts[-1], c) for c, ts in by_class.items() if c != NEW]
    frames = {t: table_take(GESTURES, t)[0] for t, _ in field}
    frame_sets = {t: {tuple(f) for f in fr.tolist()} for t, fr in frames.items()}
    label_of_take = dict(field)

    # 1. The parent, on a table without the field's takes.
    data = write_without([t for t, _ in field], tmp_path / "data" / "parent.parquet")
    parent = tmp_path / "parent"
    cli.run("train", "gesture", "--data", data, "--out", parent, "--model", "trees", "--no-board-time", env=env)
    pinfo = modelinfo.load(parent)
    assert NEW not in pinfo.classes and pinfo.kind == "trees"
    assert not {n.split(":", 1)[1] for n in pinfo.split["train"] + pinfo.split["test"]} & set(label_of_take)
    parent_hash = file_hash(parent)

    # 2. Keys, the board provisioned, the parent as a signed bundle with capture rules.
    keys = tmp_path / "keys"
    cli.run("keys", "new", "--out", keys, env=env)
    assert (keys / "edgeloop.key").stat().st_mode & 0o777 == 0o600
    from cryptography.hazmat.primitives import serialization
    pub_raw = serialization.load_pem_public_key((keys / "edgeloop.pub").read_bytes()).public_bytes_raw()
    b1 = tmp_path / "parent-1.bundle"
    cli.run("bundle", "--model", parent, "--key", keys / "edgeloop.key", "--counter", 1, "--out", b1, env=env)
    flash = tmp_path / "flash"
    db = tmp_path / "field.sqlite"
    sessions: dict[int, str] = {}  # session id -> the take the IMU played
    seconds = f"{len(frames[field[0][0]]) / pinfo.rate_hz + pinfo.window / pinfo.rate_hz:g}"  # the take + 1 window
    for i, (take, _) in enumerate(field):
        with board(flash, take, env) as sim:
            if i == 0:
                out = cli.run("deploy", "--port", sim.port, "--board", "rp2040",
                              "--provision-key", keys / "edgeloop.pub", env=env)
                assert "accepts only bundles signed" in out
                assert (flash / "keys" / "edgeloop.pub").read_bytes() == pub_raw
                line = refused("deploy", "--port", sim.port, "--board", "rp2040", "--model", parent, env=env)
                assert "accepts only signed bundles" in line, line
                out = cli.run("deploy", "--port", sim.port, "--board", "rp2040", "--bundle", b1, *KEEP_FLAGS, env=env)
                assert "in slot a, self-test passed, signature checked by the board" in out, out
                cfg = json.loads((flash / "edgeloop.json").read_text())
                assert cfg["model"].startswith("@slots/") and cfg["sensor"]["kind"] == "imu"
                assert {k: v for k, v in cfg["capture"].items() if k != "ring_bytes"} == KEEP
            cli.run("monitor", "--port", sim.port, "--window", "--seconds", seconds, "--db", db, env=env)
        sessions[last_session(db)] = take
    assert len(sessions) == len(field)
    report["step 1-3 s"] = round(time.monotonic() - started)

    # 3. Every inference is the parent's on its window; the kept windows are the rules' choice.
    ref = Trees(parent)
    live = {}  # (session, window index) -> inference row
    for sid, take in sessions.items():
        s = rows(db, "SELECT * FROM sessions WHERE id = ?", sid)[0]
        assert (s["model_hash"], s["board"]) == (parent_hash, "rp2040") and s["firmware"].startswith("edgeloop_fw ")
        inf = rows(db, "SELECT * FROM inferences WHERE session_id = ? AND seq IS NOT NULL ORDER BY id", sid)
        assert len(inf) >= 10, (take, len(inf))
        for r in inf:
            assert owner(window_of(r), frame_sets) == take
            ref.check_row(window_of(r), r["top"], r["scores"])
            live[sid, r["window_index"]] = r
        rule = selection(np.array([q16(r["scores"]) for r in inf]), KEEP, pinfo.classes,
                         times=np.array([r["device_ms"] for r in inf]), window_index=[r["window_index"] for r in inf])
        want = {(r["window_index"], P.RULE_NAMES[int(k)]) for r, k in zip(inf, rule) if k}
        got = {(k["window_index"], k["rule"]) for k in rows(db, "SELECT * FROM kept WHERE session_id = ? AND "
                                                             "source = 'live'", sid)}
        assert got <= want, (take, got - want)
        # A window kept before the host's first ping went to the flash ring and ships as a ring record.
        for k_index, k_rule in want - got:
            assert rows(db, "SELECT id FROM kept WHERE source = 'ring' AND window_index = ? AND rule = ? AND "
                            "device_ms = ?", k_index, k_rule, live[sid, k_index]["device_ms"]), (take, k_index)
    kept = rows(db, "SELECT k.*, s.firmware AS s_firmware, s.model_hash AS s_hash FROM kept k "
                    "JOIN sessions s ON s.id = k.session_id ORDER BY k.id")
    for k in kept:
        assert (k["model_hash"], k["s_hash"], k["board"], k["firmware"]) == \
            (parent_hash, parent_hash, "rp2040", k["s_firmware"])
        assert k["window"] == rows(db, "SELECT window FROM inferences WHERE id = ?", k["inference_id"])[0]["window"]
    report["kept"] = {r: sum(k["rule"] == r for k in kept) for r in sorted({k["rule"] for k in kept})}
    report["inferences"] = len(live)
    assert len({k["session_id"] for k in kept if label_of_take[sessions[k["session_id"]]] == NEW}) >= 3

    # 4. Labels: each kept window gets the class of the take it is made of.
    labels = {k["inference_id"]: label_of_take[owner(window_of(k), frame_sets)] for k in kept}
    csv = tmp_path / "labels.csv"
    csv.write_text("id,label\n" + "".join(f"{i},{c}\n" for i, c in sorted(labels.items())))
    line = refused("label", "--db", db, "--import", csv, env=env)
    assert NEW in line, line
    assert not rows(db, "SELECT name FROM sqlite_master WHERE name = 'labels'") or \
        not rows(db, "SELECT * FROM labels")
    out = cli.run("label", "--db", db, "--import", csv, "--new-class", NEW, env=env)
    assert str(len(labels)) in out, out
    assert {r["inference_id"]: r["label"] for r in rows(db, "SELECT * FROM labels")} == labels
    report["labels"] = {c: sum(v == c for v in labels.values()) for c in sorted(set(labels.values()))}

    # 5. Drift: the field moved. Checked: window count, unsure share, KS of min/max features (scipy).
    out = cli.run("drift", "--db", db, "--model", parent, env=env)
    assert out.startswith("DRIFT"), out
    windows = rows(db, "SELECT window, window_channels, scores FROM inferences WHERE model_hash = ? AND "
                       "window IS NOT NULL", parent_hash)
    lines = out.splitlines()
    allrow = next(ln for ln in lines if ln.startswith("all windows")).split()
    unsure = 100 * np.mean([max(json.loads(r["scores"])) < UNSURE for r in windows])
    assert int(allrow[2]) == len(windows) and abs(float(allrow[3]) - unsure) <= 0.5, (allrow, unsure)
    field_x = np.stack([window_of(r) for r in windows])
    train_x = np.stack([fr[s:s + pinfo.window] for t in pinfo.split["train"]
                        for fr in [table_take(data, t.split(":", 1)[1])[0]]
                        for s in range(0, len(fr) - pinfo.window + 1, pinfo.train_hop)])
    from scipy.stats import ks_2samp
    table = {ln.split()[0]: ln.split()[1:] for ln in lines[lines.index(next(x for x in lines if x.startswith(
        "per feature"))) + 2:] if ln.strip()}
    report["drift"] = {"windows": len(windows), "unsure %": round(unsure, 1), "first line": lines[0][:100]}
    for c, axis in enumerate("xyz"):
        for name, f in (("min", np.min), ("max", np.max)):
            ks = ks_2samp(f(field_x[:, :, c], axis=1), f(train_x[:, :, c], axis=1)).statistic
            assert abs(float(table[f"{axis}_{name}"][1]) - ks) <= 0.0015, (axis, name, table[f"{axis}_{name}"], ks)
            report["drift"][f"KS {axis}_{name}"] = round(ks, 3)

    # 6. Retrain: promoted, better on the field, not worse on the parent's takes.
    cand = tmp_path / "cand"
    out = cli.run("retrain", "--from", parent, "--db", db, "--out", cand, env=env)
    assert "PROMOTED" in out, out
    cinfo = modelinfo.load(cand)
    lin = cinfo.lineage
    assert NEW in cinfo.classes and lin["promoted"] and not lin["forced"]
    assert lin["parent"]["model_hash"] == parent_hash and lin["parent"]["classes"] == pinfo.classes
    fdata = next(d for d in lin["data"] if d["kind"] == "labelled field windows")
    assert fdata["ids"] == sorted(labels) and fdata["windows"] == len(labels)
    h = hashlib.sha256()
    for i in sorted(labels):
        h.update(f"{i}\t{labels[i]}\n".encode())
        h.update(rows(db, "SELECT window FROM inferences WHERE id = ?", i)[0]["window"])
    assert fdata["sha256"] == h.hexdigest()
    split = cinfo.split["field"]["sessions"]
    held_sessions = set(split["test"])
    assert held_sessions and not held_sessions & set(split["train"])
    assert held_sessions | set(split["train"]) == {k["session_id"] for k in kept}
    rrows = {(r["set"], r["runner"]): r for r in lin["revalidation"]["rows"]}
    deciding = lin["revalidation"]["runner_deciding"]
    # held-out field sessions: the parent's figure is what the board decided; the candidate's the reference's
    cref = Trees(cand)
    held = [(i, c) for i, c in sorted(labels.items())
            if rows(db, "SELECT session_id FROM inferences WHERE id = ?", i)[0]["session_id"] in held_sessions]
    board_top = {i: pinfo.classes[rows(db, "SELECT top FROM inferences WHERE id = ?", i)[0]["top"]] for i, _ in held}
    cand_top = {}
    for i, _ in held:
        r = rows(db, "SELECT window, window_channels FROM inferences WHERE id = ?", i)[0]
        v = cref.votes(window_of(r))
        cand_top[i] = cinfo.classes[v.index(max(v))]
    parent_field = np.mean([board_top[i] == c for i, c in held])
    cand_field = np.mean([cand_top[i] == c for i, c in held])
    fr = rrows["held-out field sessions", deciding]
    assert fr["windows"] == len(held) and fr["parent"] == pytest.approx(parent_field) and \
        fr["candidate"] == pytest.approx(cand_field), (fr, parent_field, cand_field)
    # the parent's held-out takes: its card (emlearn C at training) and the reference, window by window
    pt = [table_take(data, t)[0] for _, t in held_out(pinfo)]
    pt_labels = [table_take(data, t)[1] for _, t in held_out(pinfo)]
    px, py = [], []
    for fr_, lab in zip(pt, pt_labels):
        for s in range(0, len(fr_) - pinfo.window + 1, pinfo.hop):
            px.append(fr_[s:s + pinfo.window])
            py.append(lab)
    pv = [ref.votes(w) for w in px]
    cv = [cref.votes(w) for w in px]
    parent_set = np.mean([pinfo.classes[v.index(max(v))] == y for v, y in zip(pv, py)])
    cand_set = np.mean([cinfo.classes[v.index(max(v))] == y for v, y in zip(cv, py)])
    pr = rrows["parent held-out takes", deciding]
    assert pr["windows"] == len(py) == pinfo.evaluation["windows"]
    assert pr["parent"] == pytest.approx(parent_set)
    assert parent_set == pytest.approx(pinfo.evaluation["overall"]["int8"])  # the parent's card: emlearn C
    assert pr["candidate"] == pytest.approx(cand_set)
    assert cand_set == pytest.approx(cinfo.evaluation["overall"]["int8"])
    assert cand_field >= parent_field + 0.3, (cand_field, parent_field)
    assert cand_set >= parent_set - lin["revalidation"]["tolerance"], (cand_set, parent_set)
    report["accuracy"] = {"parent on parent set": round(parent_set, 3), "candidate on parent set": round(cand_set, 3),
                          "parent on held-out field": round(parent_field, 3),
                          "candidate on held-out field": round(cand_field, 3), "held-out field windows": len(held),
                          "parent set windows": len(py)}
    report["step 4-6 s"] = round(time.monotonic() - started) - report["step 1-3 s"]

    # 7. The candidate as bundle 2: slot b, and on the board over the held-out field takes.
    cand_hash = file_hash(cand)
    b2 = tmp_path / "cand-2.bundle"
    # kept after 5 inferences: the first take's ~17 leave room for a board that lags on a busy host
    cli.run("bundle", "--model", cand, "--key", keys, "--counter", 2, "--confirm-after", 5, "--out", b2, env=env)
    held_takes = sorted({sessions[s] for s in held_sessions})
    on_board = {}
    for i, take in enumerate(held_takes):
        with board(flash, take, env) as sim:
            if i == 0:
                out = cli.run("deploy", "--port", sim.port, "--board", "rp2040", "--bundle", b2, *KEEP_FLAGS, env=env)
                assert "counter 2) in slot b, self-test passed, signature checked by the board" in out, out
            cli.run("monitor", "--port", sim.port, "--window", "--seconds", seconds, "--db", db, env=env)
        sid = last_session(db)
        assert session_model(db, sid) == cand_hash
        inf = rows(db, "SELECT * FROM inferences WHERE session_id = ? AND seq IS NOT NULL ORDER BY id", sid)
        for r in inf:
            assert owner(window_of(r), frame_sets) == take
            cref.check_row(window_of(r), r["top"], r["scores"])
        before = [r for r in rows(db, "SELECT * FROM inferences WHERE session_id IN (%s) AND seq IS NOT NULL" %
                                  ",".join(str(s) for s, t in sessions.items() if t == take))]
        on_board[take] = (np.mean([cinfo.classes[r["top"]] == label_of_take[take] for r in inf]),
                          np.mean([pinfo.classes[r["top"]] == label_of_take[take] for r in before]))
    st = slot_state(flash)
    assert (st["active"], st["pending"], st["counter"]) == ("b", False, 2), st  # ran, and confirmed itself
    cand_board = np.mean([c for c, _ in on_board.values()])
    parent_board = np.mean([p for _, p in on_board.values()])
    assert cand_board >= parent_board + 0.3, on_board
    report["on the board, held-out field takes"] = {"parent": round(parent_board, 3), "candidate": round(cand_board, 3)}

    # 8. Refusals: one line each, exit != 0, the board's files byte for byte; then a rollback.
    payload_flip = bytearray(b2.read_bytes())
    payload_flip[-1] ^= 1
    (tmp_path / "payload-flip.bundle").write_bytes(bytes(payload_flip))
    man_flip = bytearray(b2.read_bytes())
    at = man_flip.index(b'"version":"') + len(b'"version":"')
    man_flip[at] ^= 1  # a letter of the signed version string: still valid JSON, no longer what was signed
    (tmp_path / "manifest-flip.bundle").write_bytes(bytes(man_flip))
    cli.run("bundle", "--model", cand, "--unsigned", "--counter", 3, "--out", tmp_path / "unsigned.bundle", env=env)
    cli.run("bundle", "--model", parent, "--key", keys, "--counter", 1, "--out", tmp_path / "older.bundle", env=env)
    cli.run("bundle", "--model", parent, "--key", keys, "--counter", 4, "--out", tmp_path / "st.bundle", env=env)
    (tmp_path / "selftest.bundle").write_bytes(re_signed_with_wrong_selftest(
        (tmp_path / "st.bundle").read_bytes(), (keys / "edgeloop.key").read_bytes()))
    cases = [("payload-flip", "does not match"), ("manifest-flip", "bad signature"), ("unsigned", "unsigned"),
             ("older", "older counter"), ("selftest", "self-test mismatch")]
    report["refusals"] = {}
    with board(flash, held_takes[0], env) as sim:
        for name, reason in cases:
            before = board_files(flash)
            line = refused("deploy", "--port", sim.port, "--board", "rp2040", "--bundle", tmp_path / f"{name}.bundle",
                           env=env)
            assert reason in line, (name, line)
            if name != "payload-flip":  # the host refuses a changed file before the port; the rest is the board
                assert "the board refused the bundle" in line and "nothing was replaced" in line, line
            after = board_files(flash)
            if name == "selftest":  # the install wrote the idle slot, then emptied it; the running one is intact
                after = {k: v for k, v in after.items() if not k.startswith("slots/a/")}
                before = {k: v for k, v in before.items() if not k.startswith("slots/a/")}
            assert after == before, name
            report["refusals"][name] = line
        cli.run("monitor", "--port", sim.port, "--window", "--seconds", 2, "--db", db, env=env)
        assert session_model(db, last_session(db)) == cand_hash

        # An update that never confirms (it needs more inferences than it runs) comes back out.
        b5 = tmp_path / "unconfirmed.bundle"
        cli.run("bundle", "--model", parent, "--key", keys, "--counter", 5, "--confirm-after", 100000, "--out", b5,
                env=env)
        out = cli.run("deploy", "--port", sim.port, "--board", "rp2040", "--bundle", b5, *KEEP_FLAGS, env=env)
        assert "counter 5) in slot a" in out, out
        cli.run("monitor", "--port", sim.port, "--window", "--seconds", 2, "--db", db, env=env)
        assert session_model(db, last_session(db)) == parent_hash  # it ran once, unconfirmed
        cli.run("monitor", "--port", sim.port, "--window", "--seconds", 2, "--db", db, env=env)
        assert session_model(db, last_session(db)) == cand_hash  # the next start put the candidate back
    st = slot_state(flash)
    assert (st["active"], st["pending"], st["counter"]) == ("b", False, 5) and "rolled back" in st["note"], st
    report["rollback"] = st["note"]
    report["seconds"] = round(time.monotonic() - started)
    print("\nclosed loop:", json.dumps(report, indent=1, default=str))
