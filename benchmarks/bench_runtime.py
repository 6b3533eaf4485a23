"""Heap and speed of edgeloop's portable int8 runtime, next to TFLM's figures from the same run.

    .venv/bin/python benchmarks/bench_runtime.py

On the virtual board (real MicroPython 1.27, WebAssembly, rp2040 profile,
driven over its pty through edgeloop.link.device like hardware), per model:
- heap after load: gc.mem_alloc() with the model loaded minus without it
  (model tables, params, arena views, the arena, the open file), each read
  after the board has collected garbage (this port collects only between
  raw-REPL executions, so every figure is its own execution, read until stable);
- bytes allocated by one inference, run under micropython.heap_lock() (any
  allocation would raise MemoryError) with the collector disabled: 0 means the
  peak during the inference is the heap held after load;
- TFLM's arena for the same model (the smallest that tflite-micro loads);
- MACs/s of the portable kernels on the board, under CPython with the same
  code, and TFLM's C++ in this process;
- Python bytecode operations per MAC: CPython's count of the opcodes the same
  runtime source executes in one inference (sys.settrace opcode events),
  divided by the model's MACs. MicroPython's bytecode is a little coarser.
And once: the heap the runtime's modules take after import, as .py source and
as the .mpy files `edgeloop deploy` installs (every kernel at once: the most a board
could import; edgeloop.convert.fit budgets a model only its own kernel modules, from the
per-module table tests/tools/runtime_heap.py measures).
"""

from __future__ import annotations

import io
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # the checkout: tests.tools
DATA = ROOT / ".." / "shared" / "data" / "tflm"
MODELS = {"hello_world": DATA / "hello_world" / "hello_world_int8.tflite",
          "micro_speech": DATA / "micro_speech" / "micro_speech_quantized.tflite"}

LOCKED_RUN = """
def _bench(it, n):
    gc.collect()
    gc.disable()
    before = gc.mem_alloc()
    t0 = time.ticks_ms()
    micropython.heap_lock()
    try:
        for _ in range(n):
            it.invoke()
        result = 'ok'
    except MemoryError:
        result = 'MemoryError'
    micropython.heap_unlock()
    t1 = time.ticks_ms()
    after = gc.mem_alloc()
    gc.enable()
    return result, after - before, time.ticks_diff(t1, t0)
with open('/NAME.bin', 'rb') as _f:
    _f.readinto(it.input_view())
print('RUN', *_bench(it, RUNS))
"""


def runtime_files(compiled: bool) -> dict[str, bytes]:
    from edgeloop.deploy.mpy import compile_source

    fw = ROOT / "firmware" / "edgeloop_fw"
    files = {"lib/edgeloop_fw/__init__.py": b""}
    # The portable level only: the WebAssembly port has no native emitter for
    # viper/ and no native module for native/ (deploy leaves them off such a board).
    for p in sorted((fw / "runtime").glob("*.py")) + sorted((fw / "runtime" / "kernels").glob("*.py")):
        rel = p.relative_to(fw).as_posix()
        if compiled and p.name != "__init__.py":
            files[f"lib/edgeloop_fw/{rel[:-3]}.mpy"] = compile_source(p.read_bytes(), f"edgeloop_fw/{rel}")
        else:
            files[f"lib/edgeloop_fw/{rel}"] = p.read_bytes()
    return files


def board_figures(models: dict, inputs: dict) -> dict:
    from edgeloop.link.device import Device
    from edgeloop.sim import VirtualBoard

    from tests.tools.fw_board import runtime_imports, settled_heap

    imports = runtime_imports()
    out = {"modules": {}}
    with VirtualBoard(board="rp2040", register=False) as vb:
        for compiled in (False, True):
            flash = Path(vb.flash_dir)
            files = runtime_files(compiled)
            files.update({f"{n}.elm": m.data for n, m in models.items()})
            files.update({f"{n}.bin": x.tobytes() for n, x in inputs.items()})
            for old in flash.rglob("*"):
                if old.is_file():
                    old.unlink()
            for name, data in files.items():
                (flash / name).parent.mkdir(parents=True, exist_ok=True)
                (flash / name).write_bytes(data)
            vb.restart()
            with Device(vb.port) as dev:
                dev.exec("import gc, time, micropython\nit = None")
                base = settled_heap(dev)
                dev.exec(imports, timeout=120)
                out["modules"][".mpy" if compiled else ".py"] = settled_heap(dev) - base
                if not compiled:  # every kernel from source no longer leaves a small board room for a model
                    continue
                for name, m in models.items():
                    empty = settled_heap(dev)
                    dev.exec(f"it = Interpreter(Model(open('/{name}.elm', 'rb')))", timeout=60)
                    loaded = settled_heap(dev) - empty
                    runs = max(1, 200_000 // max(m.macs, 1))
                    code = LOCKED_RUN.replace("NAME", name).replace("RUNS", str(runs))
                    fields = dev.exec(code, timeout=600).decode().split("RUN ", 1)[1].split()
                    ms = int(fields[2])
                    out[name] = {"loaded": loaded, "arena": m.arena_size, "params": m.params_bytes, "lock": fields[0], "allocated": int(fields[1]),
                                 "mac_s": m.macs * runs / (ms / 1000) if ms else float("inf")}
                    dev.exec("it.model.close()\nit = None")
    return out


def bytecodes_per_mac(interp, x: bytes, macs: int) -> float:
    """CPython opcodes executed by one inference, per MAC."""
    count = 0

    def tracer(frame, event, arg):
        nonlocal count
        frame.f_trace_opcodes = True
        if event == "opcode":
            count += 1
        return tracer

    interp.set_input(x)
    sys.settrace(tracer)
    try:
        interp.invoke()
    finally:
        sys.settrace(None)
    return count / macs


def add_lstm(inputs: dict) -> None:
    """The zoo's gesture LSTM (20 steps x 6 features -> LSTM(12) -> Dense(4)), converted here
    into a temporary .tflite, when tf_keras is installed (make setup)."""
    import tempfile

    try:
        import tf_keras  # noqa: F401
    except ImportError:
        print("lstm_gesture skipped: tf_keras is not installed (make setup installs it)")
        return
    from tests.tools import keras_zoo
    from tflite_micro.python.tflite_micro import runtime

    d = Path(tempfile.mkdtemp(prefix="bench_lstm_"))
    path = d / "lstm_gesture.tflite"
    path.write_bytes(keras_zoo.to_tflite("lstm", d))
    q = runtime.Interpreter.from_file(str(path)).get_input_details(0)["quantization_parameters"]
    MODELS["lstm_gesture"] = path
    inputs["lstm_gesture"] = keras_zoo.int8_inputs("lstm", float(q["scales"][0]), int(q["zero_points"][0]))[0]


def main() -> None:
    from tests.tools.runtime_helpers import speech_features
    from tflite_micro.python.tflite_micro import runtime

    from edgeloop.convert.int8 import convert_tflite
    from edgeloop.reference.arena import smallest_arena
    from edgeloop.sim import node_status
    from edgeloop_fw.runtime.interpreter import Interpreter
    from edgeloop_fw.runtime.loader import Model

    inputs = {"hello_world": np.array([[93]], np.int8), "micro_speech": speech_features("yes")}
    add_lstm(inputs)
    models = {name: convert_tflite(path) for name, path in MODELS.items()}
    ok, why = node_status()
    board = board_figures(models, inputs) if ok else None
    print(f"{'model':<13} {'MACs':>7} | {'heap after load':>15} {'+inference':>10} {'peak':>7} "
          f"{'TFLM arena':>10} {'peak/arena':>10} | {'board MAC/s':>11} {'CPython MAC/s':>13} "
          f"{'TFLM MAC/s':>11} | {'ops/MAC':>7}")
    for name, conv in models.items():
        x = inputs[name].tobytes()
        interp = Interpreter(Model(io.BytesIO(conv.data)))
        runs = max(3, 100_000 // conv.macs)
        start = time.perf_counter()
        for _ in range(runs):
            interp.set_input(x)
            interp.invoke()
        cpython = conv.macs * runs / (time.perf_counter() - start)
        ref = runtime.Interpreter.from_file(str(MODELS[name]))
        start = time.perf_counter()
        for _ in range(runs * 20):
            ref.reset()  # an LSTM starts from its reset state, as on edgeloop
            ref.set_input(inputs[name], 0)
            ref.invoke()
        tflm = conv.macs * runs * 20 / (time.perf_counter() - start)
        arena = smallest_arena(MODELS[name].read_bytes())
        ops = bytecodes_per_mac(interp, x, conv.macs)
        if board:
            b = board[name]
            peak = b["loaded"] + b["allocated"]
            lock = "" if b["lock"] == "ok" else f" ({b['lock']} under heap_lock)"
            print(f"{name:<13} {conv.macs:>7} | {b['loaded']:>13} B {b['allocated']:>8} B {peak:>5} B "
                  f"{arena:>8} B {peak / arena:>10.2f} | {b['mac_s']:>11.3g} {cpython:>13.3g} {tflm:>11.3g} | "
                  f"{ops:>7.1f}{lock}")
        else:
            print(f"{name:<13} {conv.macs:>7} | board skipped: {why} | TFLM arena {arena} B | "
                  f"CPython {cpython:.3g} MAC/s, TFLM {tflm:.3g} MAC/s | {ops:.1f} ops/MAC")
        print(f"{'':<13} plan: arena {conv.arena_size} B + params {conv.params_bytes} B; "
              f"ops {[o.name for o in conv.ops]}")
    if board:
        for name in models:
            b = board[name]
            print(f"{name}: loaded-model objects besides arena and params {b['loaded'] - b['arena'] - b['params']} B")
        print(f"runtime modules on the board after import (loader, interpreter, every int8 and 16x8 kernel): "
              f"{board['modules']['.py']} B from .py, {board['modules']['.mpy']} B from the .mpy "
              f"files edgeloop deploy installs")


if __name__ == "__main__":
    main()
