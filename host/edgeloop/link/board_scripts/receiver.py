# The board side of `edgeloop deploy`: sent once per connection with
# Device.exec, after which the host calls these functions in small execs.
#
# Runs on MicroPython, CircuitPython and CPython (the tests run it on the
# host against a folder), so it only uses what all three have and
# feature-detects the rest. Every name starts with `_el_` because it lives in
# the raw REPL's globals next to whatever the user left there.
#
# Why these choices:
# - Chunks arrive base64-encoded (1.33x) rather than as repr() of bytes
#   (up to 4x for compressed data), each one an independent zlib stream so
#   a chunk never needs state from the previous exec.
# - One preallocated buffer for inflating and hashing: no allocation per
#   block, so a long deploy does not fragment a small heap.
# - Hashes are taken by re-reading the file from flash after close, so they
#   vouch for what is stored, not for what was meant to be written.

import os
import binascii
import hashlib

try:
    import deflate as _el_deflate
    import io as _el_io
except ImportError:
    _el_deflate = None
try:
    import zlib as _el_zlib
except ImportError:
    _el_zlib = None

_el_buf = bytearray(1024)
_el_mv = memoryview(_el_buf)
_el_f = None
_el_path = None


def _el_inflate_kind():
    if _el_deflate is not None and hasattr(_el_deflate, "DeflateIO"):
        return "deflate"
    if _el_zlib is not None and hasattr(_el_zlib, "decompress"):
        return "zlib"
    return None


def _el_isdir(path):
    try:
        return (os.stat(path)[0] & 0x4000) != 0
    except OSError:
        return False


def _el_size(path):
    try:
        st = os.stat(path)
    except OSError:
        return -1
    if st[0] & 0x4000:
        return -2
    return st[6]


def _el_hash(path):
    try:
        f = open(path, "rb")
    except OSError:
        return None
    # CircuitPython's hashlib has only new(name): a deploy to it hashed nothing before.
    h = hashlib.sha256() if hasattr(hashlib, "sha256") else hashlib.new("sha256")
    while True:
        n = f.readinto(_el_buf)
        if not n:
            break
        h.update(_el_mv[:n])
    f.close()
    return binascii.hexlify(h.digest()).decode()


def _el_mkdirs(path):
    # Creates every missing folder of `path` (a folder path, "/a/b").
    part = ""
    for name in path.split("/"):
        if not name:
            continue
        part = part + "/" + name
        if not _el_isdir(part):
            os.mkdir(part)


def _el_rmtree(path):
    if not _el_isdir(path):
        try:
            os.remove(path)
        except OSError:
            pass
        return
    for name in os.listdir(path):
        _el_rmtree(path + "/" + name)
    os.rmdir(path)


def _el_session(root):
    # Opens a deploy: what the board is, then the recovery (finish a committed
    # deploy, drop a half-sent stage). Prints (info, files moved by recovery).
    # Heap and free space cost a GC and a statvfs, so _el_space gives them
    # only when something is going to be written.
    import sys

    impl = sys.implementation
    info = {
        "name": impl.name,
        "version": tuple(impl.version[:3]),
        "mpy": getattr(impl, "_mpy", None),
        "platform": sys.platform,
        "inflate": _el_inflate_kind(),
        "fromhex": hasattr(bytes, "fromhex"),
    }
    moved = el_apply(root)
    _el_rmtree(root + "/.edgeloop/stage")
    print(repr((info, moved)))


def _el_space(root):
    import gc

    info = {"heap": None}
    if hasattr(gc, "mem_free"):
        gc.collect()
        info["heap"] = gc.mem_free()
    try:
        st = os.statvfs(root or "/")
        info["block"] = st[0]
        info["total"] = st[0] * st[2]
        info["free"] = st[0] * st[4]
    except (AttributeError, OSError):
        info["block"] = info["total"] = info["free"] = None
    print(repr(info))


def _el_read(path):
    # Prints the file's bytes (repr) or None: for the small manifest/journal.
    try:
        f = open(path, "rb")
    except OSError:
        print("None")
        return
    data = f.read()
    f.close()
    print(repr(data))


def _el_sizes(paths):
    print(repr([_el_size(p) for p in paths]))


def _el_hashes(paths):
    print(repr([_el_hash(p) for p in paths]))


def _el_open(path):
    global _el_f, _el_path
    _el_f = open(path, "wb")
    _el_path = path


def _el_w(data, mode):
    # data: base64 bytes, or a hex str (faster to decode where a2b_base64 is
    # slow, e.g. the WebAssembly build); mode 0: raw; mode 1: one zlib
    # stream (inflated in 1 KB steps).
    raw = bytes.fromhex(data) if isinstance(data, str) else binascii.a2b_base64(data)
    if mode == 0:
        _el_f.write(raw)
    elif _el_deflate is not None:
        d = _el_deflate.DeflateIO(_el_io.BytesIO(raw), _el_deflate.ZLIB)
        while True:
            n = d.readinto(_el_buf)
            if not n:
                break
            _el_f.write(_el_mv[:n])
        d.close()
    else:
        _el_f.write(_el_zlib.decompress(raw))


def _el_close():
    # Closes the file being written and prints the sha256 of what is on flash.
    global _el_f
    _el_f.close()
    _el_f = None
    print(_el_hash(_el_path))


def _el_manifest_lines(path):
    # The manifest as a set of its lines, or None. edgeloop writes one file
    # entry or header field per line, and the host renders the lines it wants
    # the same way, so "unchanged" is a set lookup: no JSON parsing on the board.
    try:
        f = open(path)
    except OSError:
        return None
    try:
        text = f.read()
    finally:
        f.close()
    if not text.startswith("{\n"):
        return None  # not a manifest this receiver wrote: check everything by hash
    return set(text.split("\n"))


def _el_field(line, name):
    # The value of "name" in a manifest file line (a number, or a string without quotes).
    i = line.find('"' + name + '": ')
    if i < 0:
        return None
    i += len(name) + 4
    if line[i] == '"':
        return line[i + 1:line.index('"', i + 1)]
    j = i
    while line[j] in "0123456789":
        j += 1
    return int(line[i:j])


def _el_plan(root, manifest_path, wanted, header, prune, verify, applier, applier_sha):
    # Decides on the board which files differ, so only a few indices travel
    # back over the (slow, byte-at-a-time) device-to-host direction.
    # wanted: the manifest lines the host wants, "\n"-joined; header: the
    # header lines. A line the manifest already holds is trusted when the file
    # still has its size; any other file of the right size is hashed.
    # Prints (changed indices, how many were hashed, paths to remove,
    # manifest up to date, applier ok, folders).
    known = _el_manifest_lines(manifest_path)
    same = known is not None
    if known is None:
        known = ()
    for line in header.split("\n"):
        if line not in known:
            same = False
    lines = wanted.split("\n") if wanted else []
    changed, folders = [], []
    hashed = 0
    for i in range(len(lines)):
        line = lines[i]
        key = line[1:line.index('"', 1)]
        size = _el_field(line, "size")
        have = _el_size(root + key)
        trusted = line in known
        if not trusted:
            same = False
        if have == -2:
            folders.append(key)
        elif have != size:
            changed.append(i)
        elif verify or not trusted:
            hashed += 1
            if _el_hash(root + key) != _el_field(line, "sha256"):
                changed.append(i)
    remove = []
    if prune:
        mine = set(lines)
        for line in known:
            if line.startswith('"/') and line not in mine:
                key = line[1:line.index('"', 1)]
                if key not in remove and _el_field(line, "group") in prune and \
                        not _el_wanted(lines, key):
                    remove.append(key)
    remove.sort()
    print(repr((changed, hashed, remove, same and not remove, _el_hash(applier) == applier_sha, folders)))


def _el_wanted(lines, key):
    prefix = '"' + key + '": '
    for line in lines:
        if line.startswith(prefix):
            return True
    return False
