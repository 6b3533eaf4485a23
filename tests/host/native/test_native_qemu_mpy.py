"""The native modules in a real MicroPython: MicroPython's qemu port built for
Cortex-M0 (`microbit`, armv6m module) and Cortex-M7 (`mps2-an500`, armv7emdp
module) with native code enabled.

EDGELOOP_QEMU_MICROPYTHON names the Cortex-M0 firmware.elf and
EDGELOOP_QEMU_MICROPYTHON_M7 the Cortex-M7 one (local builds from
MicroPython's source; none is committed); each core's tests skip with that
reason when its variable is unset. The module is served to the firmware from
a RAM filesystem (tests.tools.qemu_mpy), imported, and fully_connected's
bytes are compared with TFLM's formula written out in Python
(tests/host/native/test_native_kernels.py's _mbqm); micro_speech's depthwise layer
runs through the board's runtime at the native, viper and portable levels
and is compared with TFLM itself."""

from __future__ import annotations

import os
import random
import re
import shutil
from pathlib import Path

import pytest

from test_native_kernels import _mbqm
from tests.tools.paths import REPO

pytestmark = pytest.mark.slow
ENV = {"m0": "EDGELOOP_QEMU_MICROPYTHON", "m7": "EDGELOOP_QEMU_MICROPYTHON_M7"}
MACHINE = {"m0": "Cortex-M0 (microbit)", "m7": "Cortex-M7 (mps2-an500)"}


@pytest.fixture(scope="module", params=["m0", "m7"])
def board(request, tmp_path_factory):
    core = request.param
    firmware = os.environ.get(ENV[core], "")
    if not firmware:
        pytest.skip(f"{ENV[core]} is unset (path of a {MACHINE[core]} qemu-port firmware.elf built with native code)")
    for tool in ("arm-none-eabi-gcc", "qemu-system-arm"):
        if not shutil.which(tool):
            pytest.skip(f"{tool} is not installed (make system-packages)")
    from tests.tools import qemu_mpy
    from edgeloop.native.build import native_module

    return core, firmware, native_module(qemu_mpy.ARCH[core], Path(tmp_path_factory.mktemp("mod")))


def test_module_loads_and_computes_tflm_bytes(board):
    from tests.tools.qemu_mpy import QemuMicroPython

    core, firmware, module_bytes = board
    rng = random.Random(5)
    depth, units = 37, 6
    x = [rng.randrange(-128, 128) for _ in range(depth)]
    w = [rng.randrange(-127, 128) for _ in range(depth * units)]
    chans = [(rng.randrange(-5000, 5000), rng.randrange(2**30, 2**31), rng.randrange(-12, 1)) for _ in range(units)]
    off, lo, hi = -3, -128, 127
    p = [1, depth, units, 0, depth, 0, 0, 0, off, lo, hi] + [v for c in chans for v in c]
    want = []
    for u, (b, m, s) in enumerate(chans):
        acc = b + sum(x[k] * w[u * depth + k] for k in range(depth))
        want.append(min(hi, max(lo, _mbqm(acc, m, s) + off)))
    code = f"""
import sys
import elnative
from array import array
p = array('i', {p})
arena = bytearray(bytes(array('b', {x}))) + bytearray({units})
elnative.fully_connected(p, arena, bytes(array('b', {w})), 0, {units})
print(sys.implementation._mpy >> 10, 'API', elnative.API, 'OUT', list(array('b', arena[{depth}:])))
"""
    with QemuMicroPython(firmware, core) as mp:
        mp.put("/elnative.mpy", module_bytes)
        out = mp.exec(code)
    arch = {"m0": 4, "m7": 8}[core]  # sys.implementation._mpy's arch field: armv6m 4, armv7emdp 8
    # The module must speak the API the board glue expects (the glue refuses any other);
    # read from the glue's source: importing it on CPython fails by design (no module).
    glue = (REPO / "firmware/edgeloop_fw/runtime/native/__init__.py").read_text()
    API = int(re.search(r"^API = (\d+)", glue, re.M).group(1))
    assert f"{arch} API {API} OUT {want}" in out, out


@pytest.mark.tf
def test_micro_speech_depthwise_at_every_level_equals_tflm(board):
    """The row-strip depthwise through the board's runtime and the module, next to
    the viper and portable kernels, on micro_speech's layer shape."""
    pytest.importorskip("tflite_micro.python.tflite_micro.runtime", reason="tflite-micro is not installed")
    from tests.tools import cortexm_layers
    from edgeloop.convert.int8 import convert_tflite_bytes
    from tests.tools.qemu_mpy import level_runs

    core, firmware, module_bytes = board
    tflite, x, want = cortexm_layers.build("speech_dw")
    runs = level_runs(firmware, core, convert_tflite_bytes(tflite, "speech_dw").data, x, ("native", "viper"),
                      module_bytes)
    for level, (count, out, used) in runs.items():
        assert f"'depthwise_conv_2d': '{level}'" in used, (level, used)
        assert out == want, f"{level} on {core} differs from TFLM"
        assert count > 0


@pytest.mark.tf
@pytest.mark.parametrize("case", ["tconv_same_s2", "tconv_s3_zpmax_spread", "batch_matmul"])
def test_transpose_conv_and_batch_matmul_native_and_viper_equal_tflm(board, case):
    """el_tconv.c and el_bmm.c through the board's runtime and the module, next to the
    viper kernels: two Conv2DTranspose layers of cortexm_layers, and a BATCH_MATMUL of two
    activations of one input (tf_op_models.batch_matmul_single_tflite) on a random input."""
    pytest.importorskip("tflite_micro.python.tflite_micro.runtime", reason="tflite-micro is not installed")
    import numpy as np

    from edgeloop.convert.int8 import convert_tflite_bytes
    from tests.tools import cortexm_layers, tf_op_models
    from tests.tools.qemu_mpy import level_runs

    core, firmware, module_bytes = board
    if case == "batch_matmul":
        tflite = tf_op_models.batch_matmul_single_tflite()
        x = tf_op_models.random_inputs(tflite, 3)[0]
        want, x = tf_op_models.tflm_outputs(tflite, [x])[0], np.ascontiguousarray(x).tobytes()
        op = "batch_matmul"
    else:
        tflite, x, want = cortexm_layers.build(case)
        op = "transpose_conv"
    runs = level_runs(firmware, core, convert_tflite_bytes(tflite, case).data, x, ("native", "viper"),
                      module_bytes)
    for level, (count, out, used) in runs.items():
        assert f"'{op}': '{level}'" in used, (level, used)
        assert out == want, f"{level} on {core} differs from TFLM"
        assert count > 0
    print(case, core, {level: count for level, (count, _o, _u) in runs.items()})


@pytest.mark.tf
def test_lstm_native_and_viper_equal_tflm(board):
    """The LSTM's gate sums through elnative.mat_vec (el_dot4_s8 of the board's arch) and
    the viper loop, in the board's runtime with the model in ROMFS (weights read in place
    at the native level): lstm_models' 9 steps x 5 features x 7 units on a random input."""
    import numpy as np

    from edgeloop.convert.int8 import convert_tflite_bytes
    from tests.tools import lstm_models
    from tests.tools.qemu_mpy import level_runs
    from tests.tools.runtime_helpers import tflm_run

    core, firmware, module_bytes = board
    tflite, ref, xs = lstm_models.reference(9, 5, 7, 1, True)
    x = xs[3]
    want = tflm_run(ref, x).tobytes()
    runs = level_runs(firmware, core, convert_tflite_bytes(tflite, "lstm").data, np.ascontiguousarray(x).tobytes(),
                      ("native", "viper"), module_bytes)
    for level, (count, out, used) in runs.items():
        assert f"'lstm': '{level}'" in used, (level, used)
        assert out == want, f"{level} on {core} differs from TFLM"
        assert count > 0
    print("lstm", core, {level: count for level, (count, _o, _u) in runs.items()})


HEAP_LOCKED = """
import micropython
it = Interpreter(m, ({level!r},))
def locked(it):  # in a function: a new global would need the heap while it is locked
    gc.collect()
    a = gc.mem_alloc()
    micropython.heap_lock()
    try:
        it.invoke()
        r = 'ok'
    except MemoryError:
        r = 'MemoryError'
    micropython.heap_unlock()
    return r, gc.mem_alloc() - a
it.set_input(F['/x.bin'])
r, grew = locked(it)
print('LOCKED', r, grew, it.kernel_levels[{op!r}], it.get_output().hex())
"""


@pytest.mark.parametrize("level", ["viper", "native"])
def test_inference_allocates_nothing_on_a_32_bit_port(board, level):
    """hello_world at the viper level under heap_lock on the 32-bit qemu port: the multipliers
    (>= 2**30) were read as Python ints, one heap object per unit per inference (issue 20, 7).
    The native level with the model in ROMFS (weights read in place, no group buffer) too."""
    import numpy as np

    from edgeloop.convert.int8 import convert_tflite
    from tests.tools import qemu_mpy
    from tests.tools.runtime_helpers import HELLO, need, tflm, tflm_run

    core, firmware, module = board
    x = np.array([[93]], np.int8)
    with qemu_mpy.QemuMicroPython(firmware, core) as qb:
        qb.exec("PRE = bytearray(0)")  # no group buffer: the mapped model needs none
        files = qemu_mpy.runtime_files(qemu_mpy.ARCH[core], module if level == "native" else None,
                                       {"fully_connected"})
        for path, data in files.items():
            qb.put(path, data)
        qb.put("/model.rom", qemu_mpy.romfs_image({"model.elm": convert_tflite(need(HELLO)).data}))
        qb.put("/x.bin", x.tobytes())
        qb.exec(qemu_mpy._LOAD)
        out = qb.exec(HEAP_LOCKED.format(level=level, op="fully_connected"), timeout=600)
    fields = out.split("LOCKED ")[1].split()
    assert fields[:3] == ["ok", "0", level], out
    assert fields[3] == tflm_run(tflm(HELLO), x).tobytes().hex()


@pytest.mark.tf
@pytest.mark.parametrize("level", ["viper", "native"])
def test_lstm_inference_allocates_nothing(board, level):
    """The LSTM at the viper level (weights buffer and int32 sums made at load) and the
    native level (model in ROMFS, rows read in place) under heap_lock: no object per step
    or per gate, and TFLM's bytes."""
    import numpy as np

    from edgeloop.convert.int8 import convert_tflite_bytes
    from tests.tools import lstm_models, qemu_mpy
    from tests.tools.runtime_helpers import tflm_run

    core, firmware, module = board
    tflite, ref, xs = lstm_models.reference(9, 5, 7, 1, True)
    x = xs[4]
    with qemu_mpy.QemuMicroPython(firmware, core) as qb:
        qb.exec("PRE = bytearray(0)")  # no group buffer: the mapped model needs none
        files = qemu_mpy.runtime_files(qemu_mpy.ARCH[core], module if level == "native" else None, {"lstm"})
        for path, data in files.items():
            qb.put(path, data)
        qb.put("/model.rom", qemu_mpy.romfs_image({"model.elm": convert_tflite_bytes(tflite, "lstm").data}))
        qb.put("/x.bin", np.ascontiguousarray(x).tobytes())
        qb.exec(qemu_mpy._LOAD)
        out = qb.exec(HEAP_LOCKED.format(level=level, op="lstm"), timeout=600)
    fields = out.split("LOCKED ")[1].split()
    assert fields[:3] == ["ok", "0", level], out
    assert fields[3] == tflm_run(ref, x).tobytes().hex()
