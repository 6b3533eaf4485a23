"""The smallest arena (to 16 bytes) TFLM's interpreter loads a model with.

The loader's verdict is the figure that matters on a board; TFLM's own
"Arena allocation total" leaves out temporary allocations and is a little
smaller (hello_world: 1,504 total, 1,936 needed). tflite-micro segfaults on
some too-small arenas instead of raising, which would take edgeloop down with
it, so each probe runs in a child process (`python -m edgeloop.reference.arena
STEP N`, the model on stdin) and the parent reads its answer from the output.
"""

from __future__ import annotations

import os
import re
import site
import subprocess
import sys
from pathlib import Path

from . import tflm

MODULE = "edgeloop.reference.arena"


def smallest_arena(tflite: bytes, limit: int = 1 << 24) -> int | None:
    """The smallest arena TFLM loads the model with; None when tflite-micro is
    not installed or cannot load the model.

    Two children: the first reports TFLM's total for an arena of `limit`
    bytes, the second bisects from that total down, where tflite-micro may
    crash; then the total, already known, is the answer.
    """
    if tflm.runtime() is None:
        return None
    total = _ask(tflite, "total", limit, rb"Arena allocation total (\d+) bytes")
    if total is None:
        return None
    return _ask(tflite, "smallest", total, rb"smallest (\d+)") or total


def _ask(tflite: bytes, step: str, n: int, pattern: bytes) -> int | None:
    try:
        proc = subprocess.run([sys.executable, "-m", MODULE, step, str(n)], input=tflite,
                              capture_output=True, timeout=120, env=_child_env())
    except (OSError, subprocess.TimeoutExpired):
        return None
    m = re.search(pattern, proc.stdout + proc.stderr)
    return int(m.group(1)) if m else None


def _child_env() -> dict[str, str]:
    """This environment, plus the folder edgeloop was imported from when the
    child would not find it on its own (a source checkout, a test's sys.path)."""
    env = dict(os.environ)
    root = str(Path(__file__).resolve().parents[2])
    if root not in site.getsitepackages() + [site.getusersitepackages()]:
        env["PYTHONPATH"] = os.pathsep.join(p for p in (root, env.get("PYTHONPATH")) if p)
    return env


# -- the child's side -------------------------------------------------------------

def print_total(data: bytes, limit: int) -> None:
    """TFLM prints its allocations, "Arena allocation total" among them, from C++."""
    tflm.runtime().Interpreter.from_bytes(data, arena_size=limit).print_allocations()
    sys.stdout.flush()


def loads(data: bytes, n: int) -> bool:
    try:
        tflm.runtime().Interpreter.from_bytes(data, arena_size=n)
        return True
    except Exception:
        return False


def bisect_smallest(data: bytes, total: int) -> int:
    """Doubles from the total until the model loads, then bisects down to 16 bytes."""
    lo, hi = total - 16, total
    while not loads(data, hi):
        lo, hi = hi, hi * 2
    while hi - lo > 16:
        mid = (lo + hi) // 2 // 16 * 16
        if mid <= lo:
            break
        lo, hi = (lo, mid) if loads(data, mid) else (mid, hi)
    return hi


def main(argv: list[str]) -> None:
    step, n = argv[0], int(argv[1])
    data = sys.stdin.buffer.read()
    if step == "total":
        print_total(data, n)
    else:
        print("smallest", bisect_smallest(data, n), flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
