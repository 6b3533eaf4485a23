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

`--qemu` instead counts instructions per 20 ms hop inside a real MicroPython
(MicroPython's qemu port on Cortex-M0 and Cortex-M7, the board's .mpy files,
elnative.mpy; tests.tools.qemu_kws): the front end alone (native C, viper and
portable Python, features checked against TFLM), one models/keyword inference, and
steady spotter hops with the model every 4th hop, printed next to the goals
(M0: 665,000 = 25 % of RP2040's 133 MHz per 20 ms; M7: 480,000 = 5 % of Nicla
Vision's 480 MHz). Needs EDGELOOP_QEMU_MICROPYTHON / EDGELOOP_QEMU_MICROPYTHON_M7
(960 KB-heap qemu-port builds, docs/mlperf.md); ~3 minutes per core.

    PYTHONPATH=host:firmware .venv/bin/python benchmarks/bench_kws.py --qemu
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


GOALS = {"m0": (665_000, "25 % of RP2040's 133 MHz"), "m7": (480_000, "5 % of Nicla Vision's 480 MHz")}
QEMU_ENV = {"m0": "EDGELOOP_QEMU_MICROPYTHON", "m7": "EDGELOOP_QEMU_MICROPYTHON_M7"}


def qemu_main() -> None:
    """Instructions per 20 ms hop inside MicroPython on emulated Cortex-M0/M7 (exact counts)."""
    import os
    import tempfile

    from edgeloop.native.build import native_module
    from tests.tools import qemu_kws, qemu_mpy
    from tests.tools.kws_reference import tflm_stream_features

    x = stream()[:32000]
    want = tflm_stream_features(x[:16000]).tobytes()
    kw = ROOT / "models" / "keyword"
    blob = (kw / "keyword.elm").read_bytes()
    print(f"continuous keyword spotting inside MicroPython (qemu port), models/keyword every {EVERY} hops;"
          " instructions (exact QEMU counts)")
    for core in ("m0", "m7"):
        firmware = os.environ.get(QEMU_ENV[core])
        if not firmware:
            print(f"\n{core}: skipped ({QEMU_ENV[core]} unset: path of a qemu-port firmware.elf with native code)")
            continue
        with tempfile.TemporaryDirectory() as d:
            mod = native_module(qemu_mpy.ARCH[core], Path(d))
        r = qemu_kws.run(firmware, core, blob, x.astype("<i2").tobytes(), mod, kws_hops=8)
        for name in ("fe_native", "fe_portable", "fe_viper"):
            got = bytes.fromhex(r[name][1].split()[-1])
            if got != want[:len(got)]:
                raise SystemExit(f"{core} {name}: features differ from TFLM's")
        mean = {k: sum(v[0]) / len(v[0]) for k, v in r.items()}
        goal, why = GOALS[core]
        hop = mean["kws_native"]
        print(f"\n{core}:")
        print(f"  front end, native C (elnative.audio_frame), per hop  {mean['fe_native']:>12,.0f}   (49 hops = TFLM's bytes)")
        print(f"  front end, portable Python, per hop                 {mean['fe_portable']:>12,.0f}   "
              f"({mean['fe_portable'] / mean['fe_native']:.0f}x the native; {len(r['fe_portable'][0])} hops = TFLM's bytes)")
        print(f"  front end, viper level (audio/viper.py), per hop    {mean['fe_viper']:>12,.0f}   "
              f"({mean['fe_portable'] / mean['fe_viper']:.1f}x fewer than portable; "
              f"{len(r['fe_viper'][0])} hops = TFLM's bytes)")
        print(f"  models/keyword inference (native kernels)           {mean['invoke']:>12,.0f}")
        print(f"  spotter hop, native front end, window in place      {hop:>12,.0f}   "
              f"goal <= {goal:,} ({why}): {'met' if hop <= goal else 'MISSED'}, {hop / goal:.0%} of it")
        print(f"  spotter hop, native front end, through feed()       {mean['kws_native_feed']:>12,.0f}   "
              "(the Windower copies 320 + 480 samples in Python)")
        print(f"  spotter hop, viper front end, window in place       {mean['kws_viper']:>12,.0f}   "
              f"({mean['kws_viper'] / hop:.1f}x)")
        print(f"  spotter hop, portable front end, window in place    {mean['kws_portable']:>12,.0f}   "
              f"({mean['kws_portable'] / hop:.1f}x)")


def main():
    if "--qemu" in sys.argv[1:]:
        qemu_main()
        return
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
