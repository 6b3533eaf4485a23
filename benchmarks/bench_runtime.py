"""Heap and speed of edgeloop's portable int8 runtime, next to TFLM's figures from the same run.

    .venv/bin/python benchmarks/bench_runtime.py

For hello_world_int8 and micro_speech it prints:
- heap on the virtual board (real MicroPython 1.27, WebAssembly): what the
  loaded model retains (arena + params + tables, gc.mem_alloc after a
  collection) and what one inference allocates on top (gc.mem_alloc before
  and after, per op). The WebAssembly build cannot collect garbage while
  Python runs, so "loaded + allocated" is an upper bound of the peak; on a
  board the garbage (requantization temporaries) is collected as it goes.
  Next to it: TFLM's arena for the same model (its smallest arena that loads).
- MACs per second of the portable kernels on the virtual board, under CPython
  with the same runtime code, and TFLM's (C++) in this process.
"""

from __future__ import annotations

import io
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "firmware"))
DATA = ROOT / ".." / "shared" / "data" / "tflm"
MODELS = {"hello_world": (DATA / "hello_world" / "hello_world_int8.tflite", 1936),
          "micro_speech": (DATA / "micro_speech" / "micro_speech_quantized.tflite", 7584)}

BOARD = """
import sys, gc, time
sys.path.append('/lib')
from edgeloop_fw.runtime.loader import Model
from edgeloop_fw.runtime.interpreter import Interpreter
from edgeloop_fw.runtime.opcodes import KERNELS
for name in KERNELS.values():
    __import__('edgeloop_fw.runtime.kernels.' + name, None, None, ('eval',))
#--- gc
gc.collect()
base = gc.mem_alloc()
it = Interpreter(Model(open('/model.elm', 'rb')))
x = open('/x.bin', 'rb').read()
#--- gc
gc.collect()
loaded = gc.mem_alloc() - base
marks = []
def probe(i):
    marks.append(gc.mem_alloc())
it.set_input(x)
marks.append(gc.mem_alloc())
probe_cost = gc.mem_alloc()
t0 = time.ticks_ms()
it.invoke(probe)
t1 = time.ticks_ms()
per_op = [marks[i + 1] - marks[i] for i in range(len(marks) - 1)]
print('RESULT', loaded, marks[-1] - marks[0], per_op, time.ticks_diff(t1, t0))
"""


def tflm_figures(path: Path, x: np.ndarray, runs: int):
    from tflite_micro.python.tflite_micro import runtime
    interp = runtime.Interpreter.from_file(str(path))
    t = time.perf_counter()
    for _ in range(runs):
        interp.set_input(x, 0)
        interp.invoke()
    return (time.perf_counter() - t) / runs


def main() -> None:
    import wasm_board
    from edgeloop.convert.int8 import convert_tflite
    from edgeloop_fw.runtime.interpreter import Interpreter
    from edgeloop_fw.runtime.loader import Model

    why = wasm_board.available()
    rng = np.random.default_rng(0)
    print(f"{'model':<13} {'MACs':>7} | {'loaded heap':>11} {'+inference':>10} {'TFLM arena':>10} | "
          f"{'board MAC/s':>11} {'CPython MAC/s':>13} {'TFLM MAC/s':>11}")
    for name, (path, tflm_arena) in MODELS.items():
        conv = convert_tflite(path)
        t = conv.tflite.tensors[conv.tflite.inputs[0]]
        x = rng.integers(-128, 128, t.shape).astype(np.int8)
        interp = Interpreter(Model(io.BytesIO(conv.data)))
        runs = 3 if conv.macs > 10000 else 200
        start = time.perf_counter()
        for _ in range(runs):
            interp.set_input(x.tobytes())
            interp.invoke()
        cpy = (time.perf_counter() - start) / runs
        ref = tflm_figures(path, x, runs * 20)
        if why:
            board = f"skipped: {why}"
            loaded = alloc = board_mps = None
        else:
            files = wasm_board.runtime_files()
            files["/model.elm"] = conv.data
            files["/x.bin"] = x.tobytes()
            out = wasm_board.run(BOARD, files)
            fields = out.split("RESULT ", 1)[1].split(" ", 2)
            loaded, alloc = int(fields[0]), int(fields[1])
            ms = int(fields[2].rsplit("]", 1)[1])
            board_mps = conv.macs / (ms / 1000) if ms else float("inf")
            per_op = fields[2].rsplit("]", 1)[0] + "]"
        print(f"{name:<13} {conv.macs:>7} | {loaded:>9} B {alloc:>8} B {tflm_arena:>8} B | "
              f"{board_mps:>11.3g} {conv.macs / cpy:>13.3g} {conv.macs / ref:>11.3g}")
        print(f"{'':<13} arena {conv.arena_size} B + params {conv.params_bytes} B in the file's plan; "
              f"per-op allocation on the board {per_op} B; ops {[o.name for o in conv.ops]}")


if __name__ == "__main__":
    main()
