"""Where the tests find the checkout and the shared reference data, from one place.

Tests sit at different depths (tests/host/<layer>/, tests/firmware/board/), so
each counting its own `parents[N]` broke whenever a file moved.
"""

from __future__ import annotations

from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
SHARED_DATA = REPO / ".." / "shared" / "data"
VECTORS = REPO / "tests" / "vectors"
