"""A CPython stand-in for a board's raw REPL, for deploy tests that need no board.

It runs exactly the code deploy sends (board_scripts/*.py and the small
calls) with exec() in one persistent namespace, the way the raw REPL keeps
globals between execs; only the serial link is replaced. Board paths are
prefixed with a folder (the session's root).
"""

from __future__ import annotations

import contextlib
import io
import traceback

from edgeloop.link.device import BoardException


class CPythonBoard:
    port = "cpython-board"

    def __init__(self, fail_after_execs: int | None = None):
        self.namespace: dict = {}
        self.execs = 0
        self.fail_after_execs = fail_after_execs
        self.sent: list[str] = []

    def exec(self, code, *, timeout=None, data_consumer=None) -> bytes:
        from edgeloop.errors import DeviceError

        if self.fail_after_execs is not None and self.execs >= self.fail_after_execs:
            raise DeviceError(f"{self.port} went away mid-command (simulated unplug)")
        self.execs += 1
        code = code.decode() if isinstance(code, bytes) else code
        self.sent.append(code)
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            try:
                exec(code, self.namespace)
            except Exception:
                raise BoardException(traceback.format_exc()) from None
        return out.getvalue().encode()


def cutting_os(step, fat: bool):
    """An `os` whose mutating calls (rename, remove, mkdir, rmdir) first call `step()` (which
    raises to cut the power); with `fat`, rename refuses to replace a file, as on FAT."""
    import os as real_os

    class CutOS:
        def __getattr__(self, name):
            attr = getattr(real_os, name)
            if name not in ("rename", "remove", "mkdir", "rmdir"):
                return attr

            def op(*args):
                step()
                if fat and name == "rename" and real_os.path.exists(args[1]):
                    raise OSError(17, "EEXIST")
                return attr(*args)
            return op

    return CutOS()
