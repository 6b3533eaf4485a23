"""MLPerf Tiny's four reference int8 models, whole inferences, inside a real MicroPython.

Each model (../shared/data/mlperf_tiny) is converted by edgeloop and run by the
board's runtime (its .mpy files as deploy compiles them) in MicroPython's qemu
port on Cortex-M0 (`microbit`) and Cortex-M7 (`mps2-an500`), at three kernel
levels: portable Python only, viper first, the native module (elnative.mpy)
first. The instructions of one `invoke()` are counted exactly by QEMU (TCG
plugin tests/tools/qemu_count_plugin.c, the same counting as the trace log, run
under -icount shift=0 so the 1 ms tick follows the instructions, not the host's
load), after one uncounted warm-up inference; a second counted inference gives
the per-op split. The output bytes of every level are compared with TFLM's on
the same seeded random input.

The model file is placed in a ROMFS image (MicroPython's memory-mapped
read-only filesystem) that QEMU's generic loader puts in the emulated flash
(M0) or RAM (M7), mounted with `vfs.VfsRom` (the 140 KB heap of the port
cannot hold the 285 KB VWW and AD files): as on a board whose model sits in a
ROMFS partition, the native kernels read weights in place (Model.mapped); from
a littlefs file they would be copied in groups first.

The published MLPerf Tiny keyword-spotting results are cycles; QEMU counts
instructions (a Cortex-M0+ spends two cycles on loads, stores and taken
branches, so ratios to the M0+ anchor flatter edgeloop).

Needs EDGELOOP_QEMU_MICROPYTHON (Cortex-M0) and EDGELOOP_QEMU_MICROPYTHON_M7
(Cortex-M7): local builds of MicroPython's qemu port with a 960 KB heap (the
runtime files arrive through the REPL and fragment the heap; VWW's params and
arena alone are 133 KB), built as docs/mlperf.md says. The heap's size does not
change the instruction counts. ~16 minutes for all four models on both cores.

    PYTHONPATH=host:firmware .venv/bin/python benchmarks/bench_mlperf.py [kws vww ic ad] [--levels kernels,viper,native]
"""

from __future__ import annotations

import argparse
import ast
import io
import math
import os
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # the checkout: tests.tools

FIRMWARE_ENV = {"m0": "EDGELOOP_QEMU_MICROPYTHON", "m7": "EDGELOOP_QEMU_MICROPYTHON_M7"}


def model_address(firmware: str) -> int:
    """Where the model file goes: past every segment of the firmware, in the 1 MB flash of
    the M0 machine, in the 4 MB RAM of mps2-an500 (below the stack at its top)."""
    import subprocess

    out = subprocess.run(["arm-none-eabi-readelf", "-lW", firmware], capture_output=True, text=True,
                         check=True).stdout
    end = 0
    for line in out.splitlines():
        f = line.split()
        if f and f[0] == "LOAD":  # Type Offset VirtAddr PhysAddr FileSiz MemSiz ...
            end = max(end, int(f[3], 16) + int(f[5], 16))  # QEMU loads (and reserves) by PhysAddr
    return (end + 0xFFF) & ~0xFFF


# The M0 machine's RAM as large as the 960 KB-heap firmware's linker script assumes, and flash
# past the 1 MB where QEMU reserves the firmware's RAM image (docs/mlperf.md)
EXTRA_QEMU = {"m0": ("-global", "nrf51-soc.sram-size=1048576", "-global", "nrf51-soc.flash-size=4194304"), "m7": ()}
LEVELS = {"kernels": ("kernels",), "viper": ("viper", "kernels"), "native": ("native", "viper", "kernels")}
LABEL = {"kernels": "portable", "viper": "viper", "native": "native"}

_SETUP = """
import uctypes, gc, vfs
from edgeloop_fw.runtime.loader import Model
from edgeloop_fw.runtime.interpreter import Interpreter
vfs.mount(vfs.VfsRom(uctypes.bytearray_at({addr}, {size})), '/rom')  # a ROMFS partition in flash
RES = None
gc.collect()
m = Model(open('/rom/model.elm', 'rb'))
try:  # the native level's weight buffer, allocated while the heap is in one piece
    from edgeloop_fw.runtime import native
    native._bufs[0] = PRE
except ImportError:
    pass
PRE = None
"""
_RUN = """
it = None
gc.collect()
it = Interpreter(m, {levels!r})
it.set_input(F['/x.bin'])
it.invoke()
gc.collect()
it.set_input(F['/x.bin'])
hash(0)
it.invoke()
callable(0)
out1 = it.get_output()
def probe(i):
    callable(0)
    hash(0)
it.set_input(F['/x.bin'])
hash(0)
it.invoke(probe)
callable(0)
assert it.get_output() == out1
print('LEVEL', it.kernel_levels, 'OUT', out1.hex())
"""


def run_core(firmware: str, core: str, blob: bytes, x: bytes, levels, native_mod: bytes | None, ops):
    """{level: (whole-invoke instructions, [instructions per op], output bytes, kernel_levels)},
    one MicroPython process per level: only that level's kernels on the heap."""
    from tests.tools import qemu_mpy

    n_ops = len(ops_list(blob))
    per_level = 2 + n_ops  # the whole invoke, each op, then the tail after the last op's probe
    results = {}
    with tempfile.TemporaryDirectory() as d:
        model = Path(d) / "model.rom"
        model.write_bytes(qemu_mpy.romfs_image({"model.elm": blob}))
        at = model_address(firmware)
        qemu_args = ("-icount", "shift=0", "-device", f"loader,file={model},addr={at:#x}",
                     *EXTRA_QEMU[core])
        everything = qemu_mpy.runtime_files(qemu_mpy.ARCH[core], native_mod, ops)
        for level in levels:
            skip = {"viper", "native"} - set(LEVELS[level])
            files = {p: b for p, b in everything.items() if (p.split("/") + [""] * 4)[3] not in skip}
            with qemu_mpy.QemuMicroPython(firmware, core, counted="plugin", qemu_args=qemu_args) as board:
                if level == levels[0]:
                    heap = int(board.exec("import gc\ngc.collect()\nprint(gc.mem_free())"))
                    print(f"  {core}: MicroPython heap {heap // 1024} KB free at start")
                # native.BUDGET, before the heap fragments; only the native level uses it
                board.exec("PRE = bytearray(%d)" % (16384 if "native" in LEVELS[level] else 0))
                # The model's blocks, reserved while the heap is in one piece: the uploads and imports
                # below scatter what they keep over the whole heap before the first collection.
                board.exec("RES = bytearray(%d)" % reserve(blob))
                board.put("/x.bin", x)
                for path, data in files.items():
                    board.put(path, data)
                # import every module now: the .mpy files leave the heap as they load, before the
                # model's params and arena need their blocks; the native module first (one block)
                mods = ["edgeloop_fw.runtime.native"] + sorted(
                    p[1:-4].replace("/", ".") for p in files if not p.endswith("__init__.mpy"))
                board.exec("for n in %r:\n try:\n  __import__(n)\n except ImportError:\n  pass\n"
                           "import gc\ngc.collect()" % (mods,))
                board.exec(_SETUP.format(addr=at, size=model.stat().st_size))
                out = board.exec(_RUN.format(levels=LEVELS[level]), timeout=3600)
            regions = board.regions()
            if len(regions) != per_level:
                raise SystemExit(f"{core} {level}: counted {len(regions)} regions, expected {per_level}")
            used = ast.literal_eval(out.split("LEVEL ", 1)[1].split(" OUT")[0])
            results[level] = (regions[0], regions[1:1 + n_ops], bytes.fromhex(out.split("OUT ", 1)[1].split()[0]),
                              used)
    return results


def reserve(blob: bytes) -> int:
    """Heap bytes the model needs in large blocks: its arena, its params (twice: the loader
    reads them through a bytes object of their size), its tables, and slack for the small
    objects made meanwhile."""
    import struct

    from edgeloop_fw.runtime import format as F

    arena, params_at, n_params = struct.unpack_from(F.SUMMARY_FMT, blob, F.SUMMARY_AT)[:3]
    return arena + 8 * n_params + (params_at - F.TABLES_AT) + 32768


def ops_list(blob: bytes):
    from edgeloop_fw.runtime.loader import Model

    return [n for _o, n, _p, _t in Model(io.BytesIO(blob)).ops]


def main() -> None:
    from edgeloop.convert.int8 import convert_tflite
    from edgeloop.native.build import native_module
    from tests.tools import qemu_mpy
    from tests.tools.mlperf_tiny import ANCHORS, DIR, MODELS, random_inputs
    from tests.tools.runtime_helpers import tflm_run
    from tflite_micro.python.tflite_micro import runtime

    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("models", nargs="*", default=[b.name for b in MODELS])
    ap.add_argument("--levels", default="kernels,viper,native")
    ap.add_argument("--cores", default="m0,m7")
    ap.add_argument("--top", type=int, default=3, help="slowest ops shown per model and level")
    ap.add_argument("--fit", type=Path, metavar="DIR",
                    help="write DIR/cortex-m0.toml and cortex-m7.toml: the native level's instructions per op call, "
                         "per MAC and per element, which `edgeloop bench` estimates from (boards/speed/)")
    args = ap.parse_args()
    levels = args.levels.split(",")
    cores = args.cores.split(",")
    if not DIR.is_dir():
        sys.exit(f"{DIR} is absent: the MLPerf Tiny models are in ../shared/data")
    firmware = {c: os.environ.get(FIRMWARE_ENV[c], "") for c in cores}
    missing = [FIRMWARE_ENV[c] for c in cores if not firmware[c]]
    if missing:
        sys.exit(f"{' and '.join(missing)} unset: path of a qemu-port MicroPython firmware.elf with native code"
                 f" ({FIRMWARE_ENV['m0']}: Cortex-M0 build, {FIRMWARE_ENV['m7']}: Cortex-M7); see docs/mlperf.md")

    rows = []
    counted = {c: [] for c in cores}  # native level: (model, op, MACs, output elements, instructions) per op
    with tempfile.TemporaryDirectory() as d:
        mods = {c: native_module(qemu_mpy.ARCH[c], Path(d) / c) if "native" in levels else None for c in cores}
        for bench in [b for b in MODELS if b.name in args.models]:
            conv = convert_tflite(DIR / bench.file)
            shape = tuple(conv.tflite.tensors[conv.tflite.inputs[0]].shape)
            x = random_inputs(shape, 1, seed=7)[0]
            want = tflm_run(runtime.Interpreter.from_file(str(DIR / bench.file)), x).tobytes()
            ops = ops_list(conv.data)
            op_macs = [o.macs for o in conv.ops] if len(conv.ops) == len(ops) else [0] * len(ops)
            from edgeloop.report.data import layer_rows

            layers = layer_rows(conv)  # TFLite's op names (as `edgeloop bench` has them) and output shapes
            print(f"\n{bench.name} ({bench.file}): {conv.macs:,} MACs, {len(ops)} ops, model file {len(conv.data):,} B,"
                  f" arena {conv.arena_size:,} B")
            for core in cores:
                res = run_core(firmware[core], core, conv.data, x.tobytes(), levels, mods[core], set(ops))
                anchor = ANCHORS.get(bench.name, {}).get(core)
                for level in levels:
                    total, per_op, out, used = res[level]
                    same = out == want
                    ratio = f"{total / anchor[1]:7.1f}x {anchor[0]}" if anchor else "no published anchor"
                    print(f"  {core} {LABEL[level]:8s} {total:>15,} instructions/inference"
                          f" ({total / conv.macs:7.1f}/MAC)  equal TFLM: {same}  vs MLPerf: {ratio}")
                    slow = sorted(range(len(ops)), key=lambda i: -per_op[i])[:args.top]
                    print("      slowest ops: " + "; ".join(
                        f"#{i} {ops[i]} ({used[ops[i]]}) {per_op[i]:,} ({100 * per_op[i] / total:.0f}%"
                        + (f", {per_op[i] / op_macs[i]:.1f}/MAC)" if op_macs[i] else ")") for i in slow))
                    rows.append((bench.name, core, level, total, conv.macs, same, anchor))
                    if level == "native" and len(layers) == len(ops):
                        counted[core] += [(bench.name, layers[i].op, op_macs[i], math.prod(layers[i].shape), per_op[i])
                                          for i in range(len(ops))]
    print("\n| model | core | level | instructions/inference | per MAC | equal TFLM | vs MLPerf anchor (cycles) |")
    print("|---|---|---|---|---|---|---|")
    for name, core, level, total, macs, same, anchor in rows:
        vs = f"{total / anchor[1]:.1f}x ({anchor[1] / 1e6:.1f} M, {anchor[0]})" if anchor else "-"
        print(f"| {name} | {core.upper()} | {LABEL[level]} | {total / 1e6:,.1f} M | {total / macs:.1f} | {same} | {vs} |")
    if not all(r[5] for r in rows):
        sys.exit("some outputs differ from TFLM")
    if args.fit:
        for core in cores:
            if counted[core]:
                fit_core(core, counted[core], args.fit)


# How the core's pipeline turns instructions into cycles: not countable under QEMU, so stated.
CPI = {
    "m0": (1.4, "estimate: a Cortex-M0+ takes 2 cycles for loads, stores and taken branches and 1 for the rest; "
                "the kernels' inner loops are about 40% of those (docs/mlperf.md)"),
    "m7": (1.0, "estimate: a Cortex-M7 issues up to two instructions a cycle, and loses cycles to flash wait states "
                "and cache misses; 1.0 sits between the two, to be replaced by a board's own measurement"),
}


def fit_core(core: str, counted: list, out: Path) -> None:
    """Per op kind: the cost of a call (RESHAPE, which the plan aliases, is nothing else), then
    instructions per MAC (ops that multiply) or per output element (the rest), weighted by
    work; then how far that arithmetic lands from each model's counted total."""
    import statistics

    from edgeloop.boards.speed import MULTIPLY  # counted per MAC; the rest per output element

    calls = [n for _m, op, _mac, _e, n in counted if op == "RESHAPE"]
    per_call = statistics.median(calls) if calls else min(n for *_r, n in counted)
    mac_work, mac_n, el_work, el_n = {}, {}, {}, {}
    for _m, op, macs, elements, n in counted:
        if op == "RESHAPE":
            continue
        work, count = (mac_work, mac_n) if op in MULTIPLY else (el_work, el_n)
        work[op] = work.get(op, 0) + max(n - per_call, 0)
        count[op] = count.get(op, 0) + (macs if op in MULTIPLY else elements)
    per_mac = {op: round(mac_work[op] / mac_n[op], 3) for op in sorted(mac_work)}
    per_element = {op: round(el_work[op] / el_n[op], 3) for op in sorted(el_work)}
    per_element["RESHAPE"] = 0.0
    per_element["default"] = round(statistics.median(per_element.values()), 3)
    name = {"m0": "cortex-m0", "m7": "cortex-m7"}[core]
    machine = {"m0": "QEMU microbit (Cortex-M0)", "m7": "QEMU mps2-an500 (Cortex-M7)"}[core]
    cpi, why = CPI[core]
    out.mkdir(parents=True, exist_ok=True)
    lines = [f"# Instructions the runtime's native kernels take inside MicroPython on a {name}, counted",
             "# exactly under QEMU (benchmarks/bench_mlperf.py --fit, the four MLPerf Tiny models).",
             "# `edgeloop bench` estimates a model from these; schema: boards/README.md, [speed].",
             f'core = "{name}"', 'level = "native"',
             f'counted_on = "{machine}, MicroPython qemu port, {len({c[0] for c in counted})} MLPerf Tiny models"',
             f"cycles_per_instruction = {cpi}", f"per_call = {round(per_call)}", "", "[per_mac]"]
    lines += [f"{op} = {v}" for op, v in per_mac.items()] + ["", "[per_element]"]
    lines += [f"{op} = {v}" for op, v in per_element.items()]
    lines += ["", "[sources]", f'cycles_per_instruction = "{why}"',
              'per_call = "median count of a RESHAPE call (aliased by the plan: the call and nothing else)"',
              'per_mac = "sum over every op of that kind of (its count - per_call) / its MACs"',
              'per_element = "the same per output element, for the ops that do not multiply; default: the median of those"', ""]
    (out / f"{name}.toml").write_text("\n".join(lines))
    print(f"\n{name}: per call {per_call:,.0f}, per MAC {per_mac}, per element {per_element} -> {out / (name + '.toml')}")
    from edgeloop.boards.speed import CoreSpeed

    speed = CoreSpeed(name, "native", machine, cpi, per_call, per_mac, per_element)
    for model in sorted({c[0] for c in counted}):
        mine = [c for c in counted if c[0] == model]
        got = sum(c[4] for c in mine)
        est = sum(speed.layer(op, macs, el) for _m, op, macs, el, _n in mine)
        print(f"  {model}: counted {got:,}, estimated {est:,.0f} ({est / got:.2f}x)")


if __name__ == "__main__":
    main()
