"""Which TFLite builtin ops TFLM registers: probed from the installed tflite-micro package.

`python -m tests.tools.tflm_ops` writes docs/tflm-ops.txt (`--check`: only
compare). The list is what the package's Python interpreter (its op
resolver, the one edgeloop's tests compare against) can run: for each
member of the BuiltinOperator enum of the TFLite schema it ships
(`schema_py_generated`), a one-op model is loaded, and the op counts as
registered unless TFLM reports "Didn't find op for builtin opcode" for it.
An unregistered op (SENTINEL) follows it in the model: TFLM looks up every
node's registration before it prepares any, so the load stops at the
sentinel and no kernel ever runs on the dummy operands (some would crash). docs/ops.md (tests/tools/ops_table.py)
reads the file, so the doc table needs no tflite-micro to regenerate.
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
LIST = ROOT / "docs" / "tflm-ops.txt"
MISSING = "Didn't find op for builtin opcode"
SENTINEL = "STABLEHLO_WHILE"  # checked below to be unregistered


def _missing(runtime, tflite: bytes) -> str:
    """Load one model with fd 2 caught (TFLM reports on C stderr, the exception says only 'failed')."""
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as log:
        os.dup2(log.fileno(), 2)
        try:
            runtime.Interpreter.from_bytes(tflite)
        except RuntimeError:
            pass
        finally:
            os.dup2(saved, 2)
            os.close(saved)
        log.seek(0)
        text = log.read().decode(errors="replace")
    if MISSING not in text:
        raise RuntimeError(f"TFLM loaded a model with {SENTINEL}: the probe's sentinel is registered")
    return text.split(MISSING, 1)[1].split("'")[1]


def probe() -> tuple[str, list[str]]:
    """(tflite-micro version, sorted names of the builtin ops it registers)."""
    from tflite_micro.python.tflite_micro import _version, runtime
    from tflite_micro.tensorflow.lite.micro.python import schema_py_generated as s

    from tests.tools.op_models import Op, T, build, options

    names = {v: k for k, v in vars(s.BuiltinOperator).items() if not k.startswith("_")}
    sentinel = getattr(s.BuiltinOperator, SENTINEL)
    found = []
    for code, name in sorted(names.items()):
        if name in ("CUSTOM", SENTINEL):
            continue
        tensors = [T("x", (1, 4), scale=0.1), T("y", (1, 4), scale=0.1), T("z", (1, 4), scale=0.1)]
        first = Op(code, ["x"], ["y"])
        if name == "VAR_HANDLE":  # the Python interpreter reads its options before TFLM sees the model
            first = Op(code, ["x"], ["y"], options("VarHandleOptions", sharedName="v"), "VarHandleOptions")
        model = build(tensors, [first, Op(sentinel, ["y"], ["z"])], ["x"], ["z"])
        if _missing(runtime, model) != name:
            found.append(name)
    return _version.__version__, sorted(found)


def render(version: str, names: list[str]) -> str:
    head = (f"# TFLite builtin ops registered by tflite-micro {version} (PyPI `tflite-micro`, its Python\n"
            "# interpreter's op resolver), probed per BuiltinOperator by `python -m tests.tools.tflm_ops`.\n")
    return head + "".join(n + "\n" for n in names)


def read() -> tuple[str, list[str]]:
    """(version, names) from the committed list."""
    lines = LIST.read_text().splitlines()
    version = lines[0].split("tflite-micro ")[1].split(" ")[0]
    return version, [ln for ln in lines if ln and not ln.startswith("#")]


def main(argv: list[str]) -> int:
    text = render(*probe())
    if "--check" in argv:
        same = LIST.exists() and LIST.read_text() == text
        print(f"{LIST}: {'current' if same else 'stale'}")
        return 0 if same else 1
    LIST.write_text(text)
    print(f"wrote {LIST}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
