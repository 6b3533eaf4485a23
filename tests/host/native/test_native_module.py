"""The native module (elnative.mpy): format, loading in a real MicroPython, binding, fallbacks.

- Format: every module edgeloop links (x64, armv6m, armv7emdp; and MicroPython's
  own mpy_ld.py output when MPY_DIR is set) parses with an independent reader
  written from docs/native-modules.md and serialises back to the same bytes.
- Loading: in the dev extra's unix MicroPython, or the one EDGELOOP_MICROPYTHON names (skips with that
  reason otherwise) the runtime picks the native level and gives TFLM's bytes,
  the same as the viper and portable levels in the same process.
- Bad input: every board that cannot take the module gets one line naming the
  level it will run instead, and nothing else changes.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import numpy as np
import pytest

from tests.tools import lstm_models
from tests.tools import native_mpy_reader as reader
from tests.tools import viper_board
from tests.tools.runtime_helpers import CLIPS, HELLO, SPEECH, need, speech_features, tflm, tflm_run

ARCHS = [a for a, cc in (("x64", "gcc"), ("armv6m", "arm-none-eabi-gcc"), ("armv7emdp", "arm-none-eabi-gcc"))]
# every op with a C kernel must run at the native level (reshape moves no bytes and stays viper/portable)
HEAVY = {"fully_connected", "conv_2d", "depthwise_conv_2d", "pool_2d", "add", "mean", "lut8", "concatenation",
         "softmax", "transpose_conv", "batch_matmul", "lstm"}
QSTRS = ["ValueError", "fully_connected", "conv_2d", "depthwise_conv_2d", "API", "scratch_size", "dw_scratch_size",
         "pool_2d", "add", "mean", "lut8", "concatenation", "softmax", "audio_frame", "audio_work_size",
         "transpose_conv", "tconv_scratch_size", "batch_matmul", "bmm_scratch_size", "mat_vec"]


def _need_cc(arch):
    from edgeloop.native.build import LINKER, TARGETS

    for tool in (TARGETS[arch].cc, LINKER[arch]):
        if not shutil.which(tool):
            pytest.skip(f"{tool} is not installed (needed to build the {arch} module)")


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    return tmp_path_factory.mktemp("native_cache")


def module(arch, cache, linker="edgeloop"):
    from edgeloop.native.install import native_module

    _need_cc(arch)
    return native_module(arch, cache_dir=cache, linker=linker)


# --- format ---------------------------------------------------------------------------------

@pytest.mark.parametrize("arch", ARCHS)
def test_module_parses_with_the_independent_reader_and_round_trips(arch, cache):
    data = module(arch, cache)
    m = reader.parse(data)
    assert reader.serialise(m) == data
    assert (m.version, m.sub, m.arch) == (6, 3, arch)
    assert m.small_int_bits <= 31
    assert m.qstrs[1:] == QSTRS
    assert m.scope_flags == 0x10
    adj = m.adjustments()
    words = [w for w, _ in adj]
    assert len(set(words)) == len(words), "a word is relocated twice"
    assert all(0 <= w < len(m.text) // m.word for w in words)
    dests = {d for _, d in adj}
    assert 8 in dests  # the GOT entry of mp_fun_table
    assert 6 in dests  # the module's qstr table
    assert 9 + 81 in dests  # the function objects' type (mp_fun_table.type_fun_builtin_var)
    # eleven ops' functions + the audio front end's audio_frame and audio_work_size
    # + transpose_conv, tconv_scratch_size, batch_matmul and bmm_scratch_size + mat_vec (the LSTM's sums)
    assert sum(d == 9 + 81 for d in dests) == 1 and sum(1 for _, d in adj if d == 9 + 81) == 18
    # every text-relative word points inside the text once loaded at 0
    for w, d in adj:
        if d == 0:
            v = int.from_bytes(m.text[w * m.word:(w + 1) * m.word], "little")
            assert 0 <= v < len(m.text), (w, v)


@pytest.mark.parametrize("arch", ["armv6m", "armv7emdp"])
def test_arm_module_carries_the_inner_loop_that_ran_on_qemu(arch, cache, tmp_path):
    """The hand-written dot-product loop is position independent: its bytes in the
    module equal those of the object linked into the bare-metal QEMU tests."""
    from edgeloop.native import build
    from edgeloop.native.elf import read

    _need_cc(arch)
    target = build.TARGETS[arch]
    obj = [o for o in build.compile_objects(target, tmp_path) if "el_dot4" in o.name][0]
    loop = read(obj.read_bytes()).section(".text").data
    assert len(loop) > 40
    assert loop in reader.parse(module(arch, cache)).text


def test_mpy_ld_output_parses_too(cache):
    mpy_dir = os.environ.get("MPY_DIR")
    if not mpy_dir:
        pytest.skip("MPY_DIR is not set: name a MicroPython source tree to link with its tools/mpy_ld.py")
    pytest.importorskip("elftools", reason="MicroPython's mpy_ld.py needs pyelftools")
    for arch in ARCHS:
        _need_cc(arch)
        data = module(arch, cache, linker="mpy_ld")
        m = reader.parse(data)
        assert (m.arch, m.sub) == (arch, 3)
        assert [q for q in m.qstrs[1:]] != [] and reader.serialise(m) == data


def test_link_refuses_writable_state_and_unknown_symbols(tmp_path):
    from edgeloop.native.mpy_writer import LinkError, link

    if not shutil.which("gcc"):
        pytest.skip("gcc is not installed")
    import subprocess

    def obj(src):
        c = tmp_path / "m.c"
        c.write_text(src)
        subprocess.run(["gcc", "-c", "-O2", "-fpic", "-ffunction-sections", "-fno-asynchronous-unwind-tables",
                        str(c), "-o", str(tmp_path / "m.o")], check=True)
        return (tmp_path / "m.o").read_bytes()

    with pytest.raises(LinkError, match="writable state"):
        link(obj("int counter; int mpy_init(void) { return ++counter; }"), "x64")
    with pytest.raises(LinkError, match="undefined symbol printf"):
        link(obj("int printf(const char *, ...); int mpy_init(void) { return printf(\"x\"); }"), "x64")
    with pytest.raises(LinkError, match="defines no mpy_init"):
        link(obj("int f(void) { return 1; }"), "x64")
    with pytest.raises(LinkError, match="arch"):
        link(obj("int mpy_init(void) { return 1; }"), "riscv")


# --- loading in a real MicroPython -----------------------------------------------------------

LEVELS = """
import time
m = Model(open('model.elm', 'rb'))
xs = open('x.bin', 'rb').read()
n = m.inputs[0].nbytes
for levels in (('native', 'viper', 'kernels'), ('viper', 'kernels'), ('kernels',)):
    it = Interpreter(m, levels)
    out = open(levels[0] + '.bin', 'wb')
    t = time.ticks_us()
    for k in range(len(xs) // n):
        it.set_input(xs[k * n:(k + 1) * n])
        it.invoke()
        out.write(it.get_output())
    print('LEVEL', levels[0], time.ticks_diff(time.ticks_us(), t),
          ' '.join(a + '=' + b for a, b in sorted(it.kernel_levels.items())))
    out.close()
"""


@pytest.fixture(scope="module")
def board(tmp_path_factory, cache):
    why = viper_board.unavailable()
    if why:
        pytest.skip(why)
    if viper_board.mpy_info(viper_board.binary())["arch"] != "x64":
        pytest.skip(f"{viper_board.binary()} is not an x64 MicroPython")
    root = tmp_path_factory.mktemp("native_board")
    viper_board.install(root, tmp_path_factory.mktemp("mpy_cache"))
    (root / "lib" / "edgeloop_fw" / "runtime" / "native" / "elnative.mpy").write_bytes(module("x64", cache))
    return root


def glue(root, old, new):
    """Replace the deployed native/__init__.mpy by the source with `old` changed to `new`."""
    src = viper_board.ROOT / "firmware" / "edgeloop_fw" / "runtime" / "native" / "__init__.py"
    dst = root / "lib" / "edgeloop_fw" / "runtime" / "native"
    (dst / "__init__.mpy").unlink()
    text = src.read_text()
    assert old in text
    (dst / "__init__.py").write_text(text.replace(old, new))


def run_levels(root, blob, xs):
    (root / "model.elm").write_bytes(blob)
    (root / "x.bin").write_bytes(b"".join(np.ascontiguousarray(x, np.int8).tobytes() for x in xs))
    out = viper_board.run(root, LEVELS)
    info = {}
    for line in out.splitlines():
        if line.startswith("LEVEL"):
            _, name, us, *kv = line.split()
            info[name] = (int(us), dict(p.split("=") for p in kv))
    outs = {k: np.frombuffer((root / f"{k}.bin").read_bytes(), np.int8).reshape(len(xs), -1) for k in info}
    return info, outs


def check(root, blob, xs, want):
    info, outs = run_levels(root, blob, xs)
    heavy = {k: v for k, v in info["native"][1].items() if k in HEAVY}
    assert heavy and set(heavy.values()) == {"native"}, info["native"][1]
    want = np.asarray(want, np.int8).reshape(outs["native"].shape)
    for level in ("native", "viper", "kernels"):
        bad = np.argwhere(outs[level] != want)
        assert not len(bad), f"{level} vs TFLM differ at (input, byte) {bad[:8].tolist()}"
    return info


@pytest.mark.slow
@pytest.mark.parametrize("chunk", [512, 7])
def test_hello_world_all_256_inputs_native_equals_tflm_viper_portable(board, chunk):
    from edgeloop.convert.int8 import convert_tflite

    xs = [np.array([[v]], np.int8) for v in range(-128, 128)]
    ref = tflm(need(HELLO))
    check(board, convert_tflite(HELLO, chunk_bytes=chunk).data, xs, [tflm_run(ref, x) for x in xs])


@pytest.mark.slow
def test_micro_speech_real_features_native_equals_tflm_viper_portable(board):
    from edgeloop.convert.int8 import convert_tflite

    xs = [speech_features(c) for c in CLIPS]
    rng = np.random.default_rng(5)
    xs += [rng.integers(-128, 128, (1, 1960), dtype=np.int8), np.full((1, 1960), 127, np.int8)]
    ref = tflm(need(SPEECH))
    want = [tflm_run(ref, x) for x in xs]
    check(board, convert_tflite(SPEECH).data, xs, want)
    assert [int(np.argmax(w)) for w in want[:4]] == [2, 3, 0, 0]


@pytest.mark.slow
def test_small_group_budget_streams_weights_in_many_groups(board, tmp_path):
    """BUDGET 64: FC rows, depthwise input channels and conv output channels come in
    many groups (and one row of micro_speech's FC is bigger than the budget)."""
    from edgeloop.convert.int8 import convert_tflite

    root = tmp_path / "b"
    shutil.copytree(board / "lib", root / "lib")
    glue(root, "BUDGET = 16384", "BUDGET = 64")
    xs = [speech_features(c) for c in CLIPS[:2]]
    ref = tflm(need(SPEECH))
    check(root, convert_tflite(SPEECH).data, xs, [tflm_run(ref, x) for x in xs])


@pytest.mark.tf
@pytest.mark.slow
@pytest.mark.parametrize("name", ["dense_mlp", "conv1d", "conv2d", "depthwise", "residual", "mixed_scales",
                                  "pooling", "global_pool", "activations", "add_broadcast", "sigmoid_only"])
def test_zoo_model_native_equals_tflm_viper_portable(board, tmp_path, name):
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
    check(board, blob, xs, [tflm_run(ref, x) for x in xs])


@pytest.mark.tf
@pytest.mark.slow
@pytest.mark.parametrize("seed", [0, 5])
@pytest.mark.parametrize("budget", [16384, 64])
def test_transpose_conv_chain_native_equals_tflm_viper_portable(board, tmp_path, seed, budget):
    """Three randomized TRANSPOSE_CONVs (tf_op_models.transpose_conv_chain) on el_tconv.c in
    the module; BUDGET 64 streams their filters in groups of 1-4 output channels."""
    from edgeloop.convert.int8 import convert_tflite_bytes
    from tests.tools import tf_op_models

    root = board
    if budget != 16384:
        root = tmp_path / "b"
        shutil.copytree(board / "lib", root / "lib")
        glue(root, "BUDGET = 16384", "BUDGET = %d" % budget)
    tflite = tf_op_models.transpose_conv_chain_tflite(seed)
    shape = tuple(tf_op_models.random_inputs(tflite, 0)[0].shape)
    rng = np.random.default_rng(seed)
    xs = [rng.integers(-128, 128, shape, dtype=np.int8) for _ in range(3)] + [np.full(shape, -128, np.int8)]
    want = [np.frombuffer(tf_op_models.tflm_outputs(tflite, [x])[0], np.int8) for x in xs]
    info = check(root, convert_tflite_bytes(tflite).data, xs, want)
    assert info["native"][1]["transpose_conv"] == "native"
    assert len({w.tobytes() for w in want}) == len(xs)


@pytest.mark.tf
@pytest.mark.slow
@pytest.mark.parametrize("seed", [0, 1, 3])
def test_batch_matmul_chain_native_equals_tflm_viper_portable(board, seed):
    """Three BATCH_MATMULs (tf_op_models.batch_matmul_chain: adj_x, adj_y, broadcast batches)
    on el_bmm.c in the module, the viper kernel and the portable one."""
    from edgeloop.convert.int8 import convert_tflite_bytes
    from tests.tools import tf_op_models

    tflite = tf_op_models.batch_matmul_chain_tflite(seed)
    shape = tuple(tf_op_models.random_inputs(tflite, 0)[0].shape)
    rng = np.random.default_rng(seed)
    xs = [rng.integers(-128, 128, shape, dtype=np.int8) for _ in range(3)] + [np.full(shape, 127, np.int8)]
    want = [np.frombuffer(tf_op_models.tflm_outputs(tflite, [x])[0], np.int8) for x in xs]
    info = check(board, convert_tflite_bytes(tflite).data, xs, want)
    assert info["native"][1]["batch_matmul"] == "native"
    assert len({w.tobytes() for w in want}) == len(xs)


LSTM_MAPPED = """
m = Model(open('model.elm', 'rb'))
m.mapped = memoryview(open('model.elm', 'rb').read())  # as a ROMFS file: weights read in place
xs = open('x.bin', 'rb').read()
n = m.inputs[0].nbytes
it = Interpreter(m)
print('LEVEL', it.kernel_levels['lstm'])
out = open('mapped.bin', 'wb')
for k in range(len(xs) // n):
    it.set_input(xs[k * n:(k + 1) * n])
    it.invoke()
    out.write(it.get_output())
out.close()
"""


@pytest.mark.tf
@pytest.mark.slow
@pytest.mark.parametrize("shape", lstm_models.SHAPES, ids=lambda s: "%dx%dx%d" % s[:3])
def test_lstm_native_equals_tflm_viper_portable(board, shape):
    """The LSTM's gate sums through elnative.mat_vec (the model file copied into the shared
    buffer, and read in place as if mapped) and through the viper loop, against TFLM:
    odd sizes, one unit, more units than features, the gesture shape; calibration-like,
    random and extreme inputs."""
    from edgeloop.convert.int8 import convert_tflite_bytes

    tflite, ref, xs = lstm_models.reference(*shape)
    want = np.stack([tflm_run(ref, xi).reshape(-1) for xi in xs])
    blob = convert_tflite_bytes(tflite, "lstm").data
    info = check(board, blob, xs, want)
    assert info["native"][1]["lstm"] == "native" and info["viper"][1]["lstm"] == "viper", info
    out = viper_board.run(board, LSTM_MAPPED)
    assert "LEVEL native" in out, out
    mapped = np.frombuffer((board / "mapped.bin").read_bytes(), np.int8).reshape(want.shape)
    assert np.array_equal(mapped, want), "native LSTM on the mapped file differs from TFLM"
    assert len({w.tobytes() for w in want}) > 4


@pytest.mark.tf
@pytest.mark.slow
def test_lstm_past_the_budget_keeps_the_portable_macs(board, tmp_path):
    """BUDGET 64: the LSTM's weights (4 * 7 * 12 bytes) do not fit the shared buffer of an
    unmapped file, so the native level runs the portable MACs, still TFLM's bytes."""
    from edgeloop.convert.int8 import convert_tflite_bytes

    root = tmp_path / "b"
    shutil.copytree(board / "lib", root / "lib")
    glue(root, "BUDGET = 16384", "BUDGET = 64")
    tflite, ref, xs = lstm_models.reference(9, 5, 7, 1, True)
    xs = xs[2:6]
    want = np.stack([tflm_run(ref, xi).reshape(-1) for xi in xs])
    info = check(root, convert_tflite_bytes(tflite, "lstm").data, xs, want)
    assert info["native"][1]["lstm"] == "native"


@pytest.mark.slow
def test_mpy_ld_module_loads_and_gives_the_same_bytes(board, tmp_path, cache):
    if not os.environ.get("MPY_DIR"):
        pytest.skip("MPY_DIR is not set: name a MicroPython source tree to link with its tools/mpy_ld.py")
    pytest.importorskip("elftools", reason="MicroPython's mpy_ld.py needs pyelftools")
    from edgeloop.convert.int8 import convert_tflite

    root = tmp_path / "b"
    shutil.copytree(board / "lib", root / "lib")
    (root / "lib" / "edgeloop_fw" / "runtime" / "native" / "elnative.mpy").write_bytes(
        module("x64", cache, linker="mpy_ld"))
    xs = [np.array([[v]], np.int8) for v in range(-128, 128, 3)]
    ref = tflm(need(HELLO))
    check(root, convert_tflite(HELLO).data, xs, [tflm_run(ref, x) for x in xs])


@pytest.mark.slow
@pytest.mark.parametrize("case", ["other_arch", "absent", "api"])
def test_unloadable_module_falls_back_to_viper(board, tmp_path, cache, case):
    from edgeloop.convert.int8 import convert_tflite

    root = tmp_path / "b"
    shutil.copytree(board / "lib", root / "lib")
    mod = root / "lib" / "edgeloop_fw" / "runtime" / "native" / "elnative.mpy"
    if case == "other_arch":
        mod.write_bytes(module("armv6m", cache))
    elif case == "absent":
        mod.unlink()
    else:  # glue and module disagree on the calling convention
        glue(root, "API = 9", "API = 10")
    xs = [np.array([[v]], np.int8) for v in (-128, 0, 77)]
    info, outs = run_levels(root, convert_tflite(need(HELLO)).data, xs)
    assert info["native"][1] == {"fully_connected": "viper"}
    ref = tflm(HELLO)
    assert np.array_equal(outs["native"], np.array([tflm_run(ref, x) for x in xs]).reshape(outs["native"].shape))


def test_bad_calls_raise_instead_of_writing_outside_the_arena(board):
    out = viper_board.run(board, """
from array import array
from edgeloop_fw.runtime.native import elnative
p = array('i', [1, 3, 2, 0, 3, 0, 0, 3, 0, -128, 127, 10, 1 << 30, 0, -5, 1 << 30, 1])
arena = bytearray(5)
for args in ((p, arena, bytes(6), 1, 2), (p, bytearray(4), bytes(6), 0, 2), (p, arena, bytes(5), 0, 2),
             (p[:14], arena, bytes(6), 0, 2), (p, arena, bytes(9), 0, 2, 4), (p, arena, bytes(9), 0, 2, -1),
             (p, arena, bytes(9), 0, 2, 10), (p, arena, bytes(9), 0), (p, arena, bytes(5))):
    try:
        elnative.fully_connected(*args)
        print('NO ERROR')
    except ValueError as e:
        print('VE')
arena[0:3] = bytes([1, 2, 3])
elnative.fully_connected(p, arena, bytes([1, 1, 1, 2, 0, 255]), 0, 2)
print(list(arena))
arena[3:5] = bytes(2)
elnative.fully_connected(p, arena, bytes([9, 9, 9, 1, 1, 1, 2, 0, 255]), 0, 2, 3)  # weights 3 bytes in
print(list(arena))
arena[3:5] = bytes(2)
p[5] = 2  # WEIGHTS: the whole layer from a file whose rows start at byte 2
elnative.fully_connected(p, arena, bytes([9, 9, 1, 1, 1, 2, 0, 255]))
print(list(arena))
""")
    # an offset past the buffer, negative, or leaving too few bytes is refused like a short buffer
    assert out.split() == ["VE"] * 9 + ["[1,", "2,", "3,", "8,", "250]"] * 3


def test_mat_vec_gives_raw_sums_and_refuses_calls_outside_its_buffers(board):
    """mat_vec (the LSTM's gate sums): 7 rows of stride 11 (one block of 4 through el_dot4_s8,
    3 single rows), 9 bytes of v from offset 2, into out from offset 1, against numpy; then
    every argument that would reach outside w, v or out raises ValueError."""
    rng = np.random.default_rng(3)
    w = rng.integers(-128, 128, 5 + 6 * 11 + 9, dtype=np.int8)
    v = rng.integers(-128, 128, 12, dtype=np.int8)
    w[5:14] = -128
    v[2:11] = -128  # the largest products
    out = viper_board.run(board, """
from array import array
from edgeloop_fw.runtime.native import elnative
w = bytes(%r)
v = bytes(%r)
out = array('i', [7] * 9)
elnative.mat_vec(w, 5, 11, 7, v, 2, 9, out, 1)
print(' '.join(str(x) for x in out))
good = [w, 5, 11, 7, v, 2, 9, out, 1]
for i, bad in ((1, 6), (1, -1), (2, 12), (2, -1), (3, 9), (3, -1), (5, 4), (5, -1), (6, 11), (6, -1),
               (7, array('i', [0] * 7)), (8, 3), (8, -1), (0, w[:-1]), (4, v[:10])):
    args = list(good)
    args[i] = bad
    try:
        elnative.mat_vec(*args)
        print('NO ERROR', i, bad)
    except ValueError:
        print('VE')
""" % (w.tobytes(), v.tobytes()))
    rows = np.array([w[5 + 11 * r:5 + 11 * r + 9].astype(np.int64) @ v[2:11].astype(np.int64) for r in range(7)])
    lines = out.split("\n")
    assert [int(t) for t in lines[0].split()] == [7, *rows.tolist(), 7]
    assert lines[1:-1] == ["VE"] * 15, out


def test_bad_softmax_calls_raise_instead_of_reading_outside_the_arena(board):
    """The exp table, the rows and the output are all checked against the arena; a good call's
    row [0, 0, 0, 0] with exp(0) in the table gives a quarter each: 64 - 128 = -64, byte 192."""
    out = viper_board.run(board, """
from array import array
from edgeloop_fw.runtime.native import elnative
arena = bytearray(16)
arena[8:12] = bytes([255, 255, 255, 127])
good = [1, 4, 0, 4, 0, 2, 8]
for i, v in ((5, 257), (5, 0), (6, 12), (2, 13), (3, -1), (1, 0), (0, 1 << 20)):
    p = array('i', good)
    p[i] = v
    try:
        elnative.softmax(p, arena)
        print('NO ERROR')
    except ValueError as e:
        print('VE')
try:
    elnative.softmax(array('i', good[:6]), arena)
except ValueError:
    print('SHORT')
elnative.softmax(array('i', good), arena)
print(list(arena[4:8]))
""")
    assert out.split() == ["VE"] * 7 + ["SHORT", "[192,", "192,", "192,", "192]"]


def test_bad_batch_matmul_and_transpose_conv_calls_raise(board):
    """Every operand's reach (dims times byte strides), the output, the scratch and the params'
    length are checked before a byte moves. A good call: [[1, 2, 3], [0, 1, 0]] times the
    columns [1, 0, 1] and [0, 1, 1] (right operand k-major), multiplier 2**30 with shift 1 (x1):
    [4, 5, 0, 1]."""
    out = viper_board.run(board, """
from array import array
from edgeloop_fw.runtime.native import elnative
good = [1, 1, 2, 2, 3, 0, 0, 0, 3, 1, 6, 0, 0, 2, 1, 12, 0, 0, 0, 1 << 30, 1, 0, 0, 0]
arena = bytearray(bytes(array('b', [1, 2, 3, 0, 1, 0, 1, 0, 0, 1, 1, 1]))) + bytearray(4)
s = bytearray(64)
for i, v in ((2, 5), (15, 13), (9, -1), (3, 0), (4, 1 << 25), (10, 11), (5, -1), (13, 5)):
    p = array('i', good)
    p[i] = v
    try:
        elnative.batch_matmul(p, arena, s)
        print('NO ERROR')
    except ValueError as e:
        print('VE')
for p, sc in ((array('i', good[:20]), s), (array('i', good), bytearray(4))):
    try:
        elnative.batch_matmul(p, arena, sc)
        print('NO ERROR')
    except ValueError:
        print('SHORT')
p = array('i', good)
print(elnative.bmm_scratch_size(p) <= len(s))
elnative.batch_matmul(p, arena, s)
print(list(arena[12:]))
tc = array('i', [1, 1, 1, 1, 2, 2, 1, 2, 2, 1, 1, 0, 0, 0, 1, 0, 0, 0, 0, -128, 127, 0, 1 << 30, 1])
for i, v in ((9, 0), (11, -1), (6, 2), (4, 9)):
    p = array('i', tc)
    p[i] = v
    try:
        elnative.transpose_conv(p, bytearray(5), bytes(4), bytearray(256), 0, 1)
        print('NO ERROR')
    except ValueError as e:
        print('VE')
a = bytearray([3, 0, 0, 0, 0])
elnative.transpose_conv(array('i', tc), a, bytes([1, 2, 3, 4]), bytearray(elnative.tconv_scratch_size(tc, 1)), 0, 1)
print(list(a))
""")
    assert out.split() == ["VE"] * 8 + ["SHORT", "SHORT", "True", "[4,", "5,", "0,", "1]"] + ["VE"] * 4 + \
        ["[3,", "3,", "6,", "9,", "12]"]


# --- bad input on the host --------------------------------------------------------------------

MPY63 = 6 | 3 << 8


@pytest.mark.parametrize("info, level, words", [
    ({"name": "circuitpython", "mpy": MPY63 | 4 << 10}, "viper", "CircuitPython cannot load"),
    ({"name": "micropython", "mpy": 774}, "portable", "cannot load native code"),
    ({"name": "micropython", "mpy": None}, "portable", "cannot load native code"),
    ({"name": "micropython", "mpy": MPY63 | 11 << 10}, "viper", "no native kernels for arch rv32imc"),
    ({"name": "micropython", "mpy": 6 | 2 << 8 | 4 << 10}, "viper", "ABI 6.2"),
])
def test_boards_that_cannot_take_the_module_get_one_line_and_a_fallback(info, level, words):
    from edgeloop.native.install import module_for

    n = module_for(info)
    assert n.data is None
    assert words in n.note and f"the {level} kernels will be used" in n.note and "\n" not in n.note


def test_missing_toolchain_names_what_to_install_and_the_fallback(monkeypatch, tmp_path):
    from edgeloop.native import build
    from edgeloop.native.install import module_for

    real = shutil.which
    monkeypatch.setattr(build.shutil, "which", lambda c: None if "arm-none-eabi" in c else real(c))
    n = module_for({"name": "micropython", "mpy": MPY63 | 4 << 10}, cache_dir=tmp_path, linker="edgeloop")
    assert n.data is None and "gcc-arm-none-eabi" in n.note and "the viper kernels will be used" in n.note
    x = module_for({"name": "micropython", "mpy": MPY63 | 10 << 10}, cache_dir=tmp_path, linker="edgeloop")
    if not real("xtensa-esp32s3-elf-gcc"):
        assert x.data is None and "xtensa-esp32s3-elf-gcc" in x.note and "viper" in x.note
        assert "Xtensa assembler" in x.note and "Xtensa" not in n.note  # the ESP32-S3's loops (docs/xtensa.md)


def test_cli_convert_backend_native(tmp_path):
    from click.testing import CliRunner

    from edgeloop.cli import cli

    src = need(HELLO)
    r = CliRunner().invoke(cli, ["convert", str(src), "--out", str(tmp_path / "a.elm"), "--backend", "native"])
    assert r.exit_code != 0 and "Traceback" not in r.output
    assert len(r.output.strip().splitlines()) == 1 and "--board" in r.output
    assert not (tmp_path / "a.elm").exists()
    r = CliRunner().invoke(cli, ["convert", str(src), "--out", str(tmp_path / "b.elm"), "--backend", "native",
                                 "--board", "esp32s3"])
    assert r.exit_code == 0, r.output
    if not shutil.which("xtensa-esp32s3-elf-gcc"):
        assert "xtensa-esp32s3-elf-gcc is not installed" in r.output and "viper kernels will be used" in r.output
    if shutil.which("arm-none-eabi-gcc"):
        r = CliRunner().invoke(cli, ["convert", str(src), "--out", str(tmp_path / "c.elm"), "--backend",
                                     "native", "--board", "rp2040"])
        assert r.exit_code == 0, r.output
        m = reader.parse((tmp_path / "elnative-armv6m.mpy").read_bytes())
        assert m.arch == "armv6m"
