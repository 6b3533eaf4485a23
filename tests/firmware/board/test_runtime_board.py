"""The runtime on the virtual board (real MicroPython behind a pty, driven through
edgeloop.link.device like hardware), byte for byte against TFLM, and allocation-free.

The runtime and model files are put into the board's flash folder as
`edgeloop deploy` lays them out (/lib/edgeloop_fw/runtime/...), the board is
restarted, and everything else goes over the serial path.
"""

import sys
from pathlib import Path

import numpy as np
import pytest


from tests.tools.runtime_helpers import CLIPS, HELLO, SPEECH, need, speech_features, tflm, tflm_run  # noqa: E402

from edgeloop.convert.int8 import convert_tflite  # noqa: E402
from tests.tools.paths import REPO

pytestmark = pytest.mark.sim

PRELUDE = """
from edgeloop_fw.runtime.loader import Model, ModelFileError, install
from edgeloop_fw.runtime.interpreter import Interpreter
"""


def runtime_files() -> dict[str, bytes]:
    fw = REPO / "firmware" / "edgeloop_fw"
    files = {"lib/edgeloop_fw/__init__.py": b""}
    # The portable level only: the WebAssembly port has no native emitter for
    # viper/ and no native module for native/ (deploy leaves them off such a board).
    for p in sorted((fw / "runtime").glob("*.py")) + sorted((fw / "runtime" / "kernels").glob("*.py")):
        files[f"lib/edgeloop_fw/{p.relative_to(fw).as_posix()}"] = p.read_bytes()
    return files


@pytest.fixture(params=["wasm", "circuitpython", "micropython-unix"])
def board(request, tmp_path):
    """boot(files) -> Device: a fresh rp2040 virtual board with the runtime and `files` in flash,
    or a unix-port interpreter (CircuitPython's, MicroPython's: tests/tools/unix_board.py) with
    the whole firmware — there the viper level runs where the interpreter has the emitter.

    The board reads its flash folder when it starts, so everything goes in before the restart."""
    opened = []
    if request.param == "wasm":
        from edgeloop.link.device import Device

        virtual_board = request.getfixturevalue("virtual_board")

        def boot(files: dict[str, bytes]):
            put(virtual_board, {**runtime_files(), **files})
            virtual_board.restart()
            dev = Device(virtual_board.port)
            opened.append(dev)
            dev.exec(PRELUDE, timeout=60)
            return dev
    else:
        from tests.firmware.board.conftest import unix_board_or_skip

        ub = unix_board_or_skip(request.param, tmp_path / "flash")

        def boot(files: dict[str, bytes]):
            ub.put(files)
            dev = ub.open_session()
            opened.append(dev)
            dev.exec(PRELUDE, timeout=60)
            return dev

    boot.kind = request.param
    yield boot
    for dev in opened:
        dev.close()


def put(vb, files: dict[str, bytes]) -> None:
    flash = Path(vb.flash_dir)
    for name, data in files.items():
        (flash / name).parent.mkdir(parents=True, exist_ok=True)
        (flash / name).write_bytes(data)


def test_hello_world_on_the_virtual_board_matches_tflm_for_all_256_inputs(board):
    dev = board({"model.elm": convert_tflite(need(HELLO)).data})
    out = dev.exec("""
it = Interpreter(Model(open('/model.elm', 'rb')))
out = bytearray()
for v in range(-128, 128):
    it.set_input(bytes([v & 0xFF]))
    it.invoke()
    out += it.get_output()
print('OUT', out.hex())
""", timeout=120).decode()
    got = np.frombuffer(bytes.fromhex(out.split("OUT ")[1].split()[0]), np.int8)
    ref = tflm(HELLO)
    want = np.array([tflm_run(ref, np.array([[v]], np.int8)).item() for v in range(-128, 128)], np.int8)
    assert got.tobytes() == want.tobytes()


@pytest.mark.slow
def test_micro_speech_on_the_virtual_board_matches_tflm_on_the_recordings(board):
    feats = {clip: speech_features(clip) for clip in CLIPS}
    dev = board({"model.elm": convert_tflite(need(SPEECH)).data, **{f"{c}.bin": f.tobytes() for c, f in feats.items()}})
    dev.exec("it = Interpreter(Model(open('/model.elm', 'rb')))", timeout=60)
    ref = tflm(SPEECH)
    for clip in CLIPS:
        out = dev.exec(f"it.set_input(open('/{clip}.bin', 'rb').read()); it.invoke(); "
                       "print(it.get_output().hex())", timeout=300).decode().strip()
        assert out == tflm_run(ref, feats[clip]).tobytes().hex(), clip


HEAP_LOCKED = """
import gc, micropython
def locked_invoke(it):
    # In a function: a new global name would need the heap while it is locked.
    gc.collect()
    gc.disable()
    before = gc.mem_alloc()
    micropython.heap_lock()
    try:
        it.invoke()
        result = 'ok'
    except MemoryError:
        result = 'MemoryError'
    micropython.heap_unlock()
    after = gc.mem_alloc()
    gc.enable()
    return result, after - before
it = Interpreter(Model(open('/model.elm', 'rb')))
it.set_input(open('/x.bin', 'rb').read())
result, grew = locked_invoke(it)
print('LOCKED', result, grew, it.get_output().hex())
print('LEVELS', sorted(set(it.kernel_levels.values())))
"""


def locked_outputs(dev, model: str, n: int) -> list[str]:
    """The board's outputs (hex) for /x0.bin .. /x{n-1}.bin through /{model}, each inference
    under heap_lock: one that allocates fails here."""
    dev.exec(HEAP_LOCKED.split("it = Interpreter")[0] + f"it = Interpreter(Model(open('/{model}', 'rb')))\n",
             timeout=60)
    got = []
    for i in range(n):
        out = dev.exec(f"it.set_input(open('/x{i}.bin', 'rb').read())\n"
                       "result, grew = locked_invoke(it)\n"
                       "print('RUN', result, grew, it.get_output().hex())\n", timeout=300).decode()
        fields = out.split("RUN ")[1].split()
        assert fields[:2] == ["ok", "0"], f"input {i}: invoke() allocated ({fields[:2]})"
        got.append(fields[2])
    return got


@pytest.mark.parametrize("model", ["hello_world", "micro_speech"])
def test_an_inference_allocates_nothing_on_the_virtual_board(board, model):
    """heap_lock makes any allocation during invoke() a MemoryError: none may happen,
    and the locked inference still gives TFLM's bytes."""
    path = need(HELLO if model == "hello_world" else SPEECH)
    x = (np.array([[93]], np.int8) if model == "hello_world" else speech_features("yes"))
    dev = board({"model.elm": convert_tflite(path).data, "x.bin": x.tobytes()})
    out = dev.exec(HEAP_LOCKED, timeout=300).decode()
    fields = out.split("LOCKED ")[1].split()
    if board.kind == "micropython-unix":  # it has the emitter: the viper level is what ran
        assert "'viper'" in out.split("LEVELS ")[1], out
    assert fields[0] == "ok", "invoke() allocated on the heap"
    assert int(fields[1]) == 0
    assert fields[2] == tflm_run(tflm(path), x).tobytes().hex()


@pytest.mark.parametrize("damage", ["truncated", "bit flip", "wrong version"])
def test_board_refuses_a_bad_model_and_keeps_the_previous_one(board, damage):
    good = convert_tflite(need(HELLO)).data
    bad = bytearray(good)
    if damage == "truncated":
        bad = bad[:-100]
    elif damage == "bit flip":
        bad[-10] ^= 0x04
    else:
        bad[4] = 99
    dev = board({"model.elm": good, "model.elm.new": bytes(bad)})
    out = dev.exec("""
try:
    install('/model.elm.new', '/model.elm')
    print('INSTALLED')
except ModelFileError as e:
    print('REFUSED', e)
import os
print('STAGED_LEFT', 'model.elm.new' in os.listdir('/'))
it = Interpreter(Model(open('/model.elm', 'rb')))
it.set_input(bytes([0])); it.invoke(); print('OUT', it.get_output().hex())
""", timeout=60).decode()
    assert "INSTALLED" not in out
    reason = {"truncated": "truncated", "bit flip": "corrupted", "wrong version": "version 99"}[damage]
    assert "REFUSED" in out and reason in out, out
    assert "STAGED_LEFT False" in out
    ref = tflm(HELLO)
    assert out.split("OUT ")[1].split()[0] == tflm_run(ref, np.array([[0]], np.int8)).tobytes().hex()


def test_edgeloop_predict_port_on_the_virtual_board_equals_tflm(virtual_board, tmp_path):
    """`edgeloop predict --port` through the CLI: the model goes to the board's /models,
    the board runs a batch, the .npy written on the host holds TFLM's bytes."""
    from click.testing import CliRunner

    from edgeloop.cli import cli

    put(virtual_board, runtime_files())
    virtual_board.restart()
    model = tmp_path / "hello.elm"
    model.write_bytes(convert_tflite(need(HELLO)).data)
    xs = np.arange(-128, 128, 17, dtype=np.int8).reshape(-1, 1)
    np.save(tmp_path / "x.npy", xs)
    result = CliRunner().invoke(cli, ["predict", "--model", str(model), "--input", str(tmp_path / "x.npy"),
                                      "--output", str(tmp_path / "y.npy"), "--port", virtual_board.port])
    assert result.exit_code == 0, result.output
    got = np.load(tmp_path / "y.npy")
    ref = tflm(HELLO)
    want = np.concatenate([tflm_run(ref, x.reshape(1, 1)) for x in xs])
    assert got.dtype == np.int8 and got.tobytes() == want.tobytes()
    assert (Path(virtual_board.flash_dir) / "models" / "hello.elm").read_bytes() == model.read_bytes()


ZOO_LOCKED = ["conv2d", "pooling", "residual", "activations", "mixed_scales", "add_broadcast", "global_pool",
              "conv1d_dynamic", "dense_mlp", "conv1d", "permute", "lstm"]


@pytest.mark.tf
@pytest.mark.slow
def test_every_op_runs_allocation_free_on_the_virtual_board(board, tmp_path):
    """Keras models that together use every op edgeloop runs, each inference under
    heap_lock, each output byte equal to TFLM's."""
    pytest.importorskip("tensorflow", reason="TensorFlow is not installed (pip install 'edgeloop[tf]')")
    runtime = pytest.importorskip("tflite_micro.python.tflite_micro.runtime")
    from tests.tools import keras_zoo

    from edgeloop.convert.int8 import convert_tflite_bytes

    from tests.tools import tf_op_models

    files, want, ops = {}, {}, set()
    built = {"movement": tf_op_models.movement_tflite, "transpose_conv": tf_op_models.transpose_conv_tflite,
             "batch_matmul": tf_op_models.batch_matmul_tflite}
    for name in ZOO_LOCKED + list(built):  # built: ops from a tf.function (keras_zoo has no such layers)
        tflite = built[name]() if name in built else keras_zoo.to_tflite(name, tmp_path)
        conv = convert_tflite_bytes(tflite, name)
        ops |= {o.name for o in conv.ops}
        ref = runtime.Interpreter.from_bytes(tflite)
        q = ref.get_input_details(0)["quantization_parameters"]
        x = (tf_op_models.random_inputs(tflite, 4)[0] if name in built else
             keras_zoo.int8_inputs(name, float(q["scales"][0]), int(q["zero_points"][0]), n_random=1)[-1])
        files[f"{name}.elm"], files[f"{name}.bin"] = conv.data, x.tobytes()
        want[name] = tflm_run(ref, x).tobytes().hex()
    from edgeloop.convert.tflite import op_name
    from edgeloop_fw.runtime.opcodes import KERNELS
    from tests.tools.elementwise_cases import OPS as ELEMENTWISE  # test_elementwise_board.py runs them locked
    assert ops >= {op_name(c) for c in KERNELS} - {"SQUEEZE"} - set(ELEMENTWISE), "a runtime op is not exercised"
    dev = board(files)
    dev.exec(HEAP_LOCKED.split("it = Interpreter")[0], timeout=60)
    for name in ZOO_LOCKED + list(built):
        out = dev.exec(f"it = Interpreter(Model(open('/{name}.elm', 'rb')))\n"
                       f"it.set_input(open('/{name}.bin', 'rb').read())\n"
                       "result, grew = locked_invoke(it)\n"
                       "print('LOCKED', result, grew, it.get_output().hex())", timeout=300).decode()
        fields = out.split("LOCKED ")[1].split()
        assert fields[:2] == ["ok", "0"], f"{name}: invoke() allocated ({fields[:2]})"
        assert fields[2] == want[name], name
