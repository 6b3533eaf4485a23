"""Instructions per MAC of edgeloop's C kernels on emulated Cortex-M0 and Cortex-M7.

Exact instruction counts from QEMU (tests.tools.cortexm.count_regions:
translated-block sizes summed over the blocks executed between two marker
functions), validated first on a SUBS/BNE loop of known length. Each figure
is one whole kernel call (im2col, requantization and call overhead included)
divided by the layer's nominal MACs, printed next to Arm CMSIS-NN's and a
TFLM-style reference port's figures on the same shapes (measured with the
same method, /work/shared/notes/cortex-m-facts.md). The outputs are also
checked against TFLM in the same run. Goals: <= 5 on M0+, <= 2 on M7.

Then, when EDGELOOP_QEMU_MICROPYTHON (Cortex-M0, microbit) and
EDGELOOP_QEMU_MICROPYTHON_M7 (Cortex-M7, mps2-an500) name locally built
qemu-port MicroPython firmwares with native code, micro_speech's depthwise
and FC layers run through the board's runtime at each level (portable Python,
viper, the native module) with the op's eval counted exactly the same way
(tests.tools.qemu_mpy); those rows include the Python call and the
weights streamed from the model file, which the bare-metal rows do not.
The MicroPython part takes ~20 minutes (portable depthwise is ~5x10^8
instructions per core, logged block by block).

The model file sits in a ROMFS image (memory-mapped, as in a board's flash),
so the native level reads the weights in place; the last column is the native
level's count over the same kernel's bare-metal count in this run.

Run: .venv/bin/python benchmarks/bench_native_cm.py [--levels native] [--layers speech_fc,pw_dscnn]
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # the checkout: tests.tools

# (M0 CMSIS-NN, M0 TFLM-style ref, M7 CMSIS-NN, M7 TFLM-style ref), instructions per MAC
ANCHORS = {
    "speech_dw": ("depthwise 49x40x1, 10x8, mult 8, stride 2", (7.76, 62.8, 4.49, 30.4)),
    "kws_conv": ("conv 49x40x1->8, 10x8, stride 2 (keyword)", (float("nan"),) * 4),
    "speech_fc": ("fully connected 4000->4", (6.54, 11.0, 1.90, 7.02)),
    "anchor_conv": ("conv 25x20x8->16, 3x3, stride 1", (8.69, 18.9, 2.92, 12.2)),
    "anchor_fc": ("fully connected 256->64", (6.43, 11.5, 2.08, 7.26)),
    # no anchor measured for this shape (nan)
    "dw1_dscnn": ("depthwise 25x5x64, 3x3, mult 1 (DS-CNN)", (float("nan"),) * 4),
    "pw_dscnn": ("conv 1x1 25x5x64->64 (DS-CNN)", (float("nan"),) * 4),
}
GOALS = {"m0": 5.0, "m7": 2.0}


def main() -> None:
    import argparse

    from tests.tools import cortexm_layers
    from tests.tools import cortexm

    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--levels", default="kernels,viper,native", help="levels run inside MicroPython")
    ap.add_argument("--layers", default=",".join(LEVEL_LAYERS), help="layers run inside MicroPython")
    args = ap.parse_args()

    pairs = cortexm_layers.cases(cortexm_layers.BENCH)
    cases = [c for c, _ in pairs]
    counts, exact = {}, {}
    with tempfile.TemporaryDirectory() as d:
        for core in ("m0", "m7"):
            elf = cortexm.build_elf(core, cortexm.program(cases, cortexm_layers.SCRATCH, repeat_calib=(100, 200)), Path(d) / core)
            outs = cortexm.run(core, elf)
            exact[core] = all(outs.get(c.name) == want for c, want in pairs)
            regions = cortexm.count_regions(core, elf)
            a, b = regions[:2]
            if b - a != 200:
                raise SystemExit(f"instruction counter check failed on {core}: {a}, {b} (want a difference of 200)")
            counts[core] = dict(zip((c.name for c in cases), regions[2:]))
            print(f"{core}: counter check SUBS/BNE n=100 -> {a} instructions (2n+1 + 3 call), n=200 -> {b}: OK;"
                  f" outputs equal TFLM: {exact[core]}")
    print()
    print(f"{'layer':44} {'MACs':>8} | {'M0 edgeloop':>11} {'CMSIS-NN':>8} {'TFLM ref':>8}"
          f" | {'M7 edgeloop':>11} {'CMSIS-NN':>8} {'TFLM ref':>8}")
    for c in cases:
        label, (m0c, m0r, m7c, m7r) = ANCHORS[c.name]
        m0 = counts["m0"][c.name] / c.macs
        m7 = counts["m7"][c.name] / c.macs
        BARE["m0"][c.name], BARE["m7"][c.name] = m0, m7
        print(f"{label:44} {c.macs:8d} | {m0:11.2f} {m0c:8.2f} {m0r:8.1f} | {m7:11.2f} {m7c:8.2f} {m7r:8.1f}")
    print()
    for core, goal in GOALS.items():
        worst = max(counts[core][c.name] / c.macs for c in cases)
        print(f"{core}: worst {worst:.2f} instructions/MAC, goal <= {goal}: {'met' if worst <= goal else 'NOT met'}")
    levels_in_micropython(tuple(args.levels.split(",")), tuple(args.layers.split(",")))


LEVEL_LAYERS = ("speech_dw", "speech_fc", "anchor_fc", "pw_dscnn", "dw1_dscnn")
FIRMWARE_ENV = {"m0": "EDGELOOP_QEMU_MICROPYTHON", "m7": "EDGELOOP_QEMU_MICROPYTHON_M7"}


def levels_in_micropython(levels=("kernels", "viper", "native"), layers=LEVEL_LAYERS) -> None:
    """Portable, viper and native levels of micro_speech's two layers inside a real
    MicroPython (the qemu port), the heavy op's instructions counted exactly."""
    from tests.tools import cortexm_layers
    from edgeloop.convert.int8 import convert_tflite_bytes
    from tests.tools import qemu_mpy
    from edgeloop.native.build import native_module

    firmware = {core: os.environ.get(env, "") for core, env in FIRMWARE_ENV.items()}
    missing = [env for core, env in FIRMWARE_ENV.items() if not firmware[core]]
    if missing:
        print(f"portable/viper/native in MicroPython: skipped ({' and '.join(missing)} unset: path of a qemu-port"
              f" MicroPython firmware.elf with native code, {FIRMWARE_ENV['m0']} for Cortex-M0 (microbit),"
              f" {FIRMWARE_ENV['m7']} for Cortex-M7 (mps2-an500))")
        return
    print()
    print("In MicroPython (qemu port), instructions per MAC of the heavy op's eval, weights read in place from a ROMFS model"
          " file; every level's output compared with TFLM:")
    print(f"{'layer':44} {'core':4} | {'portable':>9} {'viper':>7} {'native':>7} | {'bare C':>7} {'CMSIS-NN':>8}"
          f" | {'native/bare':>11} | equal TFLM")
    with tempfile.TemporaryDirectory() as d:
        for name in layers:
            tflite, x, want = cortexm_layers.build(name)
            blob = convert_tflite_bytes(tflite, name).data
            macs = _macs(blob)
            label, (m0c, _m0r, m7c, _m7r) = ANCHORS[name]
            for core in ("m0", "m7"):
                mod = native_module(qemu_mpy.ARCH[core], Path(d) / core)
                runs = qemu_mpy.level_runs(firmware[core], core, blob, x, levels, mod)
                per = {lv: n / macs for lv, (n, _out, _used) in runs.items()}
                per = {lv: per.get(lv, float("nan")) for lv in ("kernels", "viper", "native")}
                ok = all(out == want and lv in used for lv, (_n, out, used) in runs.items())
                bare = BARE[core].get(name, float("nan"))
                print(f"{label:44} {core:4} | {per['kernels']:9.1f} {per['viper']:7.1f} {per['native']:7.2f} |"
                      f" {bare:7.2f} {m0c if core == 'm0' else m7c:8.2f} | {per['native'] / bare:11.3f} | {ok}")


BARE: dict = {"m0": {}, "m7": {}}  # bare-metal C per MAC from main(), for the side-by-side rows


def _macs(blob: bytes) -> int:
    import io

    from tests.tools.native_params import conv_args, depthwise_args, fc_args
    from edgeloop_fw.runtime.loader import Model

    for _o, n, p, _t in Model(io.BytesIO(blob)).ops:
        if n == "fully_connected":
            a = fc_args(p)
            return a["batches"] * a["depth"] * a["units"]
        if n == "depthwise_conv_2d":
            g = depthwise_args(p)["geom"]
            return g["batches"] * g["out_h"] * g["out_w"] * g["out_c"] * g["filter_h"] * g["filter_w"]
        if n == "conv_2d":
            g = conv_args(p)["geom"]
            return g["batches"] * g["out_h"] * g["out_w"] * g["out_c"] * g["filter_h"] * g["filter_w"] * g["in_c"]
    raise SystemExit("no heavy op in the layer model")

if __name__ == "__main__":
    main()
