"""Run code in the real MicroPython (WebAssembly build under Node) with the runtime on its filesystem.

A direct path to the interpreter for the runtime's tests and benchmark: the
files go straight into the board's RAM filesystem and one script runs, with
no pty or REPL in between (the virtual board tests cover that path).
"""

from __future__ import annotations

import base64
import json
import shutil
import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
RUNNER = Path(__file__).with_name("wasm_run.mjs")
PACKAGE = REPO / "node_modules" / "@micropython" / "micropython-webassembly-pyscript"


def available() -> str | None:
    """None if the WebAssembly MicroPython can run here, else why not."""
    if shutil.which("node") is None:
        return "node is not installed"
    if not (PACKAGE / "micropython.mjs").exists():
        return f"the npm package is missing at {PACKAGE} (run `npm ci`)"
    return None


def runtime_files(root: str = "/lib") -> dict[str, bytes]:
    fw = REPO / "firmware" / "edgeloop_fw"
    files = {f"{root}/edgeloop_fw/__init__.py": b""}
    for p in sorted((fw / "runtime").rglob("*.py")):
        files[f"{root}/edgeloop_fw/{p.relative_to(fw).as_posix()}"] = p.read_bytes()
    return files


def run(code: str, files: dict[str, bytes], *, timeout: float = 300) -> str:
    job = {"files": {k: base64.b64encode(v).decode() for k, v in files.items()}, "code": code}
    proc = subprocess.run(["node", str(RUNNER)], input=json.dumps(job).encode(), capture_output=True,
                          timeout=timeout, cwd=REPO)
    if proc.returncode:
        raise RuntimeError(f"MicroPython failed: {proc.stderr.decode(errors='replace')}\n{proc.stdout.decode(errors='replace')}")
    return proc.stdout.decode("latin1")
