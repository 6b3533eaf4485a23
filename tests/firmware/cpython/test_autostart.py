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


def test_a_model_files_kernels_are_preloaded_after_the_interpreter():
    """Each kernel of the model's ops once, in op order (the interpreter's own level choice loads
    them); a slot's model and a file the loader refuses name none."""
    from edgeloop_fw.runtime.loader import Model
    from tests.tools.paths import REPO

    elm = REPO / "models" / "keyword" / "keyword.elm"
    names = A.modules({"model": str(elm), "sensor": {"kind": "replay"}, "kws": {"every": 2}})
    i = names.index("edgeloop_fw.runtime.interpreter")
    with open(elm, "rb") as f:
        ops = [op[1] for op in Model(f).ops]
    assert names[i + 1:i + 1 + len(set(ops))] == ["kernel:" + k for k in dict.fromkeys(ops)]
    assert ops == ["conv_2d", "reshape", "fully_connected", "softmax"]  # a reference list: the model's op table
    for name in names[i + 1:i + 1 + len(set(ops))]:
        A.load(name)
    assert not [n for n in A.modules({"model": "@slots/g.elm"}) if n.startswith("kernel:")]
    assert not [n for n in A.modules({"model": str(REPO / "README.md")}) if n.startswith("kernel:")]
