"""MACs per second of the viper kernels next to the portable ones, same MicroPython, same run.

    EDGELOOP_MICROPYTHON=/path/to/micropython .venv/bin/python benchmarks/bench_viper.py

The binary must have native emitters (a unix build: arch x64). The firmware
is compiled as `edgeloop deploy` would for that arch (viper files by
mpy-cross -march), then micro_speech (real features of the `yes` clip) and
hello_world run in one process under both kernel levels; every op is timed
with the interpreter's probe hook (best of several runs), and the outputs of
the two levels are compared byte for byte. x64 figures show the ratio, not
what a Cortex-M gets: see ../shared/notes/cortex-m-facts.md for those.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # the checkout: tests.tools
DATA = ROOT / ".." / "shared" / "data" / "tflm"
REPEAT = 7

BOARD = """
import time
m = Model(open('model.elm', 'rb'))
x = open('x.bin', 'rb').read()
outs = {}
for level in (('kernels',), None):
    it = Interpreter(m) if level is None else Interpreter(m, level)
    name = 'viper' if level is None else 'portable'
    best = None
    marks = []
    def probe(i):
        marks.append(time.ticks_us())
    for r in range(REPEAT):
        del marks[:]
        it.set_input(x)
        marks.append(time.ticks_us())
        it.invoke(probe)
        per = [time.ticks_diff(marks[i + 1], marks[i]) for i in range(len(marks) - 1)]
        best = per if best is None else [min(a, b) for a, b in zip(best, per)]
    print('TIMES', name, ' '.join(str(t) for t in best), ' '.join(k + '=' + v for k, v in it.kernel_levels.items()))
    outs[name] = it.get_output()
print('SAME', outs['viper'] == outs['portable'])
"""


def run_model(root: Path, tflite: Path, x: bytes, micropython: str):
    from tests.tools import viper_board
    from edgeloop.convert.int8 import convert_tflite

    converted = convert_tflite(tflite)
    (root / "model.elm").write_bytes(converted.data)
    (root / "x.bin").write_bytes(x)
    out = viper_board.run(root, BOARD.replace("REPEAT", str(REPEAT)))
    times = {}
    for line in out.splitlines():
        if line.startswith("TIMES"):
            _, name, *rest = line.split()
            times[name] = [int(t) for t in rest if "=" not in t]
    same = "SAME True" in out
    return converted.ops, times, same


def main() -> int:
    from tests.tools import viper_board

    why = viper_board.unavailable()
    if why:
        print(f"bench_viper: skipped: {why}")
        return 0
    from tests.tools.runtime_helpers import speech_features

    micropython = viper_board.binary()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        arch = viper_board.install(root, root / "cache")
        print(f"MicroPython {micropython} (native arch {arch}), best of {REPEAT} runs per op")
        print(f"{'model/op':34} {'MACs':>8} {'portable us':>12} {'viper us':>9} "
              f"{'portable MAC/s':>15} {'viper MAC/s':>12} {'ratio':>6}")
        jobs = [("micro_speech", DATA / "micro_speech" / "micro_speech_quantized.tflite",
                 speech_features("yes").tobytes()),
                ("hello_world", DATA / "hello_world" / "hello_world_int8.tflite", bytes([40]))]
        for label, path, x in jobs:
            if not path.exists():
                print(f"{label}: skipped: {path} is absent")
                continue
            ops, times, same = run_model(root, path, x, micropython)
            tp, tv = times["portable"], times["viper"]
            total = [0, 0, 0]
            for op, a, b in zip(ops, tp, tv):
                total[0] += op.macs
                total[1] += a
                total[2] += b
                if not op.macs:
                    print(f"  {label + '/' + op.name:32} {'-':>8} {a:12d} {b:9d}")
                    continue
                print(f"  {label + '/' + op.name:32} {op.macs:8d} {a:12d} {b:9d} "
                      f"{op.macs / a * 1e6:15.3g} {op.macs / b * 1e6:12.3g} {a / b:6.1f}x")
            m, a, b = total
            print(f"  {label + ' whole inference':32} {m:8d} {a:12d} {b:9d} "
                  f"{m / a * 1e6:15.3g} {m / b * 1e6:12.3g} {a / b:6.1f}x   outputs identical: {same}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
