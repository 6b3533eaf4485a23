# The board's own check of staged model files, run by deploy before the journal: the board's
# runtime (edgeloop_fw.runtime.validate) reads each file as the app will, against this board's
# heap, so a file the board cannot run never replaces the one it runs. The host calls
# _el_check_model once per file, each in its own execution (a board that collects garbage only
# between executions then checks any number of files), and _el_check_done at the end, which
# drops the modules the check imported so the deploy leaves the heap as it found it.
# MicroPython, CircuitPython and CPython.

def _el_check_model(path):
    """'' (passed), the one-line reason, None (no heap to check it: no verdict), or False (this
    board has no edgeloop_fw.runtime.validate)."""
    import sys

    if "/lib" not in sys.path:
        sys.path.append("/lib")
    try:
        from edgeloop_fw.runtime.validate import check_path
    except ImportError:
        return False
    except MemoryError:
        return None
    heap = None
    try:
        import gc
        gc.collect()
        heap = gc.mem_free() + gc.mem_alloc()
    except (ImportError, AttributeError):
        pass
    try:
        check_path(path, heap)
        return ""
    except MemoryError:
        return None
    except Exception as e:  # ModelFileError, or whatever a file it cannot read raises
        kind = type(e).__name__
        return str(e) if kind == "ModelFileError" else "%s: %s" % (kind, e)


def _el_check_done(before):
    import sys

    for name in list(sys.modules):
        if name not in before:
            del sys.modules[name]


_el_check_before = set(__import__("sys").modules)
