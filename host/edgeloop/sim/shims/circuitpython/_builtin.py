"""Reach the interpreter's own built-in module that a shim of the same name hides.

A `time.py` first on MICROPYPATH overrides the unix port's built-in `time`
(it is an extensible module); to wrap the built-in the shim imports it with
an empty path and itself out of sys.modules for that moment.
"""

import sys


def load(name):
    me = sys.modules.pop(name, None)
    path = sys.path[:]
    sys.path.clear()
    try:
        mod = __import__(name)
    finally:
        sys.path.extend(path)
        if me is not None:
            sys.modules[name] = me
    return mod
