"""Run converted models on a (virtual) board and compare every output with TFLM's bytes.

One model per raw-REPL execution: the WebAssembly board collects garbage only between
executions, so each model's interpreter is dropped before the next one loads.
"""

from __future__ import annotations

import pytest


def assert_board_matches_tflm(fw_board, cases: dict) -> None:
    """`cases`: name -> (int8 .tflite bytes, edgeloop model file bytes, [int8 input arrays])."""
    runtime = pytest.importorskip("tflite_micro.python.tflite_micro.runtime")
    files = {}
    code = ["from edgeloop_fw.runtime.loader import Model",
            "from edgeloop_fw.runtime.interpreter import Interpreter"]
    want = {}
    for name, (tflite, blob, xs) in cases.items():
        files[f"/{name}.elm"] = blob
        ref = runtime.Interpreter.from_bytes(tflite)
        part = [f"it = Interpreter(Model(open('/{name}.elm', 'rb')))"]
        for k, x in enumerate(xs):
            files[f"/{name}_{k}.bin"] = x.tobytes()
            ref.reset()  # an LSTM's state: edgeloop starts every inference from TFLM's reset state
            ref.set_input(x, 0)  # TFLM overwrites its input during invoke
            ref.invoke()
            want[f"{name}_{k}"] = ref.get_output(0).tobytes().hex()
            part.append(f"it.set_input(open('/{name}_{k}.bin', 'rb').read()); it.invoke(); "
                        f"print('{name}_{k}', it.get_output().hex())")
        code.append("\n".join(part + ["it = None  # collectable once this execution ends"]))
    fw_board.put(files)
    out = fw_board.run(code)
    got = dict(line.split() for line in out.strip().splitlines() if line.split() and line.split()[0] in want)
    assert set(got) == set(want), out[-2000:]
    bad = [k for k in want if got[k] != want[k]]
    assert not bad, f"differ from TFLM on the board: {bad}"
