"""A folder made read-only for the length of a test, as a user or as root."""

from __future__ import annotations

import contextlib
import os
import subprocess
from pathlib import Path

import pytest


@contextlib.contextmanager
def read_only(folder: Path):
    """Make `folder` unwritable: file modes for a normal user; root ignores those, so a read-only bind mount."""
    if os.geteuid() != 0:
        os.chmod(folder, 0o555)
        try:
            yield
        finally:
            os.chmod(folder, 0o755)
        return
    ok = subprocess.run(["mount", "--bind", str(folder), str(folder)], capture_output=True).returncode == 0
    if ok and subprocess.run(["mount", "-o", "remount,bind,ro", str(folder)], capture_output=True).returncode != 0:
        subprocess.run(["umount", str(folder)])
        ok = False
    if not ok:
        pytest.skip("running as root without permission to mount: cannot make a folder read-only")
    try:
        yield
    finally:
        subprocess.run(["umount", str(folder)], check=True)
