"""Continuous keyword spotting: cost per 20 ms of audio, next to TFLM doing the same work in the same run.

    .venv/bin/python benchmarks/bench_kws.py

The spotter (edgeloop_fw.kws) runs the front end on every 20 ms frame and
the model every `every` frames (4 = every 80 ms). It keeps up with a
microphone if frame time + inference time / every < 20 ms; the real-time
factor printed is that sum / 20 ms (< 1 keeps up).

Measured on TFLM's recordings back to back (silence, yes, silence, no,
noise, yes, silence: 349 frames):
- CPython running the board's own code (edgeloop_fw.kws + audio + runtime),
  for TFLM's micro_speech model and the shipped models/keyword model;
- TFLM (C++ via tflite-micro) in this process: its audio preprocessor per
  frame and the same .tflite per inference: the reference;
- the virtual board (real MicroPython, WebAssembly under Node, rp2040
  profile: the Pico's heap cap, firmware deployed as `edgeloop deploy` does,
  driven over the pty): the first 2 s, ms-resolution clock, ten 20 ms
  blocks per raw-REPL execution with only the work inside them timed. Nothing here measures an RP2040 (a Cortex-M0+ at
  133 MHz runs bytecode far slower than V8 runs the WebAssembly build).
"""

from __future__ import annotations

import io
import sys
import time
from array import array
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # the checkout: tests.tools
DATA = ROOT / ".." / "shared" / "data" / "tflm" / "micro_speech"
PARTS = ("silence", "yes", "silence", "no", "noise", "yes", "silence")
EVERY = 4


def stream() -> np.ndarray:
    from edgeloop.train.speech import read_wav16k
    return np.concatenate([read_wav16k(DATA / f"{p}_1000ms.wav") for p in PARTS])


def models() -> dict[str, tuple[bytes, bytes, list[str], dict]]:
    """name -> (.elm, .tflite, classes, spotter settings: TFLM's defaults, or the card's)."""
    from edgeloop import modelinfo
    from edgeloop.convert.int8 import convert_tflite

    speech = DATA / "micro_speech_quantized.tflite"
    kw = ROOT / "models" / "keyword"
    info = modelinfo.load(kw)
    return {
        "micro_speech": (convert_tflite(speech).data, speech.read_bytes(), ["silence", "unknown", "yes", "no"],
                         {"every": EVERY}),
        "models/keyword": ((kw / "keyword.elm").read_bytes(), (kw / "keyword.tflite").read_bytes(),
                           info.classes, info.kws),
    }


def cpython(elm: bytes, classes: list[str], settings: dict, x: np.ndarray) -> tuple[float, float, int]:
    """(ms per frame without inference, ms per inference, detections)."""
    from edgeloop_fw.kws import KeywordSpotter
    from edgeloop_fw.runtime.interpreter import Interpreter
    from edgeloop_fw.runtime.loader import Model

    k = KeywordSpotter(Interpreter(Model(io.BytesIO(elm))), classes, **settings)
    invoke = k.interpreter.invoke
    spent = [0.0]

    def timed():
        t = time.perf_counter()
        invoke()
        spent[0] += time.perf_counter() - t

    k.interpreter.invoke = timed
    t0 = time.perf_counter()
    k.feed(array("h", x.astype("<i2").tobytes()))
    total = time.perf_counter() - t0
    return (total - spent[0]) * 1000 / k.frame_count, spent[0] * 1000 / max(1, k.inferences), k.detections


def tflm(tflite: bytes, x: np.ndarray) -> tuple[float, float]:
    from tflite_micro.python.tflite_micro import runtime

    pre = runtime.Interpreter.from_file(str(DATA / "audio_preprocessor_int8.tflite"))
    model = runtime.Interpreter.from_bytes(tflite)
    shape = model.get_input_details(0)["shape"]
    frames = 1 + (len(x) - 480) // 320
    feats = np.zeros((frames, 40), np.int8)
    t0 = time.perf_counter()
    for f in range(frames):
        pre.set_input(x[f * 320:f * 320 + 480].reshape(1, 480), 0)
        pre.invoke()
        feats[f] = pre.get_output(0).reshape(-1)
    t1 = time.perf_counter()
    n = 0
    for end in range(48, frames, EVERY):
        model.set_input(feats[end - 48:end + 1].reshape(shape), 0)
        model.invoke()
        n += 1
    t2 = time.perf_counter()
    return (t1 - t0) * 1000 / frames, (t2 - t1) * 1000 / n


BOARD = [
    "from edgeloop_fw.runtime.loader import Model",
    "from edgeloop_fw.runtime.interpreter import Interpreter",
    "from edgeloop_fw.kws import KeywordSpotter",
    """
import time, array
k = KeywordSpotter(Interpreter(Model(open('/model.elm', 'rb'))), CLASSES, every=EVERY)
inv = k.interpreter.invoke
spent = [0]
def timed():
    t = time.ticks_ms()
    inv()
    spent[0] += time.ticks_diff(time.ticks_ms(), t)
k.interpreter.invoke = timed
block = array.array('h', bytes(640))
f = open('/stream.raw', 'rb')
total = 0
def step(blocks):
    global total
    t0 = time.ticks_ms()
    for _ in range(blocks):
        got = f.readinto(block) // 2
        if not got:
            break
        k.feed(block, 0, got)
    total += time.ticks_diff(time.ticks_ms(), t0)
""",
]
RESULT = "print('RESULT', total, spent[0], k.frame_count, k.inferences)"


def board(elm: bytes, classes: list[str], x: np.ndarray) -> tuple[float, float] | None:
    from tests.tools.fw_board import FirmwareBoard, unavailable

    if unavailable():
        return None
    audio = x[:32000].astype("<i2").tobytes()
    steps = [f"CLASSES = {classes!r}\nEVERY = {EVERY}"] + BOARD + ["step(10)"] * (len(audio) // 6400 + 1)
    with FirmwareBoard("rp2040") as fb:
        fb.put({"/model.elm": elm, "/stream.raw": audio})
        out = fb.run(steps + [RESULT], timeout=900)
    total, spent, frames, inferences = (int(v) for v in out.split("RESULT")[1].split()[:4])
    return (total - spent) / frames, spent / max(1, inferences)


def row(where: str, frame_ms: float, infer_ms: float) -> str:
    per20 = frame_ms + infer_ms / EVERY
    return f"  {where:<34} {frame_ms:9.3f} {infer_ms:12.3f} {per20 / 20:10.3f}"


def main():
    x = stream()
    print(f"keyword spotting, inference every {EVERY} frames (80 ms); {len(x) // 16} ms of audio")
    for name, (elm, tflite, classes, settings) in models().items():
        print(f"\n{name}:   {'':<24}ms/frame  ms/inference  real-time")
        f_ms, i_ms, det = cpython(elm, classes, settings, x)
        print(row("CPython (board code)", f_ms, i_ms) + f"   ({det} detections)")
        print(row("TFLM C++ (reference)", *tflm(tflite, x)))
        b = board(elm, classes, x)
        print(row("virtual board (rp2040, deployed)", *b) if b else "  virtual board: unavailable")


if __name__ == "__main__":
    main()
