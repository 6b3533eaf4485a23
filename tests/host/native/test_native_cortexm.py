"""The C kernels bare-metal on emulated Cortex-M0 (microbit) and Cortex-M7
(mps2-an500) under qemu-system-arm give TFLM's bytes: micro_speech's layer
shapes, CMSIS-NN's anchor shapes and odd layers; and the light ops as
single-op models (AVERAGE/MAX_POOL_2D with padding and odd windows, ADD of
two inputs on different scales with and without broadcast, SOFTMAX over rows
of 10 and 300, BATCH_MATMUL of two inputs broadcast over either one's batches) with the model's own arena plan. Also checks the instruction
counter on a SUBS/BNE loop of known length (2n + 1), which the benchmark
(benchmarks/bench_native_cm.py) relies on."""

from __future__ import annotations

import shutil

import pytest

pytestmark = [pytest.mark.slow, pytest.mark.tf]


def _cases(make: str):
    """The cases cortexm_layers.<make>() builds, with TFLM's bytes; skips without the tools."""
    for tool in ("arm-none-eabi-gcc", "qemu-system-arm"):
        if not shutil.which(tool):
            pytest.skip(f"{tool} is not installed (make system-packages)")
    pytest.importorskip("tensorflow", reason="TensorFlow is not installed (pip install 'edgeloop[tf]')")
    pytest.importorskip("tflite_micro.python.tflite_micro.runtime", reason="tflite-micro is not installed")
    from tests.tools import cortexm_layers
    return getattr(cortexm_layers, make)()


@pytest.fixture(scope="module")
def layer_cases():
    return _cases("cases")


@pytest.fixture(scope="module")
def light_cases():
    return _cases("light_cases")


def _assert_bare_metal_equals_tflm(cases, scratch: int, core: str, tmp_path):
    from tests.tools import cortexm

    elf = cortexm.build_elf(core, cortexm.program([c for c, _ in cases], scratch), tmp_path)
    got = cortexm.run(core, elf)
    for case, want in cases:
        assert case.name in got, f"{case.name} printed nothing on {core}"
        assert got[case.name] == want, f"{case.name} on {core}: first difference at byte " \
            f"{next(i for i, (a, b) in enumerate(zip(got[case.name], want)) if a != b)}"


@pytest.mark.parametrize("core", ["m0", "m7"])
def test_bare_metal_kernels_equal_tflm(layer_cases, tmp_path, core):
    from tests.tools.cortexm_layers import SCRATCH
    _assert_bare_metal_equals_tflm(layer_cases, SCRATCH, core, tmp_path)


@pytest.mark.parametrize("core", ["m0", "m7"])
def test_bare_metal_light_ops_and_softmax_equal_tflm(light_cases, tmp_path, core):
    _assert_bare_metal_equals_tflm(light_cases, 1024, core, tmp_path)  # BATCH_MATMUL's transposed rhs


@pytest.mark.parametrize("core", ["m0", "m7"])
def test_instruction_counter_on_a_loop_of_known_length(tmp_path, core):
    for tool in ("arm-none-eabi-gcc", "qemu-system-arm"):
        if not shutil.which(tool):
            pytest.skip(f"{tool} is not installed (make system-packages)")
    from tests.tools import cortexm

    elf = cortexm.build_elf(core, cortexm.program([], 64, repeat_calib=(100, 200, 201)), tmp_path)
    a, b, c = cortexm.count_regions(core, elf)
    # n below 256 loads with one MOVS on both cores, so only the loop differs
    assert b - a == 2 * 100  # SUBS + BNE per iteration
    assert c - b == 2
    assert a == 2 * 100 + 1 + 3  # the loop and its BX, plus MOVS r0, BL, and the BL to the end marker


@pytest.mark.parametrize("core", ["m0", "m7"])
def test_plugin_counter_equals_the_log_on_a_loop_of_known_length(tmp_path, core):
    """The TCG plugin (tests/tools/qemu_count_plugin.c) that bench_mlperf counts whole
    inferences with gives the trace log's counts, on the same loop and a 10^5 one."""
    import subprocess

    for tool in ("arm-none-eabi-gcc", "qemu-system-arm", "gcc"):
        if not shutil.which(tool):
            pytest.skip(f"{tool} is not installed (make system-packages)")
    from tests.tools import cortexm
    from tests.tools.qemu_mpy import count_plugin

    elf = cortexm.build_elf(core, cortexm.program([], 64, repeat_calib=(100, 200, 50000)), tmp_path)
    begin, end = cortexm._symbol(elf, "el_bench_begin"), cortexm._symbol(elf, "el_bench_end")
    out = tmp_path / "regions"
    cmd = cortexm.qemu_command(core, elf)
    cmd[1:1] = ["-plugin", f"{count_plugin(tmp_path)},begin={begin},end={end},out={out}"]
    subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=120, check=True)
    got = [int(v) for v in out.read_text().split()]
    assert got == [2 * 100 + 4, 2 * 200 + 4, 2 * 50000 + 4]
    assert got == cortexm.count_regions(core, elf)
