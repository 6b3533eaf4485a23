"""Continuous keyword spotting inside a real MicroPython on emulated Cortex-M0/M7, counted.

The board's own code (edgeloop_fw.kws's KeywordSpotter, the audio front end, the
runtime, elnative.mpy) as deploy compiles it runs in MicroPython's qemu port
(tests.tools.qemu_mpy), fed a recorded stream 320 samples (20 ms) at a time. QEMU
counts exactly (TCG plugin, -icount) each hash() .. callable() region:
- every hop of the front end alone at the native level over the first clip (its
  features are printed: the test compares them with TFLM's);
- a few hops of the portable front end (same clip, features printed too);
- every hop of the clip at the viper level (audio/viper.py compiled for the core;
  features printed);
- one model invoke (native kernels first);
- steady-state spotter hops (ring full, model every `every` hops) with each front end,
  a multiple of `every` hops, so the model's cost is amortized as on a board: each
  30 ms window read in place (`push_audio`), and, with the native front end, 320 new
  samples per hop through `feed` (its Windower copies them in Python), and with the
  viper front end in place.
"""

from __future__ import annotations

import io
from pathlib import Path

from tests.tools import qemu_mpy

ROOT = Path(__file__).resolve().parents[2]
# the 960 KB-heap builds (docs/mlperf.md) need the M0 machine's RAM and flash raised
EXTRA_QEMU = {"m0": ("-global", "nrf51-soc.sram-size=1048576", "-global", "nrf51-soc.flash-size=4194304"), "m7": ()}

_BOARD = """
import gc
from array import array
from edgeloop_fw.runtime.loader import Model
from edgeloop_fw.runtime.interpreter import Interpreter
from edgeloop_fw.kws import KeywordSpotter
from edgeloop_fw.audio import AudioFrontend
try:  # the native level's weight buffer, allocated while the heap was in one piece
    from edgeloop_fw.runtime import native
    native._bufs[0] = PRE
except ImportError:
    pass
PRE = None
m = Model(F.pop('/model.bin'))
S = array('h', F.pop('/x.bin'))
gc.collect()
"""

_FE = """
fe = AudioFrontend(level={level!r})
fe.reset()
H = bytearray()
for f in range({frames}):
    gc.collect()
    hash(0)
    o = fe.process(S, f * 320)
    callable(0)
    H.extend(o)
print('FE', fe.level, H.hex())
fe = H = o = None
gc.collect()
"""

_INVOKE = """
it = Interpreter(m)
it.set_input(bytes({nbytes}))
it.invoke()
hash(0)
it.invoke()
callable(0)
print('INVOKE', it.kernel_levels)
it = None
gc.collect()
"""

_KWS = """
it = Interpreter(m)
sp = KeywordSpotter(it, every={every}, frontend=AudioFrontend(level={level!r}))
at = 0
if {feed}:  # 320 new samples per hop through the spotter's Windower
    while sp.frame_count < {warm}:
        sp.feed(S, at, 320)
        at += 320
    for k in range({hops}):
        gc.collect()  # outside the count: a collection the heap's history triggers mid-hop is not the hop's
        hash(0)
        sp.feed(S, at, 320)
        callable(0)
        at += 320
else:  # each 30 ms window read in place from the recording (as from a DMA ring)
    while sp.frame_count < {warm}:
        sp.push_audio(S, at)
        at += 320
    for k in range({hops}):
        gc.collect()
        hash(0)
        sp.push_audio(S, at)
        callable(0)
        at += 320
print('KWS', sp.frontend.level, sp.inferences)
it = sp = None
gc.collect()
"""


def board_files(arch: str, native_module: bytes | None, blob: bytes) -> dict[str, bytes]:
    """Runtime (only the model's kernels), audio front end with its table file, kws, window."""
    from edgeloop.deploy import mpy
    from edgeloop_fw.runtime.loader import Model

    ops = {n for _o, n, _p, _t in Model(io.BytesIO(blob)).ops}
    files = qemu_mpy.runtime_files(arch, native_module, ops)
    fw = ROOT / "firmware"
    for src in sorted((fw / "edgeloop_fw" / "audio").glob("*.py")) + [fw / "edgeloop_fw" / "kws.py",
                                                                          fw / "edgeloop_fw" / "window.py"]:
        rel = src.relative_to(fw).as_posix()
        data = src.read_bytes()
        files["/" + rel[:-3] + ".mpy"] = mpy.compile_source(
            data, rel, arch=arch if mpy.needs_native(rel, data) else None)  # audio/viper.py
    files["/edgeloop_fw/audio/micro_speech_params.bin"] = (
        fw / "edgeloop_fw" / "audio" / "micro_speech_params.bin").read_bytes()
    return files


def run(firmware: str, core: str, blob: bytes, stream: bytes, native_module: bytes | None, *,
        fe_frames=49, portable_frames=3, viper_frames=49, every=4, kws_hops=8, portable_kws=True,
        viper_kws=True, input_bytes=1960) -> dict:
    """Counts and outputs; see the module docstring. `stream`: int16 little-endian samples,
    at least (49 + kws_hops + 2) hops long."""
    plan = [("fe_native", fe_frames, _FE.format(level="native", frames=fe_frames)),
            ("fe_portable", portable_frames, _FE.format(level="portable", frames=portable_frames)),
            ("fe_viper", viper_frames, _FE.format(level="viper", frames=viper_frames)),
            ("invoke", 1, _INVOKE.format(nbytes=input_bytes)),
            ("kws_native", kws_hops, _KWS.format(every=every, level="native", warm=49, hops=kws_hops, feed=False)),
            ("kws_native_feed", kws_hops, _KWS.format(every=every, level="native", warm=49, hops=kws_hops,
                                                      feed=True))]
    if viper_kws:
        plan.append(("kws_viper", kws_hops, _KWS.format(every=every, level="viper", warm=49, hops=kws_hops,
                                                        feed=False)))
    if portable_kws:
        plan.append(("kws_portable", kws_hops, _KWS.format(every=every, level="portable", warm=49, hops=kws_hops,
                                                           feed=False)))
    outs = {}
    files = board_files(qemu_mpy.ARCH[core], native_module, blob)
    with qemu_mpy.QemuMicroPython(firmware, core, counted="plugin", qemu_args=("-icount", "shift=0", *EXTRA_QEMU[core])) as board:
        board.exec("PRE = bytearray(16384)")  # native.BUDGET, before the heap fragments
        for path, data in files.items():
            board.put(path, data)
        board.exec("try:\n from edgeloop_fw.runtime import native\nexcept ImportError:\n pass")
        board.put_stream("/model.bin", blob)
        board.put("/x.bin", stream)
        board.exec(_BOARD)
        for name, _n, code in plan:
            outs[name] = board.exec(code, timeout=7200).strip()
    regions = board.regions()
    want = sum(n for _name, n, _c in plan)
    if len(regions) != want:
        raise RuntimeError(f"counted {len(regions)} regions on {core}, expected {want}")
    result, at = {}, 0
    for name, n, _c in plan:
        result[name] = (regions[at:at + n], outs[name])
        at += n
    return result
