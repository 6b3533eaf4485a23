"""Keyword detections leave the board as MSG_DETECTION frames and allocate nothing, on the virtual board.

The rp2040 virtual board (real MicroPython, heap capped) gets the firmware
and the shipped keyword model through `edgeloop deploy`'s library and a
recording (silence, TFLM's real "yes", silence) as its replay file. The
app runs its own keyword mode block by block (capture, front end, spotter,
frames) into a stand-in for the USB output. Then, with the garbage
collector off, `gc.mem_alloc` measures the app's detection path: sending
the detection again, and deciding + sending fresh detections in the
smoother. Reference figure from the same run: the text log line the app
sent per detection before MSG_DETECTION existed.

The detection frame is decoded here by the host's protocol decoder (whose
layout the independent vectors pin) and checked against the stream: the
word, a window the app inferred on, the audio time of that window, a score
over the threshold, the model's hash from the model file's header.
"""

from __future__ import annotations

import re
import struct
import wave
from pathlib import Path

import numpy as np
import pytest

from edgeloop_fw import protocol as P
from tests.tools.paths import REPO

MS = REPO / ".." / "shared" / "data" / "tflm" / "micro_speech"
KEYWORD = REPO / "models" / "keyword"
PRELOAD = ("edgeloop_fw.protocol", "edgeloop_fw.runtime.loader", "edgeloop_fw.runtime.interpreter",
           "edgeloop_fw.audio.frontend", "edgeloop_fw.kws", "edgeloop_fw.app")
BLOCKS = 100  # 2 s of audio in 20 ms capture blocks: 99 front-end windows

pytestmark = [pytest.mark.sim, pytest.mark.slow]

SETUP = """
import gc, binascii
from edgeloop_fw import protocol as P
from edgeloop_fw.app import App
from edgeloop_fw.port import ticks_ms

class Sink:
    # Stands in for the USB output: counts frames by type, keeps the last detection's bytes
    # in a buffer made once (copied by a loop: a slice would allocate).
    def __init__(self):
        self.enc = None
        self.det = bytearray(96)
        self.det_n = 0
        self.inferences = 0
        self.detections = 0
        self.logs = 0
    def write(self, buf, mv, n):
        t = self.enc.raw[1]
        if t == P.MSG_INFERENCE:
            self.inferences += 1
        elif t == P.MSG_LOG:
            self.logs += 1
        elif t == P.MSG_DETECTION:
            self.detections += 1
            for i in range(n):
                self.det[i] = buf[i]
            self.det_n = n
        return True

class NoInput:
    def read(self):
        return -1

sink = Sink()
app = App(CFG, flags=P.STREAM_INFERENCE, mode=P.MODE_INFER, out=sink, inp=NoInput())
sink.enc = app.enc
print('READY', app.model_hash.decode(), app.block)
"""

STEPS = """
for _ in range(10):
    app.step_block()
print('S', app.win.windows, sink.inferences, sink.detections)
"""

REPORT = """
print('DET', binascii.hexlify(bytes(sink.det[:sink.det_n])).decode(), sink.logs)
"""

MEASURE = """
sp = app.spotter
yes = sp.classes.index('yes')
for i in range(sp.n_classes):  # made-up model output: 'yes' certain
    sp.output[i] = (127 if i == yes else -128) & 0xFF
t0 = sp.time_ms() + 80
t = i = a = found = sent0 = send_alloc = decide_alloc = log_alloc = 0  # globals made before measuring
gc.collect()
gc.disable()
a = gc.mem_alloc()
for i in range(50):
    app._send_detection()
send_alloc = gc.mem_alloc() - a
sent0 = sink.detections
a = gc.mem_alloc()
for t in range(t0, t0 + 20000, 80):
    if sp._decide(t) >= 0:
        app._send_detection()
        found += 1
decide_alloc = gc.mem_alloc() - a
a = gc.mem_alloc()
for i in range(50):  # the reference: the text log line the app sent per detection before
    app._send(app.enc.log(ticks_ms(), 1, ('detected %s %d at %d ms' % (
        sp.classes[sp.detected], sp.detected_score, sp.detected_ms)).encode()))
log_alloc = gc.mem_alloc() - a
gc.enable()
print('ALLOC', send_alloc, decide_alloc, found, sink.detections - sent0, log_alloc)
"""


def stream() -> np.ndarray:
    parts = []
    for name, n in (("silence", 8000), ("yes", 16000), ("silence", 8000)):
        with wave.open(str(MS / f"{name}_1000ms.wav")) as w:
            parts.append(np.frombuffer(w.readframes(w.getnframes()), "<i2")[:n])
    return np.concatenate(parts)


def test_detection_frames_from_the_app_allocate_nothing(virtual_board, tmp_path):
    if not (MS / "yes_1000ms.wav").exists():
        pytest.skip(f"shared test data not found at {MS}")
    from edgeloop import modelinfo
    from edgeloop.sim import replay
    from edgeloop.deploy.plan import deploy_files
    from edgeloop.link.device import Device
    from edgeloop.deploy.firmware import deploy_firmware
    from edgeloop_fw.runtime import format as F

    card = modelinfo.load(KEYWORD)
    classes, kws = card.classes, dict(card.kws)
    model = KEYWORD / "keyword.elm"
    x = stream()
    blob = replay.Replay(x.reshape(-1, 1), 16000, "pcm16", "yes").to_bytes()
    with Device(virtual_board.port) as dev:
        deploy_firmware(dev, board="rp2040", models=[model], cache_dir=tmp_path / "mpy")
        deploy_files(dev, [(blob, "/stream.bin")], group="test", board="rp2040")
    cfg = {"sensor": {"kind": "replay", "file": "/stream.bin"}, "model": f"/models/{model.name}",
           "classes": classes, "kws": kws}

    out = ""
    # A fresh heap for the app; one import per execution, and ten blocks per execution:
    # this board collects garbage only between executions (the inferences allocate).
    with Device(virtual_board.port, soft_reset=True, timeout=60) as dev:
        for module in PRELOAD:
            dev.exec(f"import {module}", timeout=120)
        out += dev.exec(f"CFG = {cfg!r}\n" + SETUP, timeout=120).decode()
        for _ in range(BLOCKS // 10):
            out += dev.exec(STEPS, timeout=300).decode()
        out += dev.exec(REPORT, timeout=60).decode()
        out += dev.exec(MEASURE, timeout=300).decode()

    assert "Traceback" not in out, out[-2000:]
    model_hash = struct.unpack_from(F.HEADER_FMT, model.read_bytes(), 0)[4][:8].hex()
    assert re.search(r"^READY (\S+) 320$", out, re.M).group(1) == model_hash
    windows, inferences, detections = map(int, out.strip().split("\nS ")[-1].split("\n")[0].split())
    assert windows == 1 + (len(x) - 480) // 320 == 99
    every = kws["every"]
    assert inferences == (windows - 49) // every + 1  # the first full second, then every `every` windows
    assert detections == 1

    # The detection frame, decoded by the host: the word, on a window the app inferred, at its audio time.
    det_hex, logs = re.search(r"^DET ([0-9a-f]+) (\d+)$", out, re.M).groups()
    assert logs == "0"  # no text log lines any more
    wire = bytes.fromhex(det_hex)
    kind, _seq, _t, payload = P.frame_decode(wire[:-1])
    assert kind == P.MSG_DETECTION
    f = P.decode_payload(kind, payload)
    k = f["window_index"]
    assert classes[f["class_index"]] == "yes" and f["model_hash"] == model_hash
    assert k >= 49 and (k - 49) % every == 0 and k <= windows
    assert f["time_ms"] == (k - 1) * 20 + 30
    assert 8000 / 16 + 300 <= f["time_ms"] <= 24000 / 16 + 500  # while / just after the word
    assert f["score"] % 257 == 0 and f["score"] // 257 > kws["threshold"]

    send_alloc, decide_alloc, found, sent, log_alloc = map(int, re.search(r"^ALLOC (.*)$", out, re.M).group(1).split())
    assert found == sent >= 10  # the made-up stream did decide and send detections
    assert send_alloc == 0, f"50 detection frames allocated {send_alloc} bytes"
    assert decide_alloc == 0, f"{found} decisions + frames allocated {decide_alloc} bytes"
    assert log_alloc > 0  # the reference does allocate: the measurement can see it
    print(f"per detection on the board: MSG_DETECTION 0 B (50 resent, {found} decided + sent); "
          f"text log line before: {log_alloc / 50:.0f} B")
