"""The heap `convert --board` sets aside for the runtime is what the deployed runtime takes.

convert/fit.py adds RUNTIME_MODULES_BYTES to a model's arena and params when it
decides whether the model fits a board. The figure went stale once (21,712 B
while the kernels grew to over 30 KB): a model could be called fitting that
left the app no room. Here the deployed .mpy runtime, every kernel imported (int8 and 16x8),
is measured on the virtual board (heap read after collections between
executions, the only time the WebAssembly port collects).
"""

import pytest

pytestmark = [pytest.mark.sim]


def _settled(dev) -> int:
    last = None
    for _ in range(20):
        dev.exec("gc.collect()")
        now = int(dev.exec("print(gc.mem_alloc())").decode())
        if now == last:
            return now
        last = now
    raise AssertionError(f"the board's heap did not settle (last {last} B)")


def test_every_kernel_imported_fits_the_runtime_budget_convert_uses(fw_board):
    from edgeloop.convert import fit

    from edgeloop_fw.runtime.opcodes import KERNELS, KERNELS_16X8

    imports = ("from edgeloop_fw.runtime.loader import Model\n"
               "from edgeloop_fw.runtime.interpreter import Interpreter\n"
               + "".join(f"import edgeloop_fw.runtime.kernels.{k}\n" for k in sorted(set(KERNELS.values()) | set(KERNELS_16X8.values()))))
    with fw_board.session() as dev:
        dev.exec("import gc, edgeloop_fw, edgeloop_fw.runtime")
        base = _settled(dev)
        dev.exec(imports, timeout=120)
        used = _settled(dev) - base
    print(f"runtime modules after import: {used} B; convert budgets {fit.RUNTIME_MODULES_BYTES} B")
    assert used <= fit.RUNTIME_MODULES_BYTES, f"the runtime takes {used} B, convert budgets {fit.RUNTIME_MODULES_BYTES}"
    # Not a generous round number either: a budget far above the runtime refuses models that fit.
    assert used >= 0.9 * fit.RUNTIME_MODULES_BYTES, f"the runtime takes {used} B, convert budgets {fit.RUNTIME_MODULES_BYTES}"
