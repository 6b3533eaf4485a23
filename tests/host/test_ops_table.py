"""docs/ops.md is the code's op support, and docs/tflm-ops.txt is what the installed TFLM registers."""

import pytest

from tests.tools import ops_table, tflm_ops


def test_ops_page_is_current():
    assert ops_table.PAGE.read_text() == ops_table.render(), "docs/ops.md is stale: run python -m tests.tools.ops_table"


def test_every_kernel_op_has_a_row_marked_int8():
    from edgeloop.convert.tflite import op_name
    from edgeloop_fw.runtime.opcodes import KERNELS

    marked = {r[0] for r in ops_table.rows() if r[2] == ops_table.YES}
    assert marked == {op_name(c) for c in KERNELS}


def test_tflm_list_is_what_the_installed_tflm_registers():
    pytest.importorskip("tflite_micro.python.tflite_micro.runtime", reason="tflite-micro is not installed")
    version, names = tflm_ops.probe()
    listed_version, listed = tflm_ops.read()
    if version != listed_version:
        pytest.skip(f"docs/tflm-ops.txt is for tflite-micro {listed_version}, {version} is installed")
    assert names == listed
    assert {"FULLY_CONNECTED", "CONV_2D", "SUB", "PRELU"} <= set(names) and "GELU" not in names
