"""The zoo's gesture LSTM, whole inferences at each kernel level, inside a real MicroPython.

The model is tests/tools/keras_zoo.py's `lstm` (tf_keras LSTM over 20 steps of 6
features, 12 units, then Dense(4): 17,328 MACs in the LSTM, 48 in the Dense),
converted by edgeloop and run by the board's runtime in MicroPython's qemu port,
exactly as benchmarks/bench_mlperf.py runs MLPerf Tiny (its `run_core`: the model
in a ROMFS image, one warm-up inference, exact instruction counts of one
`invoke()` and of each op). The LSTM's gate MACs run in Python (portable), one
viper call per step (viper) or two elnative.mat_vec calls per step (native); the
rest of each step (TFLM's int16 gate arithmetic) is the portable Python at every
level. Every level's output is compared with TFLM's on the same input.

Needs EDGELOOP_QEMU_MICROPYTHON (Cortex-M0) and, for --cores m0,m7,
EDGELOOP_QEMU_MICROPYTHON_M7: the 960 KB-heap qemu-port builds of docs/mlperf.md.
TensorFlow with tf_keras builds the model. About 3 minutes per core (figures: docs/runtime-kernels.md).

    PYTHONPATH=host:firmware .venv/bin/python benchmarks/bench_lstm.py [--cores m0,m7] [--levels kernels,viper,native]
"""

from __future__ import annotations

import argparse
import io
import os
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # the checkout: tests.tools
sys.path.insert(0, str(ROOT / "benchmarks"))


def main() -> None:
    import numpy as np
    from bench_mlperf import FIRMWARE_ENV, LABEL, ops_list, run_core

    from edgeloop.convert.int8 import convert_tflite_bytes
    from edgeloop.native.build import native_module
    from edgeloop_fw.runtime.loader import Model
    from tests.tools import keras_zoo, qemu_mpy
    from tests.tools.runtime_helpers import tflm_run
    from tflite_micro.python.tflite_micro import runtime

    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--levels", default="kernels,viper,native")
    ap.add_argument("--cores", default="m0")
    args = ap.parse_args()
    levels = args.levels.split(",")
    cores = args.cores.split(",")
    firmware = {c: os.environ.get(FIRMWARE_ENV[c], "") for c in cores}
    missing = [FIRMWARE_ENV[c] for c in cores if not firmware[c]]
    if missing:
        sys.exit(f"{' and '.join(missing)} unset: path of a qemu-port MicroPython firmware.elf with native code"
                 " (the 960 KB-heap builds of docs/mlperf.md)")
    with tempfile.TemporaryDirectory() as d:
        tflite = keras_zoo.to_tflite("lstm", d)
        conv = convert_tflite_bytes(tflite, "lstm")
        blob = conv.data
        inp = Model(io.BytesIO(blob)).inputs[0]
        x = keras_zoo.int8_inputs("lstm", inp.scale, inp.zero_point)[0]  # a calibration-like window
        want = tflm_run(runtime.Interpreter.from_bytes(tflite), x).tobytes()
        ops = ops_list(blob)
        lstm_at = ops.index("lstm")
        macs = 20 * 4 * 12 * (6 + 12)
        print(f"gesture LSTM (keras_zoo 'lstm'): ops {ops}, LSTM {macs:,} MACs, model file {len(blob):,} B")
        rows = []
        for core in cores:
            mod = native_module(qemu_mpy.ARCH[core], Path(d) / core) if "native" in levels else None
            res = run_core(firmware[core], core, blob, np.ascontiguousarray(x).tobytes(), levels, mod, set(ops))
            for level in levels:
                total, per_op, out, used = res[level]
                rows.append((core, level, total, per_op[lstm_at], used["lstm"], out == want))
    print("\n| core | level | instructions/inference | LSTM op | LSTM per MAC | vs portable | equal TFLM |")
    print("|---|---|---|---|---|---|---|")
    base = {core: op for core, level, _t, op, _u, _s in rows if level == "kernels"}
    for core, level, total, op, used, same in rows:
        vs = f"{base[core] / op:.2f}x" if core in base else "-"
        print(f"| {core.upper()} | {LABEL[level]} ({used}) | {total:,} | {op:,} | {op / macs:.1f} | {vs} | {same} |")
    if not all(r[5] for r in rows):
        sys.exit("some outputs differ from TFLM")


if __name__ == "__main__":
    main()
