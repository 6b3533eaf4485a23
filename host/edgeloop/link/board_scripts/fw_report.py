# What the deployed firmware says about itself, for `edgeloop demo`: its
# version, where it was imported from, and the files in /lib/edgeloop_fw.
# Prints one repr()'d dict; runs on MicroPython, CircuitPython and CPython.

def _el_fw_report():
    import os
    import sys
    import time

    report = {"path": list(sys.path)}
    if "/lib" not in sys.path:
        sys.path.append("/lib")
    ticks = getattr(time, "ticks_ms", None)
    start = ticks() if ticks else 0
    try:
        import edgeloop_fw

        report["version"] = getattr(edgeloop_fw, "__version__", None)
        report["file"] = getattr(edgeloop_fw, "__file__", None)
        report["import_ms"] = (ticks() - start) if ticks else None
    except Exception as e:
        report["error"] = "%s: %s" % (type(e).__name__, e)
    try:
        report["files"] = sorted(os.listdir("/lib/edgeloop_fw"))
    except OSError:
        report["files"] = []
    print(repr(report))


_el_fw_report()
