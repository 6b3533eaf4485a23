"""The audio front end on the rp2040-profile virtual board, byte for byte against TFLM.

The board is real MicroPython behind a pty with the RP2040 profile's heap cap
(edgeloop.sim); the firmware goes on it with edgeloop's own deploy (compiled
to .mpy, the parameter tables as their binary file), and everything is driven
through edgeloop.link.device over the raw REPL, as on hardware. The references are
TFLM's audio preprocessor and TFLM's micro_speech. Every test here needs
the serial path and the heap cap, so none runs the interpreter any other way.

This board collects garbage only between raw-REPL executions, so imports go
one per execution, and a clip (49 frames) must run in one execution without
allocating: the measured allocation is the proof that a frame allocates
nothing, and the same clip under micropython.heap_lock() must still run.
"""

import sys
import wave
from pathlib import Path

import numpy as np
import pytest


from tests.tools.runtime_helpers import CLIPS, SPEECH, SPEECH_DIR, need, speech_features, tflm, tflm_run  # noqa: E402

pytestmark = [pytest.mark.sim, pytest.mark.slow]

LABELS = ("silence", "unknown", "yes", "no")
EXPECTED = {"yes": "yes", "no": "no", "silence": "silence", "noise": "silence"}


def recording(clip: str) -> bytes:
    with wave.open(str(need(SPEECH_DIR / f"{clip}_1000ms.wav"))) as w:
        return w.readframes(w.getnframes())


def deploy(vb, tmp_path, models=()):
    """edgeloop's deploy of firmware/ (+ models) and the recordings, then a hard reset for a clean heap."""
    from edgeloop.deploy.plan import DeployFile, deploy_files
    from edgeloop.link.device import Device
    from edgeloop.deploy.firmware import deploy_firmware

    with Device(vb.port) as dev:
        result = deploy_firmware(dev, board="rp2040", models=models, cache_dir=tmp_path / "mpy")
        deploy_files(dev, [DeployFile(f"/data/{c}.raw", recording(c), group="audio") for c in CLIPS],
                     group="audio")
    sent = set(result.sent)
    assert {"/lib/edgeloop_fw/audio/frontend.mpy", "/lib/edgeloop_fw/audio/micro_speech_params.mpy",
            "/lib/edgeloop_fw/audio/micro_speech_params.bin"} <= sent, sorted(sent)
    vb.restart()


@pytest.fixture(params=["wasm", "circuitpython", "micropython-unix"])
def audio_board(request, tmp_path):
    """run(parts, models=()) -> {KEY: [rest of line]}: the firmware and the recordings on the
    rp2040 virtual board (deployed as edgeloop deploy does), or on a unix-port interpreter
    (tests/tools/unix_board.py). `run.kind` says which."""
    if request.param == "wasm":
        from edgeloop.link.device import Device

        vb = request.getfixturevalue("virtual_board")

        def run(parts, models=()):
            deploy(vb, tmp_path, models=models)
            with Device(vb.port) as dev:
                return execs(dev, parts)
    else:
        from tests.firmware.board.conftest import unix_board_or_skip

        ub = unix_board_or_skip(request.param, tmp_path / "flash")

        def run(parts, models=()):
            ub.put({f"/data/{c}.raw": recording(c) for c in CLIPS}, models=models)
            with ub.session() as dev:
                return execs(dev, parts)
    run.kind = request.param
    return run


def execs(dev, parts, timeout=300) -> dict[str, list[str]]:
    """Run each part in its own execution (the board collects between them); KEY value lines by key."""
    out: dict[str, list[str]] = {}
    for code in parts:
        for line in dev.exec(code, timeout=timeout).decode().splitlines():
            key, _, rest = line.strip().partition(" ")
            out.setdefault(key, []).append(rest)
    return out


SETUP = [
    "import gc, array, micropython\ngc.collect()\nprint('BASE', gc.mem_alloc(), gc.mem_free())",
    "from edgeloop_fw.audio import AudioFrontend",
    "print('IMPORTED', gc.mem_alloc())\nfe = AudioFrontend()",
    # buffers made once; from here on nothing may allocate per frame
    "print('BUILT', gc.mem_alloc())\nsamples = array.array('h', bytes(32000))\n"
    "out = array.array('b', bytes(49 * 40))\nagain = array.array('b', bytes(49 * 40))\n"
    "a = used = 0  # bound now: a new global grows the globals dict inside a measurement\n"
    "micropython.heap_lock()\ntry:\n    bytearray(8)\n    print('LOCK none')\nexcept MemoryError:\n"
    "    print('LOCK works')\nmicropython.heap_unlock()",
]

CLIP = """
with open('/data/%s.raw', 'rb') as f:
    f.readinto(samples)
a = gc.mem_alloc()
fe.clip_features(samples, out)
used = gc.mem_alloc() - a
locked = ''  # bound before the lock: a new global grows the globals dict
micropython.heap_lock()
try:
    fe.clip_features(samples, again)
    locked = 'ok'
except MemoryError:
    locked = 'MemoryError'
micropython.heap_unlock()
print('CLIP %s', used, locked, out == again, bytes(out).hex())
"""


def test_virtual_board_features_equal_tflm_and_allocate_nothing(audio_board):
    """All four recordings on the capped RP2040 profile (and the unix ports): TFLM's features,
    0 bytes per frame."""
    got = audio_board(SETUP + [CLIP % (c, c) for c in CLIPS])
    assert got["LOCK"] == ["works"], "heap_lock must make an allocation fail on this port"
    rows = {r.split()[0]: r.split()[1:] for r in got["CLIP"]}
    for clip in CLIPS:
        used, locked, same, features = rows[clip]
        assert features == speech_features(clip).tobytes().hex(), clip
        assert (int(used), locked, same) == (0, "ok", "True"), f"{clip}: {rows[clip][:3]}"
    base = int(got["BASE"][0].split()[0])
    imported, built = int(got["IMPORTED"][0]) - base, int(got["BUILT"][0]) - int(got["IMPORTED"][0])
    print(f"front end on {audio_board.kind}: modules {imported} B, state + tables {built} B, 0 B per frame")
    if audio_board.kind == "wasm":  # the budget is a 32-bit board's with .mpy files
        assert imported + built < 40 * 1024


E2E = [
    "import gc, array\ngc.collect()\nprint('BASE', gc.mem_alloc(), gc.mem_free())",
    "import edgeloop_fw.runtime.loader",
    "import edgeloop_fw.runtime.interpreter",
    "from edgeloop_fw.audio import AudioFrontend",
    "from edgeloop_fw.runtime.loader import Model\nfrom edgeloop_fw.runtime.interpreter import Interpreter\n"
    "fe = AudioFrontend()",
    "it = Interpreter(Model(open('/models/micro_speech.elm', 'rb')))",
    "gc.collect()\nprint('LOADED', gc.mem_alloc(), gc.mem_free())",
    # this test's own clip buffers (32 KB of samples); a stream needs only 30 ms of them
    "samples = array.array('h', bytes(32000))\nfeats = array.array('b', bytes(49 * 40))",
]

E2E_CLIP = """
with open('/data/%s.raw', 'rb') as f:
    f.readinto(samples)
fe.clip_features(samples, feats)
it.set_input(feats)
it.invoke()
print('OUT %s', it.get_output().hex(), gc.mem_alloc())
"""


def test_virtual_board_features_through_runtime_give_tflms_output_bytes(audio_board, tmp_path):
    """Audio -> board front end -> board runtime -> micro_speech == audio -> TFLM -> TFLM, on the capped heap."""
    from edgeloop.convert.int8 import convert_tflite

    model = tmp_path / "micro_speech.elm"
    model.write_bytes(convert_tflite(need(SPEECH)).data)
    got = audio_board(E2E + [E2E_CLIP % (c, c) for c in CLIPS], models=[model])
    ref = tflm(SPEECH)
    rows = {r.split()[0]: r.split()[1:] for r in got["OUT"]}
    peak = 0
    for clip in CLIPS:
        want = tflm_run(ref, speech_features(clip))
        assert rows[clip][0] == want.tobytes().hex(), clip
        assert LABELS[int(np.argmax(np.frombuffer(bytes.fromhex(rows[clip][0]), np.int8)))] == EXPECTED[clip]
        peak = max(peak, int(rows[clip][1]))
    base_alloc, base_free = (int(v) for v in got["BASE"][0].split())
    loaded, free = (int(v) for v in got["LOADED"][0].split())
    heap = base_alloc + base_free
    print(f"keyword pipeline on the rp2040 board ({heap} B heap): front end + runtime + micro_speech "
          f"{loaded - base_alloc} B loaded, {free} B free; with a 1 s clip buffer, after an inference, "
          f"{peak - base_alloc} B without a collection")
    # the whole pipeline, loaded, leaves at least half the heap to the application
    if audio_board.kind == "wasm":  # (the rp2040 profile's heap; the unix ports have a big one)
        assert loaded - base_alloc < heap // 2
