from __future__ import annotations

import pytest

from tests.tools.mosquitto import Mosquitto


@pytest.fixture
def broker(tmp_path):
    b = Mosquitto(tmp_path / "broker").start()
    yield b
    b.stop()
