"""The app with capture rules under CPython: the shipped gesture model on a replayed take.

Reference: the selection recomputed with numpy from the scores in the app's own inference frames
(tests/firmware/cpython/test_capture.py's `reference`), the random draws with binascii.crc_hqx.
"""

from __future__ import annotations

import io

import numpy as np
import pytest

from edgeloop.sim import replay
from edgeloop_fw import protocol as P
from edgeloop_fw.app import App
from edgeloop_fw.serial_link import Output
from tests.firmware.cpython.test_app import Pipe, frames_of
from tests.tools.capture_reference import selection
from tests.tools.paths import REPO, SHARED_DATA

TAKE = SHARED_DATA / "gestures" / "raw" / "2025-06-15T192914_wave.npy"
GESTURE = REPO / "models" / "gesture"
CLASSES = ["idle", "snake", "updown", "wave"]
SPEC = {"below": 0.9, "margin": 0.6, "classes": ["snake"], "random": 0.3, "seed": 11}
pytestmark = pytest.mark.skipif(not TAKE.exists(), reason="../shared/data/gestures is not here")


def make(tmp_path, out, pipe, spec=SPEC):
    replay_file = replay.place_in_flash_dir(replay.load(TAKE), tmp_path)
    cfg = {"sensor": {"kind": "replay", "file": str(replay_file)}, "window": 50, "hop": 25,
           "model": str(GESTURE / "gesture.elm"), "classes": CLASSES, "board": "test", "device_id": "t1",
           "capture": dict(spec, ring_file=str(tmp_path / "ring.bin"), ring_bytes=40 * 1024)}
    return App(cfg, flags=P.STREAM_INFERENCE | P.STREAM_WINDOW, mode=P.MODE_INFER, out=Output(out), inp=pipe)


def check_against_reference(inferences, kept):
    """Every kept frame is the one numpy selects, with its inference's scores, window and time."""
    scores = np.array([f["scores"] for f in inferences])
    times = np.array([f["t_ms"] for f in inferences])
    want = selection(scores, SPEC, CLASSES, times, [f["window_index"] for f in inferences])
    by_index = {f["window_index"]: f for f in inferences}
    assert sorted((k["window_index"], k["rule"]) for k in kept) == \
        [(f["window_index"], int(r)) for f, r in zip(inferences, want) if r]
    for k in kept:
        f = by_index[k["window_index"]]
        assert (k["scores"], k["top"], k["window"], k["t_ms"]) == (f["scores"], f["top"], f["window"], f["t_ms"])
        assert k["firmware"].startswith("edgeloop_fw ") and k["model_hash"] == f["model_hash"]


def run_blocks(app, pipe, n, ping_every=0):
    for i in range(n):
        if ping_every and i % ping_every == 0:
            pipe.push(P.cmd_encode(P.CMD_PING, i + 1, {"token": i}))
        app.step_block()
        app.poll_commands()
        if app.ring is not None and app.host_attached():
            app.ship_ring()


def frames(out):
    got = {}
    for kind, _seq, f in frames_of(out.getvalue()):
        got.setdefault(kind, []).append(f)
    return got


def with_times(out):
    """Inference frames with the header's device time (the rules' clock) added."""
    res = []
    for chunk in out.getvalue().split(b"\0"):
        if chunk:
            kind, _seq, t, payload = P.frame_decode(chunk)
            if kind == P.MSG_INFERENCE:
                res.append(dict(P.decode_payload(kind, payload), t_ms=t))
    return res


def test_with_a_host_kept_windows_go_out_beside_their_inferences(tmp_path):
    out, pipe = io.BytesIO(), Pipe()
    app = make(tmp_path, out, pipe)
    app.begin()
    run_blocks(app, pipe, 1500, ping_every=50)
    got = frames(out)
    kept = got.get(P.MSG_KEPT, [])
    assert kept and not any(k["ring"] for k in kept) and app.ring.count() == 0
    check_against_reference(with_times(out), kept)


def test_without_a_host_kept_windows_wait_in_the_ring_and_ship_when_it_pings(tmp_path):
    out, pipe = io.BytesIO(), Pipe()
    app = make(tmp_path, out, pipe)
    app.begin()
    run_blocks(app, pipe, 1500)  # nobody pings: no host
    assert P.MSG_KEPT not in frames(out) and app.ring.count() == app.kept > 0
    inferences = with_times(out)
    app.ring.close()

    out2, pipe2 = io.BytesIO(), Pipe()  # the board restarts; a host attaches and pings
    app2 = make(tmp_path, out2, pipe2)
    assert app2.ring.count() == app.kept
    app2.begin()
    run_blocks(app2, pipe2, app.kept + 5, ping_every=10)
    shipped = [k for k in frames(out2).get(P.MSG_KEPT, []) if k["ring"]]
    assert [k["record"] for k in shipped] == list(range(1, app.kept + 1))  # oldest first, each once
    assert app2.ring.count() == 0  # freed once sent
    check_against_reference(inferences, shipped)
