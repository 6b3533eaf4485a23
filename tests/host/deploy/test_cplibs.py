"""The CircuitPython libraries deploy installs (asyncio, adafruit_ticks), circup-style from PyPI wheels.

The wheels here are built by the test (zipfile), so what must reach /lib is known without
edgeloop's reader: the packages' .py files, never the dist-info, and pip is not asked again
for a wheel in the cache. The real wheels are installed on a CircuitPython board by
tests/host/loop/test_interpreter_cli.py.
"""

from __future__ import annotations

import subprocess
import zipfile

import pytest

from edgeloop.deploy import cplibs
from edgeloop.errors import DeployError


def make_wheel(folder, name, version, files):
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name.replace('-', '_')}-{version}-py3-none-any.whl"
    with zipfile.ZipFile(path, "w") as z:
        for member, text in files.items():
            z.writestr(member, text)
    return path


def test_py_files_of_cached_wheels_go_to_lib(tmp_path, monkeypatch):
    (n1, v1), (n2, v2) = cplibs.LIBRARIES
    make_wheel(tmp_path, n1, v1, {"asyncio/__init__.py": "A", "asyncio/core.py": "B",
                                  f"{n1.replace('-', '_')}-{v1}.dist-info/METADATA": "M",
                                  f"{n1.replace('-', '_')}-{v1}.dist-info/RECORD": "R"})
    make_wheel(tmp_path, n2, v2, {"adafruit_ticks.py": "T", f"{n2.replace('-', '_')}-{v2}.dist-info/WHEEL": "W"})

    def no_pip(*a, **k):
        raise AssertionError("pip was asked for a wheel that is in the cache")

    monkeypatch.setattr(subprocess, "run", no_pip)
    files = {f.remote: f.data for f in cplibs.library_files(tmp_path)}
    assert files == {"/lib/asyncio/__init__.py": b"A", "/lib/asyncio/core.py": b"B", "/lib/adafruit_ticks.py": b"T"}
    assert all(f.group == cplibs.GROUP for f in cplibs.library_files(tmp_path))


def test_a_failed_download_is_one_line_saying_what_to_do(tmp_path, monkeypatch):
    monkeypatch.setattr(subprocess, "run", lambda *a, **k: subprocess.CompletedProcess(
        a, 1, "", "ERROR: Could not find a version that satisfies the requirement\n"))
    with pytest.raises(DeployError) as e:
        cplibs.library_files(tmp_path / "empty")
    msg = str(e.value)
    assert "\n" not in msg and cplibs.LIBRARIES[0][0] in msg and str(tmp_path / "empty") in msg
