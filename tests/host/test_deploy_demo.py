"""`edgeloop demo` end to end on a fresh virtual board, checked against sources that are not the
demo's own code: the board profile file, firmware/edgeloop_fw/__init__.py's text, the .mpy
header layout from MicroPython's docs, and the files that landed in the board's flash folder."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from edgeloop import boards
from edgeloop.cli import cli

pytestmark = pytest.mark.sim
REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def sim_ready():
    from edgeloop.sim import node_status

    ok, why = node_status()
    if not ok:
        pytest.skip(f"virtual board unavailable: {why}")


def test_demo_from_a_fresh_state(sim_ready, tmp_path, monkeypatch):
    monkeypatch.setenv("EDGELOOP_CACHE_DIR", str(tmp_path / "cache"))  # nothing compiled yet
    monkeypatch.setenv("EDGELOOP_RUNTIME_DIR", str(tmp_path / "run"))
    before = set(Path("/tmp").glob("edgeloop-rp2040-flash-*"))
    result = CliRunner().invoke(cli, ["demo"])
    out = result.output
    assert result.exit_code == 0, out
    assert "Traceback" not in out
    steps = re.findall(r"^\[(\d)/(\d)\] (.*)$", out, re.M)
    assert [s[0] for s in steps] == [str(i) for i in range(1, len(steps) + 1)] and len(steps) >= 4

    profile = boards.load("rp2040")
    assert re.search(r"^\s+firmware\s+MicroPython \d+\.\d+\.\d+ \(webassembly\)$", out, re.M)
    mpy = int(re.search(r"^\s+_mpy\s+(\d+): \.mpy ABI ([\d.]+), native arch (\S+)$", out, re.M).group(1))
    abi, arch = re.search(r"_mpy\s+\d+: \.mpy ABI ([\d.]+), native arch (\S+)", out).groups()
    # sys.implementation._mpy: bits 0-7 version, 8-9 sub-version, 10+ native arch (0: none).
    assert abi == f"{mpy & 0xFF}.{(mpy >> 8) & 3}" and (arch == "none") == (mpy >> 10 == 0)
    heap = int(re.search(r"heap free\s+([\d,]+) bytes", out).group(1).replace(",", ""))
    assert 0 < heap <= profile.heap_bytes
    free, total = re.search(r"filesystem\s+([\d,]+) bytes free of ([\d,]+)", out).groups()
    assert int(total.replace(",", "")) == profile.fs_bytes  # the board reports the profile's flash
    assert re.search(r"profile\s+rp2040 .* matches;", out)

    sent = int(re.search(r"^\s+(\d+) file\(s\) sent", out, re.M).group(1))
    assert sent >= 10
    fw_version = re.search(r'__version__ = "([^"]+)"', (REPO / "firmware/edgeloop_fw/__init__.py").read_text())
    assert f"edgeloop_fw {fw_version.group(1)} (same as host edgeloop" in out
    assert "imported from /lib/edgeloop_fw/__init__.mpy" in out
    # The demo's own temporary flash folder is gone with its board.
    assert set(Path("/tmp").glob("edgeloop-rp2040-flash-*")) <= before
