"""The element-wise ops on real interpreters (the virtual board's MicroPython, and the unix MicroPython
and CircuitPython ports): a few randomized models each (tests/tools/elementwise_cases.py), every
inference under heap_lock, every output byte equal to TFLM's.

tests/firmware/board/test_runtime_board.py's every-op test leaves these ops to this file
(elementwise_cases.OPS).
"""

import pytest

from edgeloop.convert.int8 import convert_tflite_bytes
from tests.firmware.board.test_runtime_board import HEAP_LOCKED, board  # noqa: F401  (the fixture)
from tests.tools import elementwise_cases as E

pytestmark = pytest.mark.sim

SEEDS = (1, 6, 11)  # a constant operand, a broadcast, a fused activation among them


def test_elementwise_ops_on_the_board_match_tflm_allocation_free(board):  # noqa: F811
    files, want, runs = {}, {}, []
    for op in E.OPS:
        for seed in SEEDS:
            case = E.case(op, seed, runs=2)
            key = f"{op.lower()}_{seed}"
            files[f"{key}.elm"] = convert_tflite_bytes(case.tflite, case.name).data
            for r, feed in enumerate(case.feeds):
                for i, x in enumerate(feed):
                    files[f"{key}_{r}_{i}.bin"] = x.tobytes()
            for r, out in enumerate(E.tflm(case)):
                want[f"{key}_{r}"] = out.hex()
            runs.append((key, case))
    dev = board(files)
    dev.exec(HEAP_LOCKED.split("it = Interpreter")[0], timeout=60)
    for key, case in runs:
        lines = [f"it = Interpreter(Model(open('/{key}.elm', 'rb')))"]
        for r, feed in enumerate(case.feeds):
            lines += [f"it.set_input(open('/{key}_{r}_{i}.bin', 'rb').read(), {i})" for i in range(len(feed))]
            lines += ["result, grew = locked_invoke(it)",
                      f"print('LOCKED', '{key}_{r}', result, grew, it.get_output().hex())"]
        out = dev.exec("\n".join(lines + ["it = None"]), timeout=300).decode()
        for line in out.splitlines():
            if line.startswith("LOCKED "):
                _, name, result, grew, got = line.split()
                assert (result, grew) == ("ok", "0"), f"{case.name}: invoke() allocated ({result}, {grew})"
                assert got == want.pop(name), f"{case.name}: differs from TFLM on {board.kind}"
    assert not want, f"no output for {sorted(want)}"
