"""Instructions per MAC of the Xtensa loops (viper/xtensa.py) next to viper's, on xtensawin.

Both are the exact machine code mpy-cross writes for an ESP32-S3 (`-march=xtensawin`),
run under qemu-xtensa (core dc233c: windowed ABI, MAC16, zero-overhead loops) and
counted with tests/tools/qemu_count_plugin.c (tests.tools.xtensa_qemu).

- "asm": every call the viper kernels would make for the layer (tests.tools.xtensa_layers:
  FULLY_CONNECTED several rows per call, CONV_2D/DEPTHWISE a run of output pixels per call),
  whole calls (entry, set-up, loops, return) over the layer's MACs; the outputs are checked
  against TFLM in the same run. Not included: the Python call from viper (one per call
  listed) and the requantization, which stays in viper.
- "asm loop": the function the layer's inner loop is in, and its slope: one more block of
  four MACs in the innermost loop (dw3: one more output of a block, over its nine MACs).
- The MLPerf Tiny KWS DS-CNN: each of its layer shapes, and the MAC-weighted whole model.
- "viper loop": viper's own inner MAC loop (the same statements as the kernel's, compiled
  by the same mpy-cross for xtensawin), run under the same QEMU with a stand-in function
  table (its argument conversions) and counted the same way; the slope between 64 and
  1064 iterations, i.e. the loop alone, none of the kernel around it.

Goal: <= 8 instructions per MAC (viper's whole-op figure on Cortex-M is ~40-50,
docs/native-modules.md). Run: .venv/bin/python benchmarks/bench_xtensa.py
"""

from __future__ import annotations

import struct
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # the checkout: tests.tools

GOAL = 8.0
CASES = {
    "speech_fc": "fully connected 4000->4",
    "anchor_fc": "fully connected 256->64",
    "anchor_conv": "conv 25x20x8->16, 3x3",
    "speech_dw": "depthwise 49x40x1, 10x8, mult 8, stride 2",
    "dw1_dscnn": "depthwise 25x5x64, 3x3, mult 1 (DS-CNN)",
}
# The MLPerf Tiny KWS DS-CNN (/work/shared/data/mlperf_tiny/kws_ref_model.tflite): its
# layer shapes and how often each occurs; the counts depend on the shapes only.
DSCNN = (
    ("conv_dscnn", "conv 49x10x1->64, 10x4, stride 2", 1),
    ("dw1_dscnn", "depthwise 25x5x64, 3x3, mult 1", 4),
    ("pw_dscnn", "conv 25x5x64->64, 1x1", 4),
    ("fc_dscnn", "fully connected 64->12", 1),
)
# Viper's inner loops, statement for statement as in viper/*.py (FC; CONV_2D rows and
# DEPTHWISE with dilation 1 and one channel; DEPTHWISE over channels, x strided).
VIPER = {
    "fully_connected": """
@micropython.viper
def mac(acc: int, i: int, w: ptr8, x: ptr8, n: int, off: int) -> int:
    while i < n:
        acc += ((w[i] ^ 0x80) - 0x80) * ((x[i] ^ 0x80) - 0x80)
        i += 1
    return acc
""",
    "conv_2d": """
@micropython.viper
def mac(acc: int, i: int, w: ptr8, x: ptr8, n: int, off: int) -> int:
    while i < n:
        acc += ((w[i] ^ 0x80) - 0x80) * ((x[i] ^ 0x80) + off)
        i += 1
    return acc
""",
    "depthwise_conv_2d": """
@micropython.viper
def mac(acc: int, i: int, w: ptr8, x: ptr8, n: int, st: int) -> int:
    j = 0
    while i < n:
        acc += ((w[i] ^ 0x80) - 0x80) * ((x[j] ^ 0x80) + 3)
        j += st
        i += 1
    return acc
""",
}


def viper_text(source: str) -> bytes:
    """The machine code of the one viper function in `source`, compiled for xtensawin
    (the .mpy's first child raw code: uint(len << 3 | kind 2) and the text)."""
    from edgeloop.deploy.mpy import compile_source
    from tests.tools.xtensa_qemu import _In

    mpy = compile_source(source.encode(), "viper_mac.py", arch="xtensawin")
    f = _In(mpy)
    f.take(4)
    n_qstr, n_obj = f.uint(), f.uint()
    for _ in range(n_qstr):
        n = f.uint()
        if not n & 1:
            f.take((n >> 1) + 1)
    for _ in range(n_obj):  # viper code refers to mp_fun_table through object 0 (type byte 0)
        if f.take(1)[0] > 4:
            raise SystemExit("a constant object with a payload: the reader does not skip those")
    kind_len = f.uint()
    f.take(kind_len >> 3)
    if f.uint() != 1:
        raise SystemExit("expected one function")
    kind_len = f.uint()
    assert kind_len & 3 == 2, "not viper code"
    return f.take(kind_len >> 3)


def viper_count(runner, code: bytes, ident: bytes, n: int) -> int:
    """One call of a viper function taking 6 arguments, with a function table whose
    entries 3, 4 (native_from_obj, native_to_obj) and 44 return their first argument:
    the arguments are then raw machine words. The function object's context gives the
    table (fun->context, context word 3 -> a pointer to the table)."""
    from tests.tools.xtensa_qemu import Buf

    w = bytes((7 * i + 3) & 0xFF for i in range(n))
    x = bytes((5 * i + 1) & 0xFF for i in range(4 * n))
    sizes = [8, 16, 4, 256, len(ident), 24, len(w), len(x)]
    at = runner.layout(code, sizes, 1)
    table = bytearray(256)
    for e in (3, 4, 44):
        struct.pack_into("<I", table, 4 * e, at[4])
    bufs = [struct.pack("<2I", 0, at[1]), struct.pack("<4I", 0, 0, 0, at[2]), struct.pack("<I", at[3]),
            bytes(table), ident, struct.pack("<6i", 0, 0, at[6], at[7], n, 1), w, x]
    _rets, _outs, counts = runner.run(code, bufs, [[Buf(0), 6, 0, Buf(5)]], count=True)
    return counts[0]


def requant_source() -> str:
    """A viper loop over outputs running the kernels' generated requantization (the setup
    and per-output blocks copied from viper/depthwise_conv_2d.py, markers to markers) on
    sums of both signs with a right shift, storing each byte: its slope is the per-output
    cost the Xtensa path leaves in viper."""
    import textwrap

    src = (ROOT / "firmware" / "edgeloop_fw" / "runtime" / "viper" / "depthwise_conv_2d.py").read_text()

    def block(start: str) -> str:
        a = src.index("\n", src.index(start)) + 1
        return textwrap.dedent(src[a:src.rindex("\n", a, src.index("# --- end generated ---", a)) + 1])

    return ("@micropython.viper\ndef mac(acc: int, i: int, w: ptr8, x: ptr8, n: int, off: int) -> int:\n"
            "    half = 0x20000000\n    half += half\n    mult = half + 0x1234567\n    shift = 0 - 7\n"
            "    zp = 3\n    lo = 0 - 128\n    hi = 127\n"
            + textwrap.indent(block("# --- generated requant setup: do not edit ---"), "    ")
            + "    j = 0\n    while j < n:\n        acc = j * 7919 - 4000000 + off\n"
            + textwrap.indent(block("# --- generated requant: do not edit ---"), "        ")
            + "        x[j & 63] = v\n        j += 1\n    return 0\n")


def main() -> None:
    import contextlib
    import io

    from edgeloop.convert.int8 import convert_tflite_bytes
    from edgeloop_fw.runtime.loader import Model
    from tests.tools import cortexm_layers, xtensa_layers, xtensa_qemu as xq
    from tests.tools.native_params import depthwise_args

    why = xq.unavailable()
    if why:
        raise SystemExit(why)
    src = ROOT / "firmware" / "edgeloop_fw" / "runtime" / "viper" / "xtensa.py"
    codes = xq.compile_asm(src.read_text(), "edgeloop_fw/runtime/viper/xtensa.py")
    runner = xq.Runner()
    ident = xq.compile_asm("@micropython.asm_xtensa\ndef ident(a2):\n    pass\n")["ident"]
    viper = {}
    for op, source in VIPER.items():
        code = viper_text(source)
        viper[op] = (viper_count(runner, code, ident, 1064) - viper_count(runner, code, ident, 64)) / 1000

    code = viper_text(requant_source())
    requant = (viper_count(runner, code, ident, 1064) - viper_count(runner, code, ident, 64)) / 1000

    # the innermost loops' slopes: 4 more MACs in each function
    slope = {}
    for fn in ("dot0", "dot", "dots"):
        prm = [struct.pack("<14i", n, 1, 0, 0, 3 if fn != "dot0" else 0, 0, 0, 2, 1, 0, 1, 0, 0, 0) for n in (64, 68)]
        bufs = [bytes(256), bytes(256)] + [prm[0], bytes(4), prm[1], bytes(4)]
        counts = runner.run(codes[fn], bufs, [[xq.Buf(0), xq.Buf(1), xq.Buf(2), xq.Buf(3)],
                                              [xq.Buf(0), xq.Buf(1), xq.Buf(4), xq.Buf(5)]], count=True)[2]
        slope[fn] = (counts[1] - counts[0]) / 4
    # dw3: one more output of a block (nine MACs)
    prm = [struct.pack("<14i", 3, 3, 0, 0, 3, 0, 0, 2, n, 1, 1, 0, 0, 0) for n in (8, 9)]
    bufs = [bytes(256), bytes(16)] + [prm[0], bytes(64), prm[1], bytes(64)]
    counts = runner.run(codes["dw3"], bufs, [[xq.Buf(0), xq.Buf(1), xq.Buf(2), xq.Buf(3)],
                                             [xq.Buf(0), xq.Buf(1), xq.Buf(4), xq.Buf(5)]], count=True)[2]
    slope["dw3"] = (counts[1] - counts[0]) / 9

    print("Xtensa (ESP32-S3, xtensawin) under qemu-xtensa dc233c: instructions per MAC, exact counts")
    print(f"{'layer':44} {'asm':>6} {'calls':>6} {'asm loop':>11} {'viper loop':>11} {'viper/asm':>10}  goal <= {GOAL:g}")
    ok = True
    done = {}

    def layer(case, label):
        nonlocal ok
        with contextlib.redirect_stdout(io.StringIO()):  # TensorFlow's export chatter
            tflite, x, want = cortexm_layers.build(case)
        blob = convert_tflite_bytes(tflite, case).data
        y, n, calls = xtensa_layers.run_layer(blob, x, codes, runner, count=True)
        kind = {"fc": "fully_connected", "conv": "conv_2d", "dw": "depthwise_conv_2d"}[cortexm_layers.LAYERS[case][0]]
        fn = {"fully_connected": "dot0", "conv_2d": "dot", "depthwise_conv_2d": "dots"}[kind]
        if kind == "depthwise_conv_2d" and "dw3" in {c[0] for c in xtensa_layers.plan(
                kind, depthwise_args(next(p for _o, k, p, _t in Model(io.BytesIO(blob)).ops if k == kind)), bytes(4096))}:
            fn = "dw3"
        macs = xtensa_layers.layer_macs(blob)
        per = n / macs
        ok &= y == want
        print(f"{label:44} {per:6.2f} {calls:6d} {fn:>5} {slope[fn]:5.2f} {viper[kind]:11.2f} {viper[kind] / per:9.1f}x"
              f"  {'met' if per <= GOAL else 'NOT met'}{'' if y == want else '  OUTPUT DIFFERS FROM TFLM'}")
        done[case] = (n, macs, calls, len(y))

    for case, label in CASES.items():
        layer(case, label)
    print()
    print("MLPerf Tiny KWS DS-CNN (kws_ref_model.tflite), its layer shapes:")
    for case, label, times in DSCNN:
        layer(case, f"{times} x {label}")
    n = sum(done[c][0] * t for c, _l, t in DSCNN)
    macs = sum(done[c][1] * t for c, _l, t in DSCNN)
    calls = sum(done[c][2] * t for c, _l, t in DSCNN)
    outs = sum(done[c][3] * t for c, _l, t in DSCNN)
    print(f"{'whole model, MAC loops only':44} {n / macs:6.2f} {calls:6d}  {n} instructions over {macs} MACs "
          f"({n / 240e3:.1f} ms at 240 MHz, 1 instruction per cycle)")
    print(f"{'requantization in viper, per output':44} {requant:6.1f}  x {outs} outputs = {requant * outs:.0f} "
          f"instructions ({requant * outs / 240e3:.1f} ms)")
    print(f"{'whole model, MAC loops + requantization':44} {(n + requant * outs) / macs:6.2f}  "
          f"{n + requant * outs:.0f} instructions ({(n + requant * outs) / 240e3:.1f} ms)")
    print(f"not counted: {calls} Python calls from viper into the loops, the pooling, softmax and each op's "
          "viper set-up; cycles (the LX7 stalls on some load-use pairs)")
    print("outputs equal TFLM's on every layer" if ok else "SOME OUTPUTS DIFFER FROM TFLM")
    if not ok:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
