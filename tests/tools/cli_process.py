"""Running `edgeloop` as a user does: `python -m edgeloop.cli ...` in its own process.

The child imports the same `edgeloop` and `edgeloop_fw` this test process imported (their
folders go first on its PYTHONPATH): a checkout's sources under pytest's pythonpath or a
worktree, the installed package in CI, never a mix of the two.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import edgeloop
import edgeloop_fw

COMMAND = [sys.executable, "-m", "edgeloop.cli"]


def env(**extra: str | os.PathLike) -> dict[str, str]:
    roots = [str(Path(m.__file__).resolve().parents[1]) for m in (edgeloop, edgeloop_fw)]
    path = os.pathsep.join(dict.fromkeys(roots + [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]))
    return {**os.environ, "PYTHONPATH": path, **{k: str(v) for k, v in extra.items()}}


def run(*args, env: dict, timeout: float = 600) -> str:
    """stdout of a command that must succeed; its stderr (the one `edgeloop:` line) if it does not."""
    r = subprocess.run(COMMAND + [str(a) for a in args], env=env, capture_output=True, text=True, timeout=timeout,
                       stdin=subprocess.DEVNULL)
    assert r.returncode == 0, f"edgeloop {' '.join(map(str, args))} exited {r.returncode}:\n{r.stderr}{r.stdout}"
    assert "Traceback" not in r.stderr, r.stderr
    return r.stdout


class Sim:
    """`edgeloop sim ...` running in the background: `with Sim(args, env=...) as sim: sim.port`."""

    def __init__(self, *args, env: dict):
        self.args, self.env = [str(a) for a in args], env

    def __enter__(self) -> "Sim":
        self.proc = subprocess.Popen(COMMAND + ["sim", *self.args], env=self.env, stdin=subprocess.DEVNULL,
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.port = self.proc.stdout.readline().strip()
        if not self.port.startswith("/dev/"):
            self.proc.kill()
            raise AssertionError(f"edgeloop sim {' '.join(self.args)} printed no port: {self.proc.communicate()[1]}")
        return self

    def __exit__(self, *exc) -> None:
        self.proc.terminate()  # SIGTERM stops it as Ctrl-C does
        try:
            self.stderr = self.proc.communicate(timeout=30)[1]
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.stderr = self.proc.communicate()[1]
        if exc[0] is None:
            assert self.proc.returncode == 0, self.stderr
