# The board's own check of staged model files, run by deploy before the journal: the board's
# runtime (edgeloop_fw.runtime.validate) reads each file as the app will, against this board's
# heap, so a file the board cannot run never replaces the one it runs. Prints one repr()'d list:
# per path '' (passed), the one-line reason, or None (no heap left to check it); None when the board has no validator (the host's
# check, the same code, is then the only one). The modules it imports are dropped again, so
# the deploy leaves the heap as it found it. MicroPython, CircuitPython and CPython.

def _el_check_models(paths):
    import sys

    before = set(sys.modules)
    if "/lib" not in sys.path:
        sys.path.append("/lib")
    try:
        try:
            from edgeloop_fw.runtime.validate import check_path
        except ImportError:
            return None
        heap = None
        try:
            import gc
            gc.collect()
            heap = gc.mem_free() + gc.mem_alloc()
        except (ImportError, AttributeError):
            pass
        out = []
        for p in paths:
            try:
                check_path(p, heap)
                out.append("")
            except MemoryError:  # the deploy's own state holds heap now: no verdict, not a refusal
                out.append(None)
            except Exception as e:  # ModelFileError, or whatever a file it cannot read raises
                kind = type(e).__name__
                out.append(str(e) if kind == "ModelFileError" else "%s: %s" % (kind, e))
        return out
    finally:
        for name in list(sys.modules):
            if name not in before:
                del sys.modules[name]


print(repr(_el_check_models(PATHS)))
del _el_check_models, PATHS
