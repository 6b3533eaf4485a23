"""Write the param layout of edgeloop_fw/runtime/opspec.py into the files that read it.

Run `python -m tests.tools.opspec_gen` after changing the spec (or a
viper requantization template below); `--check` only reports what would
change. Generated code sits between marker comments, so the hand-written
code around it stays free:

    # --- generated from opspec: do not edit ---
    ...
    # --- end generated ---

- `from opspec` blocks (every kernel level's file for an op): KERNEL_VERSION
  and a `NAME = const(i)` line for each spec name the file uses. Each file
  has its own copy because MicroPython inlines a const only in the module
  that defines it, and viper needs the literal.
- `requant setup` / `requant` blocks (the viper CONV_2D, DEPTHWISE_CONV_2D
  and FULLY_CONNECTED kernels): one template, inlined at the marker's
  indentation. Viper gets no helper call per output here: a call costs a
  Python-level frame per output byte on ports without a Python stack.
- the `kernel versions` block in opcodes.py: VERSIONS, which the board's
  loader checks each op-table row against.
- natmod/el_params.h: the same indices as `#define`s for el_module.c.
tests/host/test_opspec.py regenerates everything in memory and fails on any
difference.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

from edgeloop.native import build
from edgeloop_fw.runtime import opspec

RUNTIME = Path(opspec.__file__).resolve().parent
NATMOD = Path(build.__file__).resolve().parent / "natmod"
HEADER = NATMOD / "el_params.h"
OPCODES = RUNTIME / "opcodes.py"
LEVELS = ("kernels", "viper", "native")
C_PREFIX = {"fully_connected": "FC", "conv_2d": "CONV", "depthwise_conv_2d": "DW", "pool_2d": "POOL",
            "add": "ADD", "mean": "MEAN", "lut8": "LUT8", "concatenation": "CONCAT", "softmax": "SOFTMAX",
            "reshape": "RESHAPE", "transpose": "TRANSPOSE", "lstm": "LSTM", "transpose_conv": "TCONV", "batch_matmul": "BMM"}

BLOCK = re.compile(r"^([ \t]*)# --- generated (.+?): do not edit ---\n.*?^[ \t]*# --- end generated ---\n",
                   re.M | re.S)
WORD = re.compile(r"\b[A-Z][A-Z0-9_]*\b")

# Per output channel: (mult, shift) -> the multiplier's 16-bit halves, the
# left shift and the rounding right shift's exponent and mask.
REQUANT_SETUP = """\
bh = mult >> 16
bl = mult & 0xFFFF
lsh = 0
e = 0
if shift > 0:
    lsh = shift
else:
    e = 0 - shift
mask = (1 << e) - 1
"""

# Per output: acc -> v, the clamped int8 (derivation: viper/fully_connected.py).
REQUANT = """\
# MultiplyByQuantizedMultiplier(acc, mult, shift)
if lsh:
    acc = acc << lsh
if acc < 0:
    ul = acc & 0xFFFF
    uh = 0 - (acc >> 16)
    if ul:
        uh -= 1
        ul = 0x10000 - ul
    thr = half + 1
else:
    uh = acc >> 16
    ul = acc & 0xFFFF
    thr = half
m = ul * bl
ma = uh * bl
mb = ul * bh
s = (ma & 0x7FFF) + (mb & 0x7FFF) + ((m >> 16) & 0xFFFF)
v = ((uh * bh) << 1) + (ma >> 15) + (mb >> 15) + (s >> 15)
if ((s & 0x7FFF) << 16) + (m & 0xFFFF) >= thr:
    v += 1
if acc < 0:
    v = 0 - v
if e:
    t = mask >> 1
    if v < 0:
        t += 1
    r = v & mask
    v = v >> e
    if r > t:
        v += 1
v += zp
if v < lo:
    v = lo
elif v > hi:
    v = hi
"""

TEMPLATES = {"requant setup": REQUANT_SETUP, "requant": REQUANT}


def _params(op: str, used: set[str]) -> str:
    lines = ["KERNEL_VERSION = const(%d)\n" % opspec.version(op)]
    lines += ["%s = const(%d)\n" % (k, i) for k, i in opspec.names(op).items() if k in used]
    return "".join(lines)


def render(text: str, op: str | None, where: str = "") -> str:
    """`text` with every generated block rewritten for `op` (None: opcodes.py)."""
    used = set(WORD.findall(BLOCK.sub("", text)))

    def block(m: re.Match) -> str:
        indent, kind = m.group(1), m.group(2)
        if kind == "from opspec" and op:
            body = _params(op, used)
        elif kind == "kernel versions" and not op:
            body = "VERSIONS = {\n%s}\n" % "".join(f'    "{k}": {opspec.version(k)},\n' for k in opspec.OPS)
        elif kind in TEMPLATES:
            body = TEMPLATES[kind]
        else:
            raise ValueError(f"{where}: unknown generated block {kind!r}")
        body = "".join(indent + line if line.strip() else line for line in body.splitlines(True))
        return f"{indent}# --- generated {kind}: do not edit ---\n{body}{indent}# --- end generated ---\n"

    return BLOCK.sub(block, text)


def header() -> str:
    out = ["/* The runtime's param indices for el_module.c. GENERATED from\n"
           " * firmware/edgeloop_fw/runtime/opspec.py by `python -m tests.tools.opspec_gen`:\n"
           " * do not edit. */\n", "#ifndef EL_PARAMS_H\n", "#define EL_PARAMS_H\n"]
    for op, prefix in C_PREFIX.items():
        out.append(f"\n/* {op} */\n")
        out.append(f"#define EL_{prefix}_VERSION {opspec.version(op)}\n")
        out += [f"#define EL_{prefix}_{k} {i}\n" for k, i in opspec.names(op).items()]
    out.append("\n#endif\n")
    return "".join(out)


def kernel_files() -> dict[Path, str]:
    """{file: op} for every kernel level's module of every op in the spec."""
    return {RUNTIME / level / f"{op}.py": op for level in LEVELS for op in opspec.OPS
            if (RUNTIME / level / f"{op}.py").is_file()}


def outputs() -> dict[Path, str]:
    """What every generated file should contain."""
    out = {path: render(path.read_text(), op, str(path)) for path, op in kernel_files().items()}
    out[OPCODES] = render(OPCODES.read_text(), None, str(OPCODES))
    out[HEADER] = header()
    return out


def stale() -> list[Path]:
    return [p for p, text in outputs().items() if not p.is_file() or p.read_text() != text]


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv not in ([], ["--check"]):
        print("usage: python -m tests.tools.opspec_gen [--check]", file=sys.stderr)
        return 2
    changed = stale()
    if argv == ["--check"]:
        for p in changed:
            print(f"out of date: {p}")
        return 1 if changed else 0
    want = outputs()
    for p in changed:
        p.write_text(want[p])
        print(f"wrote {p}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
