"""The viper kernels' Xtensa branch (the calls into viper/xtensa.py), run on the unix
MicroPython with a stand-in for the assembler, byte for byte against TFLM.

No MicroPython runs on an emulated Xtensa. The proof is split at the contract written
in viper/xtensa.py's docstring: test_xtensa_asm.py runs the real machine code under
qemu-xtensa against that contract and TFLM; here the viper side (which outputs go to
one call, the parameter block, the sums read back, the edges left to viper's own loop)
runs against a plain-Python implementation of the same contract, installed where the
.mpy would be. If the viper side planned a call wrongly, the bytes would differ from
TFLM's; the stand-in counts its calls, so a branch never taken fails too.
"""

from __future__ import annotations

import numpy as np
import pytest

from tests.tools import viper_board
from tests.tools.runtime_helpers import CLIPS, HELLO, SPEECH, need, speech_features, tflm, tflm_run

pytestmark = pytest.mark.slow

STANDIN = '''
# The contract of viper/xtensa.py in Python (a test stand-in for the Xtensa machine code).
CALLS = {}


def _run(name, x, w, prm, acc, xstep, runs_on):
    CALLS[name] = CALLS.get(name, 0) + 1
    n = prm[0]
    runs = prm[1]
    xskip = prm[2]
    wskip = prm[3]
    off = prm[4]
    nout = prm[8]
    xout = prm[9]
    assert nout >= 1 and runs >= 1
    wi = prm[6]
    for j in range(nout):
        xi = prm[5] + j * xout
        if not runs_on:
            wi = prm[6]
        s = acc[j]
        for _r in range(runs):
            for i in range(n):
                s += w[wi + i] * (x[xi + i * xstep] + off)
            xi += n * xstep + xskip
            wi += n + wskip
        acc[j] = s
    return 0


def dot(x, w, prm, acc):
    return _run("dot", x, w, prm, acc, 1, False)


def dot0(x, w, prm, acc):
    assert prm[4] == 0
    return _run("dot0", x, w, prm, acc, 1, True)


def dots(x, w, prm, acc):
    return _run("dots", x, w, prm, acc, prm[7], False)


def dw3(x, w, prm, acc):
    CALLS["dw3"] = CALLS.get("dw3", 0) + 1
    xskip = prm[2]
    off = prm[4]
    s = prm[7]
    nout = prm[8]
    xout = prm[9]
    nrow = prm[10]
    assert nout >= 1 and nrow >= 1 and prm[12] % 4 == 0 and prm[13] % 4 == 0
    k = prm[12] // 4
    for r in range(nrow):
        for j in range(nout):
            xi = prm[5] + r * (nout * xout + prm[11]) + j * xout
            v = 0
            for i in range(3):
                for t in range(3):
                    b = w[prm[6] + 3 * i + t] & 0xFF  # signed as the machine code's SEXT reads it,
                    xv = x[xi + i * (3 * s + xskip) + t * s] & 0xFF  # whatever the buffer's type
                    v += ((b ^ 0x80) - 0x80) * (((xv ^ 0x80) - 0x80) + off)
            acc[k] = v
            k += 1
        k += prm[13] // 4
    prm[10] = 0
    return 0
'''

RUN = """
from edgeloop_fw.runtime.viper import xtensa
m = Model(open('model.elm', 'rb'))
it = Interpreter(m)
print('LEVELS', ' '.join(k + '=' + v for k, v in sorted(it.kernel_levels.items())))
xs = open('x.bin', 'rb').read()
n = m.inputs[0].nbytes
fo = open('out.bin', 'wb')
for k in range(len(xs) // n):
    it.set_input(xs[k * n:(k + 1) * n])
    it.invoke()
    fo.write(it.get_output())
fo.close()
print('CALLS', ' '.join(k + '=' + str(v) for k, v in sorted(xtensa.CALLS.items())))
"""


@pytest.fixture(scope="module")
def board(tmp_path_factory):
    why = viper_board.unavailable()
    if why:
        pytest.skip(why)
    root = tmp_path_factory.mktemp("viper_xtensa_board")
    viper_board.install(root, tmp_path_factory.mktemp("mpy_cache"))
    (root / "lib" / "edgeloop_fw" / "runtime" / "viper" / "xtensa.py").write_text(STANDIN)
    return root


def run(root, blob: bytes, xs):
    (root / "model.elm").write_bytes(blob)
    (root / "x.bin").write_bytes(b"".join(np.ascontiguousarray(x, np.int8).tobytes() for x in xs))
    out = viper_board.run(root, RUN)
    levels = dict(kv.split("=") for kv in out.split("LEVELS", 1)[1].split("\n", 1)[0].split())
    calls = dict(kv.split("=") for kv in out.split("CALLS", 1)[1].split("\n", 1)[0].split())
    got = np.frombuffer((root / "out.bin").read_bytes(), np.int8).reshape(len(xs), -1)
    return levels, {k: int(v) for k, v in calls.items()}, got


@pytest.mark.parametrize("chunk", [512, 7])
def test_hello_world_through_the_xtensa_branch(board, chunk):
    """FULLY_CONNECTED: with 512 several rows go through one call; with chunk 7 the 16-wide
    rows do not fit the scratch and go piece by piece (7 + 7 + 2), one call each."""
    from edgeloop.convert.int8 import convert_tflite

    blob = convert_tflite(need(HELLO), chunk_bytes=chunk).data
    xs = [np.array([[v]], np.int8) for v in range(-128, 128)]
    ref = tflm(HELLO)
    want = np.array([tflm_run(ref, x) for x in xs], np.int8).reshape(len(xs), -1)
    levels, calls, got = run(board, blob, xs)
    assert levels["fully_connected"] == "viper"
    assert np.array_equal(got, want)
    assert calls.get("dot0", 0) > 0


def test_micro_speech_through_the_xtensa_branch(board):
    from edgeloop.convert.int8 import convert_tflite

    xs = [speech_features(c) for c in CLIPS]
    ref = tflm(need(SPEECH))
    want = np.array([tflm_run(ref, x) for x in xs], np.int8).reshape(len(xs), -1)
    levels, calls, got = run(board, convert_tflite(SPEECH).data, xs)
    assert levels["depthwise_conv_2d"] == "viper"
    assert np.array_equal(got, want)
    assert calls.get("dots", 0) > 0 and calls.get("dot0", 0) > 0


@pytest.mark.tf
@pytest.mark.parametrize("name", ["conv1d", "conv2d", "depthwise", "residual", "mixed_scales"])
def test_zoo_model_through_the_xtensa_branch(board, tmp_path, name):
    pytest.importorskip("tensorflow", reason="TensorFlow is not installed (pip install 'edgeloop[tf]')")
    import io

    from edgeloop.convert.int8 import convert_tflite_bytes
    from edgeloop_fw.runtime.loader import Model
    from tests.tools import keras_zoo

    tflite = keras_zoo.to_tflite(name, tmp_path)
    blob = convert_tflite_bytes(tflite, name).data
    inp = Model(io.BytesIO(blob)).inputs[0]
    xs = keras_zoo.int8_inputs(name, inp.scale, inp.zero_point)
    runtime = pytest.importorskip("tflite_micro.python.tflite_micro.runtime")
    ref = runtime.Interpreter.from_bytes(tflite)
    want = np.array([tflm_run(ref, x) for x in xs], np.int8).reshape(len(xs), -1)
    _levels, calls, got = run(board, blob, xs)
    assert np.array_equal(got, want)
    assert sum(calls.values()) > 0


@pytest.mark.tf
@pytest.mark.parametrize("case", ["dw1_dscnn", "dw3_narrow", "dw3_s2_m3", "dw1_same_s2_zpmin_spread", "speech_dw"])
def test_depthwise_layers_through_dw3(board, case):
    """DEPTHWISE_CONV_2D: the 3x3 layers' blocks go to dw3 (DS-CNN's shape; a narrow dilated
    input whose other outputs stay in viper's loop; strides 2x3 with multiplier 3; zero
    point -128 with spread scales), speech's 10x8 window to dots; TFLM's bytes."""
    pytest.importorskip("tensorflow", reason="TensorFlow is not installed (pip install 'edgeloop[tf]')")
    from edgeloop.convert.int8 import convert_tflite_bytes
    from tests.tools import cortexm_layers

    tflite, x, want = cortexm_layers.build(case)
    blob = convert_tflite_bytes(tflite, case).data
    _levels, calls, got = run(board, blob, [np.frombuffer(x, np.int8)])
    assert got.tobytes() == want
    assert (calls.get("dw3", 0) > 0) == (case != "speech_dw") and (calls.get("dots", 0) > 0) == (case == "speech_dw")
