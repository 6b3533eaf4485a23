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


@pytest.fixture(scope="module", params=["wasm", "circuitpython", "micropython-unix"])
def any_board(request, tmp_path_factory):
    """The firmware on each real interpreter: the virtual board, and the unix ports of
    CircuitPython (EDGELOOP_CIRCUITPYTHON, skipped when unset) and MicroPython (the venv's).

    Same put/run/session as fw_board; `.kind` says which (tests that measure
    what only one of them has check it).
    """
    if request.param == "wasm":
        board = request.getfixturevalue("fw_board")
        board.kind = "wasm"
        yield board
        return
    yield unix_board_or_skip(request.param, tmp_path_factory.mktemp(f"flash-{request.param}"))


def unix_board_or_skip(kind, flash_dir):
    """A UnixBoard of `kind` ("circuitpython", "micropython-unix"), or skip saying how to get one."""
    from tests.tools import unix_board as _ub

    interp = _ub.interpreters()[kind]
    if not interp:
        pytest.skip(f"{kind}: set {_ub.CIRCUITPYTHON_ENV} to a CircuitPython unix build "
                    "(tests/tools/build_circuitpython.sh)" if kind == "circuitpython"
                    else f"no unix MicroPython (pip install micropython, or set {_ub.MICROPYTHON_ENV})")
    return _ub.UnixBoard(kind, interp, flash_dir)
