"""Instructions per MAC of edgeloop's C kernels on emulated Cortex-M0 and Cortex-M7.

Exact instruction counts from QEMU (edgeloop.native.cortexm.count_regions:
translated-block sizes summed over the blocks executed between two marker
functions), validated first on a SUBS/BNE loop of known length. Each figure
is one whole kernel call (im2col, requantization and call overhead included)
divided by the layer's nominal MACs, printed next to Arm CMSIS-NN's and a
TFLM-style reference port's figures on the same shapes (measured with the
same method, /work/shared/notes/cortex-m-facts.md) and next to the portable
and viper levels (MicroPython int8 dot product on Cortex-M0, same notes; the
full layers are not measurable there: no MicroPython firmware for these QEMU
machines here). Goals: <= 5 on M0+, <= 2 on M7. The outputs are also
checked against TFLM in the same run.

Run: .venv/bin/python benchmarks/bench_native_cm.py
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "host"))

# (M0 CMSIS-NN, M0 TFLM-style ref, M7 CMSIS-NN, M7 TFLM-style ref), instructions per MAC
ANCHORS = {
    "speech_dw": ("depthwise 49x40x1, 10x8, mult 8, stride 2", (7.76, 62.8, 4.49, 30.4)),
    "speech_fc": ("fully connected 4000->4", (6.54, 11.0, 1.90, 7.02)),
    "anchor_conv": ("conv 25x20x8->16, 3x3, stride 1", (8.69, 18.9, 2.92, 12.2)),
    "anchor_fc": ("fully connected 256->64", (6.43, 11.5, 2.08, 7.26)),
}
PYTHON_M0, VIPER_M0 = 1034, 71  # int8 dot product on MicroPython, Cortex-M0 (notes)
GOALS = {"m0": 5.0, "m7": 2.0}


def main() -> None:
    import cortexm_layers
    from edgeloop.native import cortexm

    pairs = cortexm_layers.cases(cortexm_layers.BENCH)
    cases = [c for c, _ in pairs]
    counts, exact = {}, {}
    with tempfile.TemporaryDirectory() as d:
        for core in ("m0", "m7"):
            elf = cortexm.build_elf(core, cortexm.program(cases, 16384, repeat_calib=(100, 200)), Path(d) / core)
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
        print(f"{label:44} {c.macs:8d} | {m0:11.2f} {m0c:8.2f} {m0r:8.1f} | {m7:11.2f} {m7c:8.2f} {m7r:8.1f}")
    print()
    for core, goal in GOALS.items():
        worst = max(counts[core][c.name] / c.macs for c in cases)
        print(f"{core}: worst {worst:.2f} instructions/MAC, goal <= {goal}: {'met' if worst <= goal else 'NOT met'}")
    fw = os.environ.get("EDGELOOP_QEMU_MICROPYTHON")
    if not fw:
        print("portable/viper per layer: skipped (EDGELOOP_QEMU_MICROPYTHON is unset: path of a qemu-port "
              "Cortex-M0 MicroPython firmware.elf with native code)")
    else:
        print(f"portable/viper per layer on {fw}: not measured yet (only the module load is tested,"
              " tests/host/test_native_qemu_mpy.py)")
    print(f"levels above C on Cortex-M0 (int8 dot product, MicroPython, notes): portable Python ~{PYTHON_M0}/MAC,"
          f" viper ~{VIPER_M0}/MAC")


if __name__ == "__main__":
    main()
