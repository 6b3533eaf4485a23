"""Shared fixtures: the virtual board (real MicroPython behind a pty).

Tests that use these are marked @pytest.mark.sim; they skip with the reason
(and the command that fixes it) when Node or the npm package is missing.
"""

from __future__ import annotations

import pytest


def _need_sim():
    try:
        from edgeloop.sim import node_status
    except ImportError as e:  # pragma: no cover - a broken checkout
        pytest.skip(f"edgeloop.sim cannot be imported: {e}")
    ok, why = node_status()
    if not ok:
        pytest.skip(f"virtual board unavailable: {why}")


@pytest.fixture
def virtual_board_factory(tmp_path_factory):
    """Start more boards: factory(board="rp2040", flash_dir=None, **kw) -> VirtualBoard.

    Every board started through the factory is stopped at the end of the test.
    A board started without flash_dir gets its own temporary folder.
    """
    _need_sim()
    from edgeloop.sim import VirtualBoard

    started = []

    def factory(board: str = "rp2040", flash_dir=None, **kw):
        if flash_dir is None:
            flash_dir = tmp_path_factory.mktemp(f"flash-{board}")
        vb = VirtualBoard(board=board, flash_dir=flash_dir, register=False, **kw)
        started.append(vb)
        return vb

    yield factory
    for vb in started:
        vb.stop()


@pytest.fixture
def virtual_board(virtual_board_factory):
    """A fresh rp2040 virtual board with an empty temporary flash folder."""
    return virtual_board_factory()
