"""Continuous keyword spotting on the rp2040 virtual board, against the same code under CPython.

A real recording (yes) between stretches of TFLM's silence recording is
streamed through edgeloop_fw.kws on the board in capture-sized chunks; every
inference's output bytes must equal what CPython computes with the same
files (whose own outputs tests/firmware/cpython/test_kws.py checks against TFLM), the
detection must come out as a MSG_DETECTION frame that the host's protocol
decoder reads, and frames that run no inference must allocate nothing.
The board is real MicroPython with the RP2040 heap cap, the firmware as
`edgeloop deploy` puts it there (.mpy, the front end's table file), the
model and recording through the same deploy library, and the stream driven
over the pty through edgeloop.link.device.
"""

import io
import sys
import wave
from pathlib import Path

import pytest


from tests.tools.runtime_helpers import SPEECH, SPEECH_DIR, need  # noqa: E402
from tests.tools.paths import REPO

pytestmark = pytest.mark.sim


MODELS = ("micro_speech", "shipped keyword")  # TFLM's canonical model, and models/keyword/
PARTS = (("silence", 8000), ("yes", 16000), ("silence", 8000))  # 2 s: yes from 0.5 to 1.5 s
EVERY = 4
AVERAGE_MS = 500


def stream() -> bytes:
    out = []
    for name, n in PARTS:
        with wave.open(str(need(SPEECH_DIR / f"{name}_1000ms.wav"))) as w:
            out.append(w.readframes(w.getnframes())[:2 * n])
    return b"".join(out)


def model(name: str) -> tuple[bytes, list[str]]:
    """(model file, classes)."""
    if name == "micro_speech":
        from edgeloop.convert.int8 import convert_tflite
        return convert_tflite(need(SPEECH)).data, ["silence", "unknown", "yes", "no"]
    from edgeloop import modelinfo
    d = REPO / "models" / "keyword"
    return (d / "keyword.elm").read_bytes(), modelinfo.load(d).classes


# Runs on the board (and, for the reference, under CPython): ROOT is where the files are.
# In three parts, so the virtual board can run the stream over several raw-REPL
# executions: its WebAssembly MicroPython collects garbage only between them.
SETUP = """
import sys, gc, array
sys.path.append(ROOT + '/lib')
from edgeloop_fw.runtime.loader import Model
from edgeloop_fw.runtime.interpreter import Interpreter
from edgeloop_fw.kws import KeywordSpotter
from edgeloop_fw import protocol as P
def listener(k, found):
    print('W %d %s %d' % (k.time_ms(), bytes(k.output).hex(), found))
k = KeywordSpotter(Interpreter(Model(open(ROOT + '/model.elm', 'rb'))), CLASSES, every=EVERY,
                   average_ms=AVERAGE_MS, listener=listener)
enc = P.FrameEncoder(128)
block = array.array('h', bytes(640))  # capture blocks of 20 ms, as a microphone delivers them
f = open(ROOT + '/stream.raw', 'rb')
def step(blocks):
    for _ in range(blocks):
        got = f.readinto(block) // 2
        if not got:
            f.close()
            print('END')
            return True
        found = k.feed(block, 0, got)
        if found >= 0:
            m = k.encode_detection(enc, k.detected_ms, b'0123abcd')
            print('D ' + bytes(enc.wire[:m]).hex())
    return False
"""

# Allocation of the spotter's own per-frame work (the front end boxes some big ints itself).
MEASURE = """
k.listener = None
feats = array.array('b', bytes(40))
frame_alloc = infer_alloc = 0
if hasattr(gc, 'mem_alloc'):
    for i in range(2 * EVERY):
        infer = (k.frame_count + 1 - k.frames) % k.every == 0
        gc.collect()
        before = gc.mem_alloc()
        k.push_features(feats)
        used = gc.mem_alloc() - before
        if infer:
            infer_alloc = max(infer_alloc, used)
        else:
            frame_alloc = max(frame_alloc, used)
print('ALLOC', frame_alloc, infer_alloc)
"""


def setup(root: str, classes: list[str]) -> str:
    return f"ROOT = {root!r}\nCLASSES = {classes!r}\nEVERY = {EVERY}\nAVERAGE_MS = {AVERAGE_MS}\n" + SETUP


def script(root: str, classes: list[str]) -> str:
    return setup(root, classes) + "while not step(10):\n    pass\n" + MEASURE


def host_rows(tmp_path, name: str) -> list[str]:
    """The same script under CPython (the repo's edgeloop_fw is the same files)."""
    import contextlib

    blob, classes = model(name)
    (tmp_path / "model.elm").write_bytes(blob)
    (tmp_path / "stream.raw").write_bytes(stream())
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(script(str(tmp_path), classes), "kws_script", "exec"), {})
    return out.getvalue().split("\n")


def check(board_out: str, host_out: list[str], classes: list[str]):
    from edgeloop_fw import protocol as P

    board = [ln.strip() for ln in board_out.splitlines() if ln[:2] in ("W ", "D ", "AL")]
    host = [ln.strip() for ln in host_out if ln[:2] in ("W ", "D ")]
    windows = [ln for ln in board if ln.startswith("W ")]
    # 2 s = 99 frames: the first full second at frame 49, then every 4th frame.
    assert len(windows) == (99 - 49) // EVERY + 1
    assert [ln for ln in board if not ln.startswith("ALLOC")] == host
    dets = [ln for ln in board if ln.startswith("D ")]
    assert len(dets) == 1, board
    wire = bytes.fromhex(dets[0][2:])
    kind, _seq, t_ms, payload = P.frame_decode(wire[:-1])
    f = P.decode_payload(kind, payload)
    assert kind == P.MSG_DETECTION and classes[f["class_index"]] == "yes" and f["model_hash"] == "0123abcd"
    assert 800 <= t_ms <= 2000 and f["time_ms"] == t_ms and f["score"] > 200 * 257
    alloc = [ln for ln in board if ln.startswith("ALLOC")]
    return tuple(int(v) for v in alloc[0].split()[1:]) if alloc else None


@pytest.mark.slow
@pytest.mark.parametrize("name", MODELS)
def test_virtual_board_windows_and_detection_equal_cpython(any_board, tmp_path, name):
    """Through the rp2040-profile virtual board (deploy, pty, raw REPL, edgeloop.link.device),
    and the unix CircuitPython and MicroPython (whose viper level runs the heavy kernels)."""
    fw_board = any_board
    blob, classes = model(name)
    fw_board.put({"/model.elm": blob, "/stream.raw": stream()})
    out = ""
    with fw_board.session() as dev:
        for module in ("runtime.loader", "runtime.interpreter", "audio", "kws", "protocol"):
            dev.exec(f"import edgeloop_fw.{module}", timeout=120)  # one import per execution (GC between)
        out += dev.exec(setup("", classes), timeout=300).decode()
        # Ten 20 ms blocks per execution: the front end allocates nothing per frame, but every
        # inference's listener line does, and this board collects only between executions.
        for _ in range(20):
            out += dev.exec("step(10)", timeout=300).decode()
            if "END" in out:
                break
        out += dev.exec(MEASURE, timeout=300).decode()
    frame_alloc, infer_alloc = check(out, host_rows(tmp_path, name), classes)
    assert frame_alloc == 0, "a frame without an inference allocated %d bytes" % frame_alloc
    assert infer_alloc == 0, "an inference allocated %d bytes (%s)" % (infer_alloc, any_board.kind)
