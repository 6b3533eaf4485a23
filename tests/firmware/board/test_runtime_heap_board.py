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


def test_every_kernel_imported_fits_the_runtime_budget_convert_uses(fw_board):
    from edgeloop.convert import fit

    from tests.tools.fw_board import runtime_imports, settled_heap

    with fw_board.session() as dev:
        dev.exec("import gc, edgeloop_fw, edgeloop_fw.runtime")
        base = settled_heap(dev)
        dev.exec(runtime_imports(), timeout=120)
        used = settled_heap(dev) - base
    print(f"runtime modules after import: {used} B; convert budgets {fit.RUNTIME_MODULES_BYTES} B")
    assert used <= fit.RUNTIME_MODULES_BYTES, f"the runtime takes {used} B, convert budgets {fit.RUNTIME_MODULES_BYTES}"
    # Not a generous round number either: a budget far above the runtime refuses models that fit.
    assert used >= 0.9 * fit.RUNTIME_MODULES_BYTES, f"the runtime takes {used} B, convert budgets {fit.RUNTIME_MODULES_BYTES}"
