"""The heap `convert --board` sets aside for the runtime is what the deployed runtime takes.

convert/fit.py budgets a model the runtime's base (loader, interpreter,
qmath...) plus the kernel modules its ops name, from the table
tests/tools/runtime_heap.py measured. A figure went stale once (21,712 B for
the whole runtime while the kernels grew to over 30 KB): a model could be
called fitting that left the app no room. The opposite is as bad: budgeting
every kernel for every model (57,312 B) refused models a 160 KB board holds.
Here the deployed .mpy runtime is measured again on the virtual board (heap
read after collections between executions, the only time the WebAssembly
port collects) and each figure must match: not under it, and not more than
10 % (or 128 B, for the smallest modules) over it.
"""

import pytest

pytestmark = [pytest.mark.sim]

SLACK, SLACK_BYTES = 0.10, 128

# The 16x8 DS-CNN's kernels (tests/tools/models_16x8.ds_cnn_kws: conv, depthwise conv, average pool,
# reshape, fully connected, softmax in TFLM's 16x8 mode), named here so no TensorFlow is needed.
DS_CNN_16X8 = ["conv_2d_16x8", "depthwise_conv_2d_16x8", "pool_2d_16x8", "reshape", "fully_connected_16x8",
               "softmax_16x8"]


def _within(what, figure, measured):
    assert figure >= measured, f"{what} takes {measured} B on the board, convert budgets {figure} B"
    # Not a generous round number either: a budget far above the runtime refuses models that fit.
    assert figure <= max(measured * (1 + SLACK), measured + SLACK_BYTES), \
        f"{what} takes {measured} B on the board, convert budgets {figure} B: re-measure (tests/tools/runtime_heap.py)"


@pytest.fixture(scope="module")
def measured(fw_board):
    from tests.tools.runtime_heap import measure

    return measure(fw_board)


def test_the_runtime_base_matches_its_measurement(measured):
    from edgeloop.convert import fit

    base, step, _ = measured
    print(f"base {base} B + table growth step {step} B; convert budgets {fit.RUNTIME_BASE_BYTES} B")
    _within("the runtime's base (with one growth step of the board's tables)", fit.RUNTIME_BASE_BYTES, base + step)


def test_every_kernel_module_has_a_figure_that_matches_its_measurement(measured):
    from edgeloop.convert import fit

    _, _, kernels = measured
    assert sorted(fit.KERNEL_MODULE_BYTES) == sorted(kernels), "the table and opcodes.py name other kernel modules"
    for name, used in kernels.items():
        _within(f"kernel module {name}", fit.KERNEL_MODULE_BYTES[name], used)


def test_a_real_models_kernels_together_stay_within_their_budget(fw_board):
    """micro_speech's kernels (read from its converted file) and the 16x8 DS-CNN's, imported in a row as
    the interpreter does: the base's growth step and the per-module figures cover them together."""
    from edgeloop.convert import fit
    from edgeloop.convert.int8 import convert_tflite

    from tests.tools.runtime_heap import imported
    from tests.tools.runtime_helpers import SPEECH

    speech = fit.model_kernels(convert_tflite(SPEECH).data)
    assert speech == {"depthwise_conv_2d", "fully_connected", "reshape", "softmax"}
    names = sorted(speech | set(DS_CNN_16X8))
    used = imported(fw_board, names)
    budget = fit.runtime_bytes(names) - fit.MODEL_OBJECTS_BYTES
    print(f"{names}: {used} B on the board, convert budgets {budget} B")
    assert used <= budget, f"those kernels take {used} B together, convert budgets {budget} B"


def _qemu_firmware():
    import os
    import shutil

    firmware = os.environ.get("EDGELOOP_QEMU_MICROPYTHON", "")
    for tool in ("qemu-system-arm", "arm-none-eabi-gcc"):
        if not shutil.which(tool):
            pytest.skip(f"{tool} is not installed (make system-packages)")
    if not firmware:
        pytest.skip("EDGELOOP_QEMU_MICROPYTHON (a Cortex-M0 qemu-port firmware.elf) is unset")
    return firmware


def test_the_native_figures_match_their_measurement_on_a_cortex_m0():
    """A board with edgeloop's native module loads its machine code at a model's first kernel
    lookup and then the glue of each kernel it has: measured on MicroPython's qemu port (armv6m)."""
    from edgeloop.convert import fit

    from tests.tools.runtime_heap import measure_native, native_modules

    package, glue = measure_native(_qemu_firmware())
    assert sorted(fit.NATIVE_MODULE_BYTES) == native_modules()
    _within("the native package (elnative.mpy)", fit.NATIVE_PACKAGE_BYTES, package)
    for name, used in glue.items():
        _within(f"native glue {name}", fit.NATIVE_MODULE_BYTES[name], used)


def test_the_viper_figures_match_their_measurement_on_a_cortex_m0():
    """A board with a native emitter imports the viper kernels (machine code, on the heap of a
    bare-metal port) instead of the portable ones: measured on MicroPython's qemu port (armv6m)."""
    from edgeloop.convert import fit

    from tests.tools.runtime_heap import measure_viper, viper_modules

    assert sorted(fit.VIPER_MODULE_BYTES) == viper_modules()
    for name, used in measure_viper(_qemu_firmware()).items():
        _within(f"viper module {name}", fit.VIPER_MODULE_BYTES[name], used)
