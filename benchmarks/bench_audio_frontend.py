"""Time per 20 ms frame of the audio front end, next to TFLM's preprocessor in the same run.

    .venv/bin/python benchmarks/bench_audio_frontend.py

A frame is 30 ms of audio (480 samples) taken every 20 ms, so a front end
keeps up with a live microphone only if one frame takes < 20 ms: the
real-time factor printed is time per frame / 20 ms (< 1 keeps up).

It measures, over the 196 frames of the four 1 s recordings:
- the virtual board (real MicroPython 1.27, WebAssembly build under Node on
  this x86 host), first pass (V8 still compiling the interpreter) and best
  of three later passes, plus a per-stage split; and the front end's heap;
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
import time
import wave
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "firmware"))
sys.path.insert(0, str(ROOT / "firmware"))
DATA = ROOT / ".." / "shared" / "data" / "tflm" / "micro_speech"
CLIPS = ("yes", "no", "silence", "noise")
FRAME_MS = 20.0

BOARD = """
import sys, gc, time, array
sys.path.append('/lib')
from edgeloop_fw.audio import AudioFrontend, frame_count
from edgeloop_fw.audio.filterbank import energy, filterbank, filterbank_sqrt
from edgeloop_fw.audio.logscale import filterbank_log, to_int8
from edgeloop_fw.audio.noise import pcan, spectral_subtraction
from edgeloop_fw.audio.window import apply_window, fft_auto_scale
clips = [array.array('h', open('/%s.raw' % c, 'rb').read()) for c in CLIPS]
gc.collect()
base = gc.mem_alloc()
fe = AudioFrontend()
gc.collect()
heap = gc.mem_alloc() - base
frames = 0
passes = []
for rep in range(4):
    t0 = time.ticks_ms()
    for samples in clips:
        fe.reset()
        for f in range(frame_count(len(samples))):
            fe.process(samples, f * 320)
            frames += 1 if rep == 0 else 0
    passes.append(time.ticks_diff(time.ticks_ms(), t0))
# per stage, on the same frames
p = fe.params
nch = p.NUM_CHANNELS
names = ('window', 'auto-scale', 'fft', 'energy', 'filterbank', 'sqrt', 'spectral-sub', 'pcan', 'log', 'int8')
spent = [0] * len(names)
def stages(samples, off):
    t = [time.ticks_us()]
    apply_window(samples, off, p.WINDOW, p.WINDOW_SHIFT, fe.windowed); t.append(time.ticks_us())
    bits = fft_auto_scale(fe.windowed, fe.frame_length); t.append(time.ticks_us())
    fe._fft.run(fe.windowed, fe.spectrum_re, fe.spectrum_im); t.append(time.ticks_us())
    energy(fe.spectrum_re, fe.spectrum_im, p.ENERGY_START, p.ENERGY_END, fe.energy); t.append(time.ticks_us())
    filterbank(fe.energy, p.FB_WEIGHTS, p.FB_UNWEIGHTS, p.FB_FREQ_STARTS, p.FB_WEIGHT_STARTS, p.FB_WIDTHS, nch, fe.filterbank); t.append(time.ticks_us())
    filterbank_sqrt(fe.filterbank, nch, bits, fe.amplitude); t.append(time.ticks_us())
    spectral_subtraction(p, fe.amplitude, nch, fe.noise, fe.denoised); t.append(time.ticks_us())
    pcan(p.PCAN_LUT, p.PCAN_SNR_SHIFT, fe.noise, fe.denoised, nch, fe.gained); t.append(time.ticks_us())
    filterbank_log(fe.gained, nch, p.LOG_CORRECTION_BITS, p.LOG_OUTPUT_SCALE, p.LOG_LUT, fe.log); t.append(time.ticks_us())
    to_int8(p, fe.log, nch, fe.features); t.append(time.ticks_us())
    for i in range(len(names)):
        spent[i] += time.ticks_diff(t[i + 1], t[i])
for samples in clips:
    fe.reset()
    for f in range(frame_count(len(samples))):
        stages(samples, f * 320)
print('RESULT', repr((heap, frames, passes, spent)))
"""


def recordings() -> dict[str, bytes]:
    out = {}
    for c in CLIPS:
        with wave.open(str(DATA / f"{c}_1000ms.wav")) as w:
            out[c] = w.readframes(w.getnframes())
    return out


def board(raw: dict[str, bytes]):
    import wasm_board
    why = wasm_board.available()
    if why:
        return why
    fw = ROOT / "firmware" / "edgeloop_fw"
    files = {"/lib/edgeloop_fw/__init__.py": b""}
    for p in sorted((fw / "audio").glob("*.py")):
        files[f"/lib/edgeloop_fw/audio/{p.name}"] = p.read_bytes()
    files.update({f"/{c}.raw": b for c, b in raw.items()})
    out = wasm_board.run("CLIPS = %r\n" % (CLIPS,) + BOARD, files, timeout=900)
    line = next(x for x in out.splitlines() if x.startswith("RESULT"))
    return ast.literal_eval(line.split(" ", 1)[1])


def cpython(raw: dict[str, bytes], reps: int = 3) -> float:
    from edgeloop_fw.audio import AudioFrontend, frame_count
    clips = [array.array("h", b) for b in raw.values()]
    fe = AudioFrontend()
    best = float("inf")
    for _ in range(reps):
        n = 0
        t0 = time.perf_counter()
        for s in clips:
            fe.reset()
            for f in range(frame_count(len(s))):
                fe.process(s, f * 320)
                n += 1
        best = min(best, (time.perf_counter() - t0) / n)
    return best * 1e3


def tflm(raw: dict[str, bytes], reps: int = 3) -> float | str:
    try:
        from tflite_micro.python.tflite_micro import runtime
    except ImportError:
        return "tflite-micro not installed"
    interp = runtime.Interpreter.from_file(str(DATA / "audio_preprocessor_int8.tflite"))
    clips = [np.frombuffer(b, np.int16) for b in raw.values()]
    best = float("inf")
    for _ in range(reps):
        n = 0
        t0 = time.perf_counter()
        for x in clips:
            interp.reset()
            for start in range(0, len(x) - 480 + 1, 320):
                interp.set_input(x[start:start + 480].reshape(1, 480), 0)
                interp.invoke()
                n += 1
        best = min(best, (time.perf_counter() - t0) / n)
    return best * 1e3


def main() -> None:
    if not DATA.exists():
        sys.exit(f"reference recordings missing at {DATA}")
    raw = recordings()
    print("audio front end: ms per 20 ms frame (real-time factor = ms / 20; < 1 keeps up)")
    result = board(raw)
    if isinstance(result, str):
        print(f"  virtual board: skipped ({result})")
    else:
        heap, frames, passes, spent = result
        cold, warm = passes[0] / frames, min(passes[1:]) / frames
        print(f"  virtual board (MicroPython 1.27 wasm), first pass: {cold:8.3f} ms  RTF {cold / FRAME_MS:6.3f}")
        print(f"  virtual board (MicroPython 1.27 wasm), warm      : {warm:8.3f} ms  RTF {warm / FRAME_MS:6.3f}")
        total = sum(spent) or 1
        names = ("window", "auto-scale", "fft", "energy", "filterbank", "sqrt", "spectral-sub",
                 "pcan", "log", "int8")
        print("    per stage (warm): " + ", ".join(
            f"{n} {s / frames / 1e3:.2f} ms ({100 * s / total:.0f}%)" for n, s in zip(names, spent)))
        print(f"    front end heap on the board (state + tables): {heap} B")
    ours = cpython(raw)
    print(f"  CPython {sys.version.split()[0]}, same code                : {ours:8.3f} ms  RTF {ours / FRAME_MS:6.3f}")
    ref = tflm(raw)
    if isinstance(ref, str):
        print(f"  TFLM preprocessor: skipped ({ref})")
    else:
        print(f"  TFLM preprocessor (C++, this process)         : {ref:8.3f} ms  RTF {ref / FRAME_MS:6.4f}")
        print(f"  CPython / TFLM: {ours / ref:.0f}x")


if __name__ == "__main__":
    main()
