"""The audio front end inside real MicroPython, byte for byte against TFLM.

The board runs the same edgeloop_fw.audio files as the host: each 1 s
recording goes onto its filesystem as raw int16, the board computes the 49x40
features, then (end to end) runs micro_speech through edgeloop's own runtime.
The references are TFLM's audio preprocessor and TFLM's micro_speech.
"""

import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "host"))

import wasm_board  # noqa: E402
from runtime_helpers import CLIPS, SPEECH, SPEECH_DIR, need, speech_features, tflm, tflm_run  # noqa: E402

pytestmark = pytest.mark.sim

LABELS = ("silence", "unknown", "yes", "no")
EXPECTED = {"yes": "yes", "no": "no", "silence": "silence", "noise": "silence"}


@pytest.fixture(autouse=True)
def _need_wasm():
    why = wasm_board.available()
    if why:
        pytest.skip(f"the WebAssembly MicroPython is unavailable: {why}")


def audio_files(root: str = "/lib") -> dict[str, bytes]:
    fw = wasm_board.REPO / "firmware" / "edgeloop_fw"
    files = {f"{root}/edgeloop_fw/__init__.py": b""}
    for p in sorted((fw / "audio").glob("*.py")):
        files[f"{root}/edgeloop_fw/audio/{p.name}"] = p.read_bytes()
    return files


def recording(clip: str) -> bytes:
    import wave
    with wave.open(str(need(SPEECH_DIR / f"{clip}_1000ms.wav"))) as w:
        return w.readframes(w.getnframes())


BOARD_FEATURES = """
import sys, gc, array
sys.path.append('/lib')
from edgeloop_fw.audio import AudioFrontend
gc.collect()
before = gc.mem_alloc()
fe = AudioFrontend()
gc.collect()
print('HEAP', gc.mem_alloc() - before)
out = array.array('b', bytes(49 * 40))
for clip in CLIPS:
    samples = array.array('h', open('/' + clip + '.raw', 'rb').read())
    fe.clip_features(samples, out)
    print(clip, bytes(out).hex())
"""


@pytest.mark.slow
def test_board_features_equal_tflm_for_the_four_recordings():
    files = audio_files()
    files.update({f"/{c}.raw": recording(c) for c in CLIPS})
    out = wasm_board.run("CLIPS = %r\n" % (CLIPS,) + BOARD_FEATURES, files)
    lines = dict(line.split() for line in out.strip().splitlines() if line.split()[0] in CLIPS + ("HEAP",))
    for clip in CLIPS:
        assert lines[clip] == speech_features(clip).tobytes().hex(), clip
    # the front end's own state and tables must leave room on an RP2040 (~200 KB heap)
    assert int(lines["HEAP"]) < 32 * 1024


@pytest.mark.slow
def test_board_features_through_board_runtime_give_tflms_output_bytes():
    from edgeloop.convert.int8 import convert_tflite

    files = audio_files()
    files.update(wasm_board.runtime_files())
    files["/model.elm"] = convert_tflite(need(SPEECH)).data
    files.update({f"/{c}.raw": recording(c) for c in CLIPS})
    code = """
import sys, array
sys.path.append('/lib')
from edgeloop_fw.audio import AudioFrontend
from edgeloop_fw.runtime.loader import Model
from edgeloop_fw.runtime.interpreter import Interpreter
fe = AudioFrontend()
it = Interpreter(Model(open('/model.elm', 'rb')))
feats = array.array('b', bytes(49 * 40))
for clip in %r:
    fe.clip_features(array.array('h', open('/' + clip + '.raw', 'rb').read()), feats)
    it.set_input(feats)
    it.invoke()
    print(clip, it.get_output().hex())
""" % (CLIPS,)
    out = wasm_board.run(code, files)
    lines = dict(line.split() for line in out.strip().splitlines() if line.split()[0] in CLIPS)
    ref = tflm(SPEECH)
    for clip in CLIPS:
        want = tflm_run(ref, speech_features(clip))
        assert lines[clip] == want.tobytes().hex(), clip
        got = np.frombuffer(bytes.fromhex(lines[clip]), np.int8)
        assert LABELS[int(np.argmax(got))] == EXPECTED[clip]


# -- through the virtual board (pty + raw REPL), once the SIM fixture exists ---------

FIND_ROOT = """
import os, sys
for root in ('', '/flash', '/home'):
    try:
        os.stat(root + '/yes.raw')
        break
    except OSError:
        pass
sys.path.append(root + '/lib')
"""


@pytest.mark.slow
def test_virtual_board_features_equal_tflm(request):
    """The yes recording on the rp2040-profile virtual board, through edgeloop.device."""
    try:
        vb = request.getfixturevalue("virtual_board")
    except pytest.FixtureLookupError:
        pytest.skip("the virtual_board fixture (SIM helper, tests/conftest.py) is not available yet")
    from edgeloop.device import Device

    flash = Path(vb.flash_dir)
    for name, data in audio_files("lib").items():
        (flash / name).parent.mkdir(parents=True, exist_ok=True)
        (flash / name).write_bytes(data)
    (flash / "yes.raw").write_bytes(recording("yes"))
    vb.restart()
    code = FIND_ROOT + """
import array
from edgeloop_fw.audio import AudioFrontend
fe = AudioFrontend()
out = fe.clip_features(array.array('h', open(root + '/yes.raw', 'rb').read()))
print('FEATURES', bytes(out).hex())
"""
    with Device(vb.port) as dev:
        out = dev.exec(code, timeout=600).decode()
    got = out.split("FEATURES ")[1].split()[0]
    assert got == speech_features("yes").tobytes().hex()
