"""edgeloop_fw.autostart.modules: what the host's stream link and boot.py import, one execution
each, before the app's own long execution (the virtual board collects garbage only between them)."""

from __future__ import annotations

from edgeloop_fw import autostart as A
from edgeloop_fw import port

IMU = {"kind": "imu", "part": "MPU-6050", "bus": "i2c0"}


def test_a_slot_model_on_a_bus_sensor_preloads_machine(monkeypatch):
    monkeypatch.setattr(port, "IMPLEMENTATION", "micropython")
    names = A.modules({"model": "@slots/gesture_trees.csv", "sensor": IMU, "capture": {"below": 0.6}})
    assert names == ["edgeloop_fw.protocol", "edgeloop_fw.features", "machine", "edgeloop_fw.sensors.imu",
                     "edgeloop_fw.slot_marks", "edgeloop_fw.app", "edgeloop_fw.trees",
                     "edgeloop_fw.capture"]
    mic = A.modules({"model": "/models/keyword.elm", "sensor": {"kind": "microphone"}, "kws": {"x": 1}})
    assert "machine" in mic
    assert "machine" not in A.modules({"model": "@slots/g.elm", "sensor": {"kind": "replay"}})


def test_no_machine_where_the_port_has_none(monkeypatch):
    """CircuitPython (board/busio) and CPython: `import machine` would fail the preload."""
    for name in ("circuitpython", "cpython"):
        monkeypatch.setattr(port, "IMPLEMENTATION", name)
        assert "machine" not in A.modules({"model": "@slots/g.csv", "sensor": IMU})
    monkeypatch.undo()
    for name in A.modules({"model": "@slots/g.csv", "sensor": IMU}):
        __import__(name)  # every name is a module this port has
