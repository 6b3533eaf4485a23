"""The signed model bundle: one file that carries a model into an A/B slot (docs/bundle.md).

Specified here once; the host writes bundles with these constants (edgeloop.deploy.bundle)
and the board reads them with these functions (edgeloop_fw.slots). Layout, little-endian:

    header    "<4sBBHI": MAGIC, FORMAT, 0, signature length (0 or 64), manifest length
    manifest  UTF-8 JSON (MANIFEST_KEYS below), exactly `manifest length` bytes
    signature Ed25519 (RFC 8032) over the manifest bytes, exactly as stored; absent if length 0
    payload   the manifest's files, concatenated in the manifest's order, sizes from the manifest

The signature covers the manifest only; the manifest covers every file by SHA-256 and size,
so one signature check and one hash per file check the whole bundle. Runs on MicroPython,
CircuitPython and CPython; imports nothing but json and struct.
"""

import struct

try:
    import json
except ImportError:  # pragma: no cover - very old MicroPython
    import ujson as json

MAGIC = b"ELBN"
FORMAT = 1
HEADER_FMT = "<4sBBHI"
HEADER_SIZE = 12
SIG_SIZE = 64
from .slot_marks import KEY, MARK  # noqa: F401 - part of this format, defined where the app reads them
MAX_MANIFEST = 8192  # a manifest is a few hundred bytes; a larger one is not ours

# Self-test outputs are hashed as the bytes the board's own code produces: an .elm model's
# output tensors (int8, in output order), a tree model's votes (uint16 little-endian per class).
SELFTEST_FILE = "selftest.bin"

# Refusal reasons: a short code the host maps to its message, one per check.
UNSIGNED = "unsigned"
BAD_SIGNATURE = "bad-signature"
CHANGED_FILE = "changed-file"
OLDER_COUNTER = "older-counter"
SELFTEST_MISMATCH = "selftest-mismatch"
MALFORMED = "malformed"
PENDING = "pending"
NO_VERIFIER = "no-verifier"


class BundleError(ValueError):
    """A refused bundle: `code` is one of the reasons above, the message says what was found."""

    def __init__(self, code, message):
        super().__init__(message)
        self.code = code


def _need(cond, what):
    if not cond:
        raise BundleError(MALFORMED, "the bundle's manifest is malformed: " + what)


def read_header(head):
    """(signature length, manifest length) from the first HEADER_SIZE bytes."""
    if len(head) < HEADER_SIZE:
        raise BundleError(MALFORMED, "not an edgeloop bundle: %d bytes is shorter than the header" % len(head))
    magic, fmt, _zero, sig_len, man_len = struct.unpack_from(HEADER_FMT, head, 0)
    if magic != MAGIC:
        raise BundleError(MALFORMED, "not an edgeloop bundle (magic %r)" % (magic,))
    if fmt != FORMAT:
        raise BundleError(MALFORMED, "bundle format %d, this firmware reads %d; update the firmware" % (fmt, FORMAT))
    if sig_len not in (0, SIG_SIZE) or not 0 < man_len <= MAX_MANIFEST:
        raise BundleError(MALFORMED, "signature length %d / manifest length %d out of range" % (sig_len, man_len))
    return sig_len, man_len


def header(sig_len, man_len):
    return struct.pack(HEADER_FMT, MAGIC, FORMAT, 0, sig_len, man_len)


def parse_manifest(raw):
    """The manifest as a dict, after checking the shape every reader relies on."""
    try:
        m = json.loads(raw)
    except ValueError:
        raise BundleError(MALFORMED, "the manifest is not JSON")
    _need(isinstance(m, dict), "not an object")
    _need(m.get("format") == FORMAT, "format %r" % (m.get("format"),))
    c = m.get("counter")
    _need(isinstance(c, int) and 0 < c < 1 << 31, "counter %r is not a positive integer" % (c,))
    _need(isinstance(m.get("version"), str), "version missing")
    files = m.get("files")
    _need(isinstance(files, list) and files, "no files")
    names = []
    for f in files:
        _need(isinstance(f, dict), "file entry is not an object")
        name, size, digest = f.get("name"), f.get("size"), f.get("sha256")
        _need(isinstance(name, str) and 0 < len(name) <= 40 and "/" not in name and name[0] != "."
              and name != "manifest.json", "file name %r" % (name,))
        _need(isinstance(size, int) and size >= 0, "size of " + name)
        _need(isinstance(digest, str) and len(digest) == 64, "sha256 of " + name)
        _need(name not in names, name + " listed twice")
        names.append(name)
    _need(m.get("model") in names, "the model file is not among the files")
    st = m.get("selftest")
    _need(isinstance(st, dict) and st.get("file") in names and isinstance(st.get("count"), int)
          and st["count"] > 0 and isinstance(st.get("size"), int) and st["size"] > 0
          and isinstance(st.get("outputs_sha256"), str) and len(st["outputs_sha256"]) == 64, "selftest")
    cf = m.get("confirm")
    _need(isinstance(cf, dict) and isinstance(cf.get("inferences"), int) and cf["inferences"] > 0
          and isinstance(cf.get("boots"), int) and cf["boots"] > 0, "confirm")
    _need(isinstance(m.get("config"), dict), "config")
    return m


def sha256(data=b""):
    """A SHA-256 object (update, digest) however the port spells it.

    CPython and MicroPython: hashlib.sha256. CircuitPython's hashlib has only
    hashlib.new("sha256", data) (calling hashlib.sha256 there raised AttributeError,
    so no bundle installed). A build without hashlib gets crypto/sha256_pure.py:
    slow, but a check that is skipped would pass a corrupted slot. Here, in a module
    slots already imports, so the board's boot-time imports stay as they were."""
    try:
        import hashlib
    except ImportError:
        try:
            import uhashlib as hashlib
        except ImportError:
            hashlib = None
    if hashlib is None:
        from .crypto.sha256_pure import Pure
        return Pure(data)
    if hasattr(hashlib, "sha256"):
        return hashlib.sha256(data)
    return hashlib.new("sha256", data)


def hexdigest(h):
    """hashlib's digest as lowercase hex (MicroPython's sha256 has no hexdigest)."""
    return "%02x" * 32 % tuple(h.digest())
