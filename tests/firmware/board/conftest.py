"""The board tests' fixture: one virtual board per test module, firmware deployed once.

A module's tests share the board (starting one and deploying the firmware
costs about two seconds); `fw_board.run` soft-resets it before each script,
so a test starts from a fresh interpreter and heap as after Ctrl-D.
"""

from __future__ import annotations

import pytest

from tests.tools import fw_board as _fw


@pytest.fixture(scope="session")
def mpy_cache(tmp_path_factory):
    """mpy-cross output shared by every module's deploy: compiled once per session."""
    return tmp_path_factory.mktemp("mpy-cache")


@pytest.fixture(scope="module")
def fw_board(tmp_path_factory, mpy_cache):
    """A FirmwareBoard (rp2040 profile, heap capped) with firmware/ deployed; stopped after the module."""
    why = _fw.unavailable()
    if why:
        pytest.skip(why)
    with _fw.FirmwareBoard("rp2040", flash_dir=tmp_path_factory.mktemp("flash-rp2040"),
                           cache_dir=mpy_cache) as board:
        yield board
