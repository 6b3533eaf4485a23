"""Time per 20 ms frame and heap of the audio front end, next to TFLM's preprocessor in the same run.

    .venv/bin/python benchmarks/bench_audio_frontend.py

A frame is 30 ms of audio (480 samples) taken every 20 ms, so a front end
keeps up with a live microphone only if one frame takes < 20 ms: the
real-time factor printed is time per frame / 20 ms (< 1 keeps up).

It measures, over the 196 frames of the four 1 s recordings:
- the virtual board (real MicroPython 1.27, WebAssembly build under Node on
  this x86 host, rp2040 profile with its heap cap), the firmware put there by
  edgeloop's deploy (.mpy + the parameter table file) and driven over the pty
  through edgeloop.link.device: first pass and best of three later passes, each
  stage timed alone over the same number of runs; heap after import (module
  code), of the front end object (tables, buffers, stage generators), each
  read in its own execution after the board collected (this port collects
  only between executions), and bytes allocated by 196 frames (0 = nothing
  per frame) with a heap_lock() run to confirm;
- CPython running the same edgeloop_fw.audio code;
- TFLM's audio_preprocessor_int8.tflite (C++, via tflite-micro) in this process.
The virtual board's speed says nothing precise about an RP2040 (a 133 MHz
Cortex-M0+ runs MicroPython bytecode far slower than V8 runs the WebAssembly
build); no board was attached to measure one.
"""

from __future__ import annotations

import array
import ast
import sys
import tempfile
import time
import wave
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / ".." / "shared" / "data" / "tflm" / "micro_speech"
CLIPS = ("yes", "no", "silence", "noise")
FRAME_MS = 20.0
STAGES = ("window+scale", "fft", "energy", "filterbank", "sqrt", "spectral-sub", "pcan", "log", "int8")

# One string per raw-REPL execution.
BOARD = [
    "import gc, time, array, micropython\ngc.collect()\nBASE = gc.mem_alloc()",
    "from edgeloop_fw.audio import AudioFrontend, frame_count",
    "MODS = gc.mem_alloc() - BASE\nfe = AudioFrontend()",
    "OBJ = gc.mem_alloc() - BASE - MODS\n"
    "clips = [array.array('h', range(16000)) for _ in range(%d)]\n"
    "for c, buf in zip(%r, clips):\n"
    "    with open('/data/' + c + '.raw', 'rb') as f:\n"
    "        f.readinto(buf)" % (len(CLIPS), CLIPS),
    """
def one_pass():
    n = 0
    for samples in clips:
        fe.reset()
        for f in range(frame_count(len(samples))):
            fe.process(samples, f * 320)
            n += 1
    return n
a = t0 = frames = cold = alloc = 0  # globals made before measuring: a new name can grow the dict
t0 = time.ticks_ms()
frames = one_pass()
cold = time.ticks_diff(time.ticks_ms(), t0)
a = gc.mem_alloc()
one_pass()
alloc = gc.mem_alloc() - a
micropython.heap_lock()
try:
    one_pass()
    locked = 'ok'
except MemoryError:
    locked = 'MemoryError'
micropython.heap_unlock()
""",
    """
warm = []
for _ in range(3):
    t0 = time.ticks_ms()
    one_pass()
    warm.append(time.ticks_diff(time.ticks_ms(), t0))
""",
    """
# each stage alone, as many runs as frames, on the last frame's buffers; best of three
def stage_times():
    spent = []
    fe._src[0] = clips[0]
    t0 = time.ticks_ms()
    for _ in range(frames):
        fe._window.send(0)
    spent.append(time.ticks_diff(time.ticks_ms(), t0))
    fe._src[0] = None
    for g in fe._stages:
        t0 = time.ticks_ms()
        for _ in range(frames):
            next(g)
        spent.append(time.ticks_diff(time.ticks_ms(), t0))
    t0 = time.ticks_ms()
    for _ in range(frames):
        fe._sqrt.send(fe.scale_bits)
    spent.append(time.ticks_diff(time.ticks_ms(), t0))
    for g in fe._tail:
        t0 = time.ticks_ms()
        for _ in range(frames):
            next(g)
        spent.append(time.ticks_diff(time.ticks_ms(), t0))
    return spent
spent = stage_times()
for _ in range(2):
    spent = [min(x, y) for x, y in zip(spent, stage_times())]
print('RESULT', repr((MODS, OBJ, frames, cold, warm, alloc, locked, spent)))
""",
]


def recordings() -> dict[str, bytes]:
    out = {}
    for c in CLIPS:
        with wave.open(str(DATA / f"{c}_1000ms.wav")) as w:
            out[c] = w.readframes(w.getnframes())
    return out


def board(raw: dict[str, bytes]):
    """The figures from the rp2040-profile virtual board, or why it could not run."""
    from edgeloop.deploy.plan import DeployFile, deploy_files
    from edgeloop.link.device import Device
    from edgeloop.deploy.firmware import deploy_firmware
    from edgeloop.sim import VirtualBoard, node_status

    ok, why = node_status()
    if not ok:
        return why
    with tempfile.TemporaryDirectory() as cache, VirtualBoard(board="rp2040") as vb:
        with Device(vb.port) as dev:
            deploy_firmware(dev, board="rp2040", cache_dir=Path(cache))
            deploy_files(dev, [DeployFile(f"/data/{c}.raw", b, group="audio") for c, b in raw.items()],
                         group="audio")
        vb.restart()  # a clean heap, as after a power-up
        with Device(vb.port) as dev:
            out = "".join(dev.exec(code, timeout=900).decode() for code in BOARD)
        heap = vb.heap_bytes
    line = next(x for x in out.splitlines() if x.startswith("RESULT"))
    return heap, ast.literal_eval(line.split(" ", 1)[1])


def best_ms_per_frame(one_pass, reps: int = 3) -> float:
    """The best of `reps` runs of one_pass() (which returns the frames it processed), per frame."""
    best = float("inf")
    for _ in range(reps):
        t0 = time.perf_counter()
        n = one_pass()
        best = min(best, (time.perf_counter() - t0) / n)
    return best * 1e3


def cpython(raw: dict[str, bytes], reps: int = 3) -> float:
    from edgeloop_fw.audio import AudioFrontend, frame_count
    clips = [array.array("h", b) for b in raw.values()]
    fe = AudioFrontend()

    def one_pass():
        n = 0
        for s in clips:
            fe.reset()
            for f in range(frame_count(len(s))):
                fe.process(s, f * 320)
                n += 1
        return n

    return best_ms_per_frame(one_pass, reps)


def tflm(raw: dict[str, bytes], reps: int = 3) -> float | str:
    from edgeloop.reference import tflm as reference

    interp = reference.optional_interpreter(DATA / "audio_preprocessor_int8.tflite")
    if interp is None:
        return "tflite-micro not installed"
    clips = [np.frombuffer(b, np.int16) for b in raw.values()]

    def one_pass():
        n = 0
        for x in clips:
            interp.reset()
            for start in range(0, len(x) - 480 + 1, 320):
                interp.set_input(x[start:start + 480].reshape(1, 480), 0)
                interp.invoke()
                n += 1
        return n

    return best_ms_per_frame(one_pass, reps)


def main() -> None:
    if not DATA.exists():
        sys.exit(f"reference recordings missing at {DATA}")
    raw = recordings()
    print("audio front end: ms per 20 ms frame (real-time factor = ms / 20; < 1 keeps up)")
    result = board(raw)
    if isinstance(result, str):
        print(f"  virtual board: skipped ({result})")
    else:
        heap, (mods, obj, frames, cold_ms, warm, alloc, locked, spent) = result
        cold, best = cold_ms / frames, min(warm) / frames
        print(f"  virtual board (MicroPython 1.27 wasm, rp2040), 1st pass: {cold:7.3f} ms  RTF {cold / FRAME_MS:6.3f}")
        print(f"  virtual board (MicroPython 1.27 wasm, rp2040), warm    : {best:7.3f} ms  RTF {best / FRAME_MS:6.3f}")
        total = sum(spent) or 1
        print("    per stage (each alone): " + ", ".join(
            f"{n} {s / frames:.2f} ms ({100 * s / total:.0f}%)" for n, s in zip(STAGES, spent)))
        print(f"    heap of {heap:,} B: modules {mods:,} B + front end object {obj:,} B = {mods + obj:,} B; "
              f"{alloc} B allocated by {frames} frames; heap_lock run: {locked}")
    ours = cpython(raw)
    print(f"  CPython {sys.version.split()[0]}, same code                      : {ours:7.3f} ms  RTF {ours / FRAME_MS:6.3f}")
    ref = tflm(raw)
    if isinstance(ref, str):
        print(f"  TFLM preprocessor: skipped ({ref})")
    else:
        print(f"  TFLM preprocessor (C++, this process)                : {ref:7.3f} ms  RTF {ref / FRAME_MS:6.4f}")
        print(f"  CPython / TFLM: {ours / ref:.0f}x" + ("" if isinstance(result, str) else
                                                       f"; virtual board / TFLM: {best / ref:.0f}x"))


if __name__ == "__main__":
    main()
