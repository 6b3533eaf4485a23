"""Which of the firmware's modules the app needs for a config, and their import before main.py.

The WebAssembly virtual board collects garbage only between executions, so the
app's imports, made inside its one long execution, would keep their garbage
for the whole stream; the keyword app then does not fit the rp2040 profile's
heap. Whoever starts the app imports these first, one execution each where it
can (the host's stream link), or in boot.py's own script before main.py
(autostart). The list lives here, once, for both.

boot.py imports this compiled module rather than holding the code itself: a
board compiles boot.py from source at every reset, and on the virtual board
that parse cost every raw-REPL session ~3.5 KB of heap.
"""

CONFIG_PATH = "/edgeloop.json"
KERNEL = "kernel:"  # a modules() entry naming a model's kernel, not a module (see load)
SENSORS = {"replay": "edgeloop_fw.sensors.replay", "imu": "edgeloop_fw.sensors.imu",
           "microphone": "edgeloop_fw.sensors.mic"}


def config(path=CONFIG_PATH):
    """/edgeloop.json as a dict; {} when it is missing or unreadable (the app says why)."""
    try:
        import json
        with open(path) as f:
            c = json.load(f)
        return c if isinstance(c, dict) else {}
    except (OSError, ValueError):
        return {}


def modules(c):
    """The modules the app imports for config `c`, in an order that imports each once.

    MicroPython's `machine` goes first for a chip on a bus (an IMU, a microphone): built in on a
    board, so free there; on the virtual board it is a Python file whose import leaves ~13 KB of
    garbage, and inside the app's one execution that garbage made a 4-class trees candidate with
    capture rules on the IMU run out of heap at its first start from a slot (so the board rolled
    it back). `edgeloop_fw.slots` is not preloaded: it would save ~10 KB more, but moves where the
    module sits in the heap, and a CNN bundle deployed right after such a run then failed
    (test_slots_sim's second install)."""
    from . import port  # imported here: a board that does not autostart never loads it at boot

    model = str(c.get("model") or "")
    sensor = c.get("sensor") or {}
    kind = sensor.get("kind", "replay") if isinstance(sensor, dict) else ""
    names = ["edgeloop_fw.protocol", "edgeloop_fw.features"]
    if kind in ("imu", "microphone") and port.IMPLEMENTATION == "micropython":
        names.append("machine")
    names.append(SENSORS.get(kind, "edgeloop_fw.sensors"))
    if model:
        names.append("edgeloop_fw.slot_marks")
        if not model.endswith(".csv"):
            names += ["edgeloop_fw.runtime.loader", "edgeloop_fw.runtime.interpreter"]
            names += [KERNEL + k for k in kernels(model)]
    names.append("edgeloop_fw.app")
    if model and c.get("kws"):
        names += ["edgeloop_fw.audio.frontend", "edgeloop_fw.kws"]
    elif model.endswith(".csv"):  # a slot's model ("@slots/...") may be either kind: imported by the app
        names.append("edgeloop_fw.trees")
    if model and c.get("capture"):
        names.append("edgeloop_fw.capture")
    if c.get("mqtt") and c.get("autostart"):  # the app publishes itself only when it starts on its own
        names += ["edgeloop_fw.mqtt_sink", "chumicro_mqtt.client", "chumicro_sockets.sockets_factory"]
    return names


def kernels(path):
    """The kernel modules a model file's ops need, in op order, each once; [] for a slot's model
    ("@slots/...", resolved only by the app) or a file the loader refuses (the app says why).

    Imported inside the app's execution, the keyword model's four kernels left ~10 KB of garbage
    there (measured on the rp2040 virtual board), which is what capture rules then lacked."""
    from .slot_marks import MARK
    if path.startswith(MARK):
        return []
    try:
        from .runtime.loader import Model
        with open(path, "rb") as f:
            ops = Model(f).ops
    except Exception:  # noqa: BLE001 -- any refusal is the app's to report, with its reason
        return []
    out = []
    for op in ops:
        if op[1] not in out:
            out.append(op[1])
    return out


def load(name):
    """Import one entry of `modules()`: a module, or a model's kernel (KERNEL + its name) at the
    level the interpreter will pick."""
    if name.startswith(KERNEL):
        from .runtime.interpreter import kernel
        kernel(name[len(KERNEL):])
    else:
        __import__(name)


def preload():
    """boot.py's step: import the app's modules when the config autostarts it."""
    c = config()
    if c.get("autostart"):
        for name in modules(c):
            load(name)


def forget():
    """Drop this module once its list is used: it stays out of the heap the app then needs."""
    import sys
    import edgeloop_fw
    sys.modules.pop("edgeloop_fw.autostart", None)
    try:
        delattr(edgeloop_fw, "autostart")
    except AttributeError:
        pass
