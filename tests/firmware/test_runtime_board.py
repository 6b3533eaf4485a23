"""The runtime inside real MicroPython (the WebAssembly build), byte for byte against TFLM.

Same model files, same kernels as under CPython; the board reads the model
from its own filesystem. Marked sim: skips when node or the npm package is
missing.
"""

import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "host"))

import wasm_board  # noqa: E402
from runtime_helpers import CLIPS, HELLO, SPEECH, need, speech_features, tflm, tflm_run  # noqa: E402

from edgeloop.convert.int8 import convert_tflite  # noqa: E402

pytestmark = pytest.mark.sim

PRELUDE = """
import sys
sys.path.append('/lib')
from edgeloop_fw.runtime.loader import Model, ModelFileError, install
from edgeloop_fw.runtime.interpreter import Interpreter
"""


@pytest.fixture(autouse=True)
def _need_wasm():
    why = wasm_board.available()
    if why:
        pytest.skip(f"the WebAssembly MicroPython is unavailable: {why}")


def board(code: str, **files: bytes) -> str:
    all_files = wasm_board.runtime_files()
    all_files.update({"/" + k.replace("__", "."): v for k, v in files.items()})
    return wasm_board.run(PRELUDE + code, all_files)


def test_hello_world_on_micropython_matches_tflm_for_all_256_inputs():
    blob = convert_tflite(need(HELLO)).data
    out = board("""
it = Interpreter(Model(open('/model.elm', 'rb')))
out = bytearray()
for v in range(-128, 128):
    it.set_input(bytes([v & 0xFF]))
    it.invoke()
    out += it.get_output()
print('OUT', out.hex())
""", model__elm=blob)
    got = np.frombuffer(bytes.fromhex(out.split("OUT ")[1].split()[0]), np.int8)
    ref = tflm(HELLO)
    want = np.array([tflm_run(ref, np.array([[v]], np.int8)).item() for v in range(-128, 128)], np.int8)
    assert got.tobytes() == want.tobytes()


@pytest.mark.slow
def test_micro_speech_on_micropython_matches_tflm_on_the_recordings():
    blob = convert_tflite(need(SPEECH)).data
    feats = {clip: speech_features(clip) for clip in CLIPS}
    code = "it = Interpreter(Model(open('/model.elm', 'rb')))\n"
    for clip in CLIPS:
        code += f"it.set_input(open('/{clip}.bin', 'rb').read()); it.invoke(); print('{clip}', it.get_output().hex())\n"
    out = board(code, model__elm=blob, **{f"{c}__bin": f.tobytes() for c, f in feats.items()})
    lines = dict(line.split() for line in out.strip().splitlines() if line.split()[0] in CLIPS)
    ref = tflm(SPEECH)
    for clip in CLIPS:
        assert lines[clip] == tflm_run(ref, feats[clip]).tobytes().hex(), clip


@pytest.mark.parametrize("damage", ["truncated", "bit flip", "wrong version"])
def test_board_refuses_a_bad_model_and_keeps_the_previous_one(damage):
    good = convert_tflite(need(HELLO)).data
    bad = bytearray(good)
    if damage == "truncated":
        bad = bad[:-100]
    elif damage == "bit flip":
        bad[-10] ^= 0x04
    else:
        bad[4] = 99
    out = board("""
try:
    install('/model.elm.new', '/model.elm')
    print('INSTALLED')
except ModelFileError as e:
    print('REFUSED', e)
import os
print('STAGED_LEFT', 'model.elm.new' in os.listdir('/'))
it = Interpreter(Model(open('/model.elm', 'rb')))
it.set_input(bytes([0])); it.invoke(); print('OUT', it.get_output().hex())
""", model__elm=good, model__elm__new=bytes(bad))
    assert "INSTALLED" not in out
    reason = {"truncated": "truncated", "bit flip": "corrupted", "wrong version": "version 99"}[damage]
    assert "REFUSED" in out and reason in out, out
    assert "STAGED_LEFT False" in out
    ref = tflm(HELLO)
    assert out.split("OUT ")[1].split()[0] == tflm_run(ref, np.array([[0]], np.int8)).tobytes().hex()
