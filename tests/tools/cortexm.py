"""Run the C kernels bare-metal on emulated Cortex-M cores and count instructions.

A case is one kernel call with its inputs (taken from a converted model:
the op's params, weights and an input activation). All cases of a run are
written into one C file, linked with the kernels, a vector table and
semihosting I/O, and run once under `qemu-system-arm`; the program prints
each output as hex.

Instruction counting (QEMU counts instructions, not cycles): with
`-d in_asm,exec,nochain` QEMU logs every translated block's instructions and
every block it executes; the sum of the sizes of the blocks executed between
the blocks that start at `el_bench_begin` and `el_bench_end` is the exact
number of instructions the kernel call took. `calibrate()` checks the method
on a SUBS/BNE loop of known length first.
"""

from __future__ import annotations

import os
import re
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from edgeloop.errors import EdgeloopError
from edgeloop.native import build

HERE = Path(__file__).resolve().parent / "baremetal"

CORES = {
    "m0": dict(target="armv6m", cpu=("-mcpu=cortex-m0plus",), machine=(
        "-M", "microbit", "-global", "nrf51-soc.flash-size=1048576", "-global", "nrf51-soc.sram-size=262144")),
    "m7": dict(target="armv7emdp", cpu=(), machine=("-M", "mps2-an500")),
}


@dataclass
class Case:
    """One kernel call: `call` is C that uses the arrays named in `arrays`."""
    name: str
    call: str
    arrays: dict = field(default_factory=dict)  # name -> (ctype, values, const)
    out: str = ""  # name of the output array
    out_len: int = 0
    macs: int = 0


def _c_array(name, ctype, values, const=True) -> str:
    body = ",".join(str(int(v)) for v in values) or "0"
    return f"static {'const ' if const else ''}{ctype} {name}[{max(len(values), 1)}] __attribute__((aligned(4))) = {{{body}}};"


def program(cases: list[Case], scratch_bytes: int, repeat_calib=(1000, 3000)) -> str:
    lines = ['#include "el_kernels.h"', "void el_puts(const char *);", "void el_bench_begin(void);",
             "void el_bench_end(void);", "void el_calib_loop(unsigned);",
             f"static int32_t scratch[{(scratch_bytes + 3) // 4 + 1}];",
             "static char line[80];", "static const char hexd[] = \"0123456789abcdef\";",
             "static void dump(const char *name, const int8_t *y, int n) {",
             "  el_puts(\"CASE \"); el_puts(name); el_puts(\"\\n\");",
             "  for (int i = 0; i < n; i += 32) { int k = 0;",
             "    for (int j = i; j < n && j < i + 32; j++) { line[k++] = hexd[(uint8_t)y[j] >> 4]; line[k++] = hexd[y[j] & 15]; }",
             "    line[k++] = '\\n'; line[k] = 0; el_puts(line); }",
             "  el_puts(\"END\\n\"); }"]
    for c in cases:
        for an, (ctype, values, const) in c.arrays.items():
            if const:
                lines.append(_c_array(an, ctype, values))
            else:
                lines.append(f"static {ctype} {an}[{max(len(values), 1)}] __attribute__((aligned(4)));")
    lines.append("int main(void) {")
    for n in repeat_calib:
        lines += ["  el_bench_begin();", f"  el_calib_loop({n});", "  el_bench_end();"]
    for c in cases:
        lines += ["  {", f"    {c.call}", "  }"]
        lines.append(f"  dump(\"{c.name}\", {c.out}, {c.out_len});")
    lines += ["  el_puts(\"DONE\\n\");", "  return 0;", "}"]
    return "\n".join(lines) + "\n"


def build_elf(core: str, source: str, out: Path) -> Path:
    spec = CORES[core]
    target = build.TARGETS[spec["target"]]
    cc = build.need_compiler(target)
    out.mkdir(parents=True, exist_ok=True)
    objs = build.compile_objects(target, out / "obj")
    main_c = out / f"main_{core}.c"
    main_c.write_text(source)
    elf = out / f"cases_{core}.elf"
    flags = [*target.flags, *build.FREESTANDING, "-I", str(build.KERNELS)]
    build._run([cc, *flags, "-g", "-nostdlib", "-nostartfiles", "-T", str(HERE / "link.ld"),
                str(main_c), str(HERE / "startup.c"), *map(str, objs), "-lgcc", "-o", str(elf)])
    return elf


def qemu_command(core: str, elf: Path) -> list[str]:
    return ["qemu-system-arm", *CORES[core]["machine"], "-nographic", "-monitor", "none",
            "-semihosting-config", "enable=on,target=native", "-kernel", str(elf)]


def parse_outputs(text: str) -> dict[str, bytes]:
    """CASE name / hex lines / END blocks -> {name: bytes}."""
    found = {}
    for m in re.finditer(r"CASE (\S+)\n(.*?)END\n", text, re.S):
        found[m.group(1)] = bytes.fromhex(m.group(2).replace("\n", ""))
    if "DONE" not in text:
        raise EdgeloopError(f"the bare-metal program did not finish: {text.strip().splitlines()[-1:]}")
    return found


def run(core: str, elf: Path, timeout: float = 300) -> dict[str, bytes]:
    r = subprocess.run(qemu_command(core, elf), capture_output=True, text=True, timeout=timeout)
    if r.returncode:
        raise EdgeloopError(f"qemu ({core}) exited {r.returncode}: {(r.stdout + r.stderr).strip()[-200:]}")
    return parse_outputs(r.stdout + r.stderr)  # semihosting writes to stderr on some machines


def _symbol(elf: Path, name: str) -> int:
    nm = subprocess.run(["arm-none-eabi-nm", str(elf)], capture_output=True, text=True, check=True).stdout
    for line in nm.splitlines():
        parts = line.split()
        if len(parts) == 3 and parts[2] == name:
            return int(parts[0], 16) & ~1
    raise EdgeloopError(f"{name} is not in {elf.name}")


def parse_log(log, begin: int, end: int, regions: list) -> None:
    """Append to `regions` the instructions of each begin .. end region of a
    `-d in_asm,exec,nochain` log (an iterable of lines): `IN:` sections give
    each block's start pc and instruction count (the last translation of a pc
    wins), `Trace` lines the executed blocks' pcs."""
    sizes: dict[int, int] = {}
    current = None
    block_pc = None
    insn = re.compile(r"^0x([0-9a-f]{8}):")
    trace = re.compile(r"^Trace \d+: 0x[0-9a-f]+ \[[0-9a-f]+/([0-9a-f]+)/")
    begin_tag = "/%08x/" % begin  # outside a region only the begin block matters
    for line in log:
        if line.startswith("Trace"):
            if current is None and begin_tag not in line:
                continue
            m = trace.match(line)
            if not m:
                continue
            pc = int(m.group(1), 16)
            if pc == begin:
                current = 0
            elif pc == end and current is not None:
                regions.append(current)
                current = None
            elif current is not None:
                current += sizes[pc]
            continue
        if line.startswith("IN:"):
            block_pc = None
            continue
        m = insn.match(line)
        if m:
            pc = int(m.group(1), 16)
            if block_pc is None:
                block_pc = pc
                sizes[pc] = 0
            sizes[block_pc] += 1
        elif not line.strip():
            block_pc = None


def count_regions(core: str, elf: Path, timeout: float = 600) -> list[int]:
    """Instructions executed in each el_bench_begin .. el_bench_end region, in order.

    The log is streamed through a FIFO (it is large) and parsed on the fly:
    `IN:` sections give each block's start pc and instruction count (the last
    translation of a pc wins), `Trace` lines the executed blocks' pcs."""
    begin, end = _symbol(elf, "el_bench_begin"), _symbol(elf, "el_bench_end")
    with tempfile.TemporaryDirectory() as d:
        fifo = os.path.join(d, "log")
        os.mkfifo(fifo)
        cmd = qemu_command(core, elf)[:-2] + ["-accel", "tcg", "-d", "in_asm,exec,nochain", "-D", fifo,
                                              "-kernel", str(elf)]
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        regions: list[int] = []
        try:
            with open(fifo) as log:
                parse_log(log, begin, end, regions)
            proc.wait(timeout=timeout)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    return regions


def case_from_model(blob: bytes, x: bytes, name: str) -> Case:
    """The model's one heavy op (FC, CONV_2D, DEPTHWISE or TRANSPOSE_CONV) as a bare-metal call on input `x`.

    For single-layer models: the op reads the model input (a RESHAPE before it
    only aliases) and writes the model output, so TFLM's output is the reference."""
    import io

    from edgeloop_fw.runtime.loader import Model

    from tests.tools.native_params import conv_args, depthwise_args, fc_args, tconv_args

    model = Model(io.BytesIO(blob))
    ops = [(n, p) for _o, n, p, _t in model.ops
           if n in ("fully_connected", "conv_2d", "depthwise_conv_2d", "transpose_conv")]
    if len(ops) != 1:
        raise EdgeloopError(f"{name}: expected one heavy op, found {[n for n, _ in ops]}")
    kind, p = ops[0]
    a = {"fully_connected": fc_args, "conv_2d": conv_args, "depthwise_conv_2d": depthwise_args,
         "transpose_conv": tconv_args}[kind](p)
    out_t = model.outputs[0]
    nw = a["units"] * a["depth"] if kind == "fully_connected" else a["weight_bytes"]
    w = bytearray(nw)
    model.read_const(a["weights"], w)
    s = name.replace("-", "_")
    arrays = {f"P_{s}": ("int32_t", list(p), True), f"W_{s}": ("int8_t", list(memoryview(w).cast("b")), True),
              f"X_{s}": ("int8_t", list(memoryview(bytes(x)).cast("b")), True),
              f"Y_{s}": ("int8_t", [0] * out_t.nbytes, False)}
    pc = a["per_channel"]
    q = (f"el_requant q = {{P_{s} + {pc}, P_{s} + {pc + 1}, P_{s} + {pc + 2}, 3, {a['input_offset']}, "
         f"{a['output_offset']}, {a['act_min']}, {a['act_max']}}};")
    if kind == "fully_connected":
        call = (f"{q} el_bench_begin(); el_fully_connected_s8(X_{s}, W_{s}, Y_{s}, {a['batches']}, {a['depth']}, "
                f"{a['units']}, &q); el_bench_end();")
        macs = a["batches"] * a["depth"] * a["units"]
    else:
        g = a["geom"]
        fields = ("batches", "in_h", "in_w", "in_c", "out_h", "out_w", "out_c", "filter_h", "filter_w",
                  "stride_h", "stride_w", "dilation_h", "dilation_w", "pad_h", "pad_w", "depth_multiplier")
        fn, tail = {"conv_2d": ("el_conv_2d_s8", ""), "depthwise_conv_2d": ("el_depthwise_conv_2d_s8", ""),
                    "transpose_conv": ("el_transpose_conv_s8_range", f", 0, {g['out_c']}")}[kind]
        call = (f"{q} static const el_geom g = {{{', '.join(str(g[f]) for f in fields)}}}; "
                f"el_bench_begin(); {fn}(&g, X_{s}, W_{s}, Y_{s}, &q, scratch{tail}); el_bench_end();")
        if kind == "transpose_conv":  # every input pixel meets every tap once (TFLM's scatter)
            macs = g["batches"] * g["in_h"] * g["in_w"] * g["in_c"] * g["filter_h"] * g["filter_w"] * g["out_c"]
        else:
            k = g["filter_h"] * g["filter_w"] * (g["in_c"] if kind == "conv_2d" else 1)
            macs = g["batches"] * g["out_h"] * g["out_w"] * g["out_c"] * k
    return Case(name=s, call=call, arrays=arrays, out=f"Y_{s}", out_len=out_t.nbytes, macs=macs)



def _light_calls() -> dict[str, str]:
    """The light ops' C calls: the structs are runs of the params (params.py), activations
    live in a copy of the model's arena at the planned offsets, tables are const arrays."""
    from .native_params import ADD as a, BMM as b, LUT8 as t, MEAN as m, POOL as o, SOFTMAX as s

    return {
        "pool_2d": f"el_pool_2d_s8((const el_pool *)(P + {o['geom']}), P[{o['mode']}] == {o['max_mode']}, "
                   f"A + P[{o['input']}], A + P[{o['output']}]);",
        "add": f"el_add_s8((const el_add *)(P + {a['block']}), P[{a['n']}], P[{a['broadcast']}], "
               f"A + P[{a['input1']}], A + P[{a['input2']}], A + P[{a['output']}]);",
        "mean": f"el_mean_s8((const el_mean *)(P + {m['block']}), A + P[{m['input']}], A + P[{m['output']}]);",
        "softmax": f"el_softmax_s8(P[{s['outer']}], P[{s['depth']}], (const uint8_t *)T, P[{s['count']}], "
                   f"A + P[{s['input']}], A + P[{s['output']}]);",
        "lut8": f"el_lut8_s8(T, A + P[{t['input']}], A + P[{t['output']}], P[{t['n']}]);",
        "batch_matmul": f"el_batch_matmul_s8((const el_bmm *)(P + {b['block']}), A, scratch);",
    }


_LIGHT = _light_calls()


def light_case_from_model(blob: bytes, xs: list[bytes], name: str) -> Case:
    """A single-op model of one of the light ops as a bare-metal call on inputs `xs`
    (one per model input). The arena is the model's own plan, so the offsets in
    the params are used as they are on a board."""
    import io

    from edgeloop_fw.runtime.loader import Model

    from tests.tools.native_params import LUT8, SOFTMAX

    model = Model(io.BytesIO(blob))
    ops = [(n, p) for _o, n, p, _t in model.ops if n not in ("reshape",)]
    if len(ops) != 1 or ops[0][0] not in _LIGHT:
        raise EdgeloopError(f"{name}: expected one of {sorted(_LIGHT)}, found {[n for n, _ in ops]}")
    kind, p = ops[0]
    s = name.replace("-", "_")
    arrays = {f"P_{s}": ("int32_t", list(p), True), f"A_{s}": ("int8_t", [0] * model.arena_size, False)}
    fill = []
    for i, (t, x) in enumerate(zip(model.inputs, xs)):
        arrays[f"X{i}_{s}"] = ("int8_t", list(memoryview(bytes(x)).cast("b")), True)
        fill.append(f"for (int i = 0; i < {t.nbytes}; i++) A_{s}[{t.offset} + i] = X{i}_{s}[i];")
    if kind in ("softmax", "lut8"):
        at, n = (p[SOFTMAX["table"]], 4 * p[SOFTMAX["count"]]) if kind == "softmax" else (p[LUT8["table"]], 256)
        table = bytearray(n)
        model.read_const(at, table)
        arrays[f"T_{s}"] = ("int8_t", list(memoryview(table).cast("b")), True)
    call = re.sub(r"\b([PAT])\b", lambda m: f"{m.group(1)}_{s}", _LIGHT[kind])
    out_t = model.outputs[0]
    return Case(name=s, call=" ".join(fill) + f" el_bench_begin(); {call} el_bench_end();", arrays=arrays,
                out=f"A_{s} + {out_t.offset}", out_len=out_t.nbytes, macs=0)
