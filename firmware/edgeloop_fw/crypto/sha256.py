"""SHA-256 on every port: `new(data)` gives an object with update() and digest().

Ports spell it differently: CPython and MicroPython have `hashlib.sha256`,
CircuitPython only `hashlib.new("sha256", data)` (no sha256 attribute, so
calling it raised AttributeError and no model loaded there), old MicroPython
`uhashlib`. Some CircuitPython builds have no hashlib at all; there the pure
FIPS 180-4 code in sha256_pure.py hashes, because skipping the check would let a
bit-flipped model through unnoticed. It is slow (a check that runs once per
model load, only where the port offers nothing better) but allocates nothing
per block.
`PORT` says which one is in use ("pure" for the fallback).
"""

try:
    import hashlib as _hl
except ImportError:
    try:
        import uhashlib as _hl
    except ImportError:
        _hl = None

if _hl is not None and hasattr(_hl, "sha256"):
    PORT = "sha256"
elif _hl is not None and hasattr(_hl, "new"):
    PORT = "new"
else:
    PORT = "pure"


def new(data=b""):
    if PORT == "sha256":
        return _hl.sha256(data)
    if PORT == "new":
        return _hl.new("sha256", data)
    from .sha256_pure import Pure  # only a port without hashlib loads (and pays the heap for) it

    return Pure(data)
