"""Two model slots, a signed-bundle installer, a boot counter and rollback (docs/bundle.md).

On the board:

    /keys/edgeloop.pub        the trusted Ed25519 public key (32 bytes); present = "provisioned"
    /slots/a/, /slots/b/      a slot: the bundle's files + manifest.json (the signed manifest bytes)
    /slots/state.json         which slot runs, the counter, pending/confirmed, the boot counter
    /slots/incoming.bundle    a bundle the host has just sent, until install() is done with it

`install()` checks a bundle (signature, every file's hash, the counter), writes it to the
slot that is not running, runs its self-test there, and only then switches: the state file
is the one commit point, so a power cut anywhere leaves the old slot running or the new,
self-tested one pending. A pending slot has `confirm.boots` app starts to run
`confirm.inferences` inferences; a start that finds its boots used up (the previous start
crashed or was reset before confirming) or a slot file that no longer matches its hash puts
the previous slot back. Runs on MicroPython, CircuitPython and CPython (`root` prefixes every
path for host tests).
"""

import os

from . import bundle_format as BF
from .port import file_exists

try:
    import json
except ImportError:  # pragma: no cover
    import ujson as json

KEY = BF.KEY
MARK = BF.MARK
SLOTS = "/slots"
STATE = SLOTS + "/state.json"
STATE_NEW = SLOTS + "/state.new"
INCOMING = SLOTS + "/incoming.bundle"
NAMES = ("a", "b")
_CHUNK = 512


def _remove(path):
    try:
        os.remove(path)
    except OSError:
        pass


def _replace(src, dst):
    try:
        os.rename(src, dst)
    except OSError:  # FAT will not rename onto an existing file
        os.remove(dst)
        os.rename(src, dst)


def _mkdir(path):
    if not file_exists(path):
        os.mkdir(path)


# -- the state file ---------------------------------------------------------------
# The JSON text, a newline, and the SHA-256 of the text: a torn write never reads as valid.
# Written as state.new, then renamed; a valid state.new is always the newest state (it only
# exists between its write and its rename), so a reader finishes that rename first.

def _parse_state(path):
    try:
        f = open(path)
        try:
            text = f.read()
        finally:
            f.close()
        text = text.rstrip("\n")
        cut = text.rfind("\n")
        body, digest = text[:cut], text[cut + 1:]
        h = BF.sha256(body.encode())
        if BF.hexdigest(h) != digest:
            return None
        return json.loads(body)
    except (OSError, ValueError):
        return None


def load_state(root=""):
    """The slot state, or None on a board that never installed a bundle."""
    new = _parse_state(root + STATE_NEW)
    if new is not None:
        _replace(root + STATE_NEW, root + STATE)
        return new
    _remove(root + STATE_NEW)
    return _parse_state(root + STATE)


def save_state(state, root=""):
    _mkdir(root + SLOTS)
    body = json.dumps(state)
    f = open(root + STATE_NEW, "w")
    try:
        f.write(body)
        f.write("\n")
        f.write(BF.hexdigest(BF.sha256(body.encode())))
        f.write("\n")
    finally:
        f.close()
    _replace(root + STATE_NEW, root + STATE)


def provisioned(root=""):
    return file_exists(root + KEY)


def _slot_dir(root, name):
    return root + SLOTS + "/" + name


def slot_manifest(name, root=""):
    f = open(_slot_dir(root, name) + "/manifest.json")
    try:
        return json.load(f)
    finally:
        f.close()


# -- checking and installing a bundle ------------------------------------------------

def _hash_file_part(f, size, buf, out=None):
    """SHA-256 hex of the next `size` bytes of f (copied to `out` if given); None if short."""
    h = BF.sha256()
    left = size
    mv = memoryview(buf)
    while left > 0:
        n = f.readinto(buf) if left >= len(buf) else f.readinto(mv[:left])
        if not n:
            return None
        h.update(mv[:n])
        if out is not None:
            out.write(mv[:n])
        left -= n
    return BF.hexdigest(h)


def _read_manifest(f):
    sig_len, man_len = BF.read_header(f.read(BF.HEADER_SIZE))
    raw = f.read(man_len)
    if len(raw) != man_len:
        raise BF.BundleError(BF.MALFORMED, "the bundle is truncated inside its manifest")
    sig = f.read(sig_len)
    if len(sig) != sig_len:
        raise BF.BundleError(BF.MALFORMED, "the bundle is truncated inside its signature")
    return raw, sig


def _check_signature(raw, sig, root, verify):
    """(checked?) or BundleError: unsigned / bad signature / no verifier on a provisioned board."""
    if not provisioned(root):
        return False  # no key: signatures are not checked (the host says so)
    if not sig:
        raise BF.BundleError(BF.UNSIGNED, "the bundle is unsigned and this board accepts only bundles "
                                          "signed with its key")
    if verify is None:
        try:
            from .crypto import verify
        except ImportError:
            raise BF.BundleError(BF.NO_VERIFIER, "this firmware has no signature check (edgeloop_fw.crypto); "
                                                 "deploy a firmware that has it")
    f = open(root + KEY, "rb")
    try:
        pub = f.read()
    finally:
        f.close()
    if len(pub) != 32 or not verify(pub, raw, sig):
        raise BF.BundleError(BF.BAD_SIGNATURE, "the bundle's signature does not match the board's key")
    return True


def check(path, root="", verify=None):
    """Check a bundle without writing anything: (manifest dict, manifest bytes, signature checked?)."""
    state = load_state(root)
    f = open(path, "rb")
    try:
        raw, sig = _read_manifest(f)
        signed = _check_signature(raw, sig, root, verify)
        m = BF.parse_manifest(raw)
        buf = bytearray(_CHUNK)
        for entry in m["files"]:
            if _hash_file_part(f, entry["size"], buf) != entry["sha256"]:
                raise BF.BundleError(BF.CHANGED_FILE, "%s does not match the manifest's SHA-256 (the bundle "
                                                      "was changed or damaged)" % entry["name"])
        if f.read(1):
            raise BF.BundleError(BF.CHANGED_FILE, "the bundle has bytes after its last file")
    finally:
        f.close()
    have = state["counter"] if state else 0
    if m["counter"] <= have:
        raise BF.BundleError(BF.OLDER_COUNTER, "counter %d is not greater than the board's %d (an older or "
                                               "replayed bundle)" % (m["counter"], have))
    if state and state.get("pending"):
        raise BF.BundleError(BF.PENDING, "the board is still trying %s (not confirmed yet); run the app until "
                                         "it confirms, then deploy again" % state.get("version"))
    return m, raw, signed


def _clear(folder):
    if not file_exists(folder):
        os.mkdir(folder)
        return
    for name in os.listdir(folder):
        os.remove(folder + "/" + name)


def write_slot(path, name, m, raw, root=""):
    """Copy the bundle's files into slot `name` (not the running one), re-hashing what was written."""
    folder = _slot_dir(root, name)
    _mkdir(root + SLOTS)
    _clear(folder)
    buf = bytearray(_CHUNK)
    f = open(path, "rb")
    try:
        _read_manifest(f)
        for entry in m["files"]:
            out = open(folder + "/" + entry["name"], "wb")
            try:
                got = _hash_file_part(f, entry["size"], buf, out)
            finally:
                out.close()
            if got != entry["sha256"]:
                raise BF.BundleError(BF.CHANGED_FILE, "%s changed while it was copied to the slot" % entry["name"])
    finally:
        f.close()
    out = open(folder + "/manifest.json", "wb")
    try:
        out.write(raw)
    finally:
        out.close()


def run_selftest(name, m, root=""):
    from .selftest import outputs_digest
    st = m["selftest"]
    folder = _slot_dir(root, name)
    try:
        got = outputs_digest(folder + "/" + m["model"], folder + "/" + st["file"], st["count"], st["size"])
    except Exception as e:  # the model does not even load or run: the same verdict, with the reason
        raise BF.BundleError(BF.SELFTEST_MISMATCH, "the self-test failed to run: %s" % e)
    got = "%02x" * 32 % tuple(got)
    if got != st["outputs_sha256"]:
        raise BF.BundleError(BF.SELFTEST_MISMATCH, "the self-test's outputs hash to %s..., the bundle expects "
                                                   "%s..." % (got[:12], st["outputs_sha256"][:12]))


def switch(name, m, root=""):
    """The commit: slot `name` runs from the next app start, pending until it confirms."""
    state = load_state(root)
    save_state({"active": name, "previous": state["active"] if state else None, "counter": m["counter"],
                "version": m["version"], "pending": True, "boots": 0, "confirm": m["confirm"],
                "note": "installed %s" % m["version"]}, root)


def inactive(root=""):
    state = load_state(root)
    return "b" if state and state.get("active") == "a" else "a"


def manifest_digest(raw):
    return BF.hexdigest(BF.sha256(raw))


def check_first(path=None, root="", verify=None):
    """install()'s checks alone, for a board that cannot hold the signature check and the
    self-test in one go: (SHA-256 of the checked manifest, signature checked?) to pass to
    install(checked=...). The bundle is removed if refused."""
    path = path or root + INCOMING
    try:
        m, raw, signed = check(path, root, verify)
    except BF.BundleError:
        _remove(path)
        raise
    return manifest_digest(raw), signed


def _rechecked(path, root, checked):
    """The manifest check_first() verified, if the bundle still carries exactly it (the files are
    hashed again against it as they are copied, and the counter is checked again)."""
    digest, signed = checked
    f = open(path, "rb")
    try:
        raw, _sig = _read_manifest(f)
    finally:
        f.close()
    if manifest_digest(raw) != digest:
        raise BF.BundleError(BF.CHANGED_FILE, "the bundle's manifest changed after its signature was checked")
    m = BF.parse_manifest(raw)
    state = load_state(root)
    if m["counter"] <= (state["counter"] if state else 0) or (state and state.get("pending")):
        raise BF.BundleError(BF.OLDER_COUNTER, "the board's counter moved since the check; deploy again")
    return m, raw, signed


def install(path=None, root="", verify=None, checked=None):
    """Check, write, self-test, switch. Returns (slot, version, counter, signature checked?);
    raises BundleError (nothing switched) on a refusal. The bundle file is removed either way.
    `checked`: check_first()'s answer, so the signature is not checked twice."""
    path = path or root + INCOMING
    try:
        m, raw, signed = _rechecked(path, root, checked) if checked else check(path, root, verify)
        name = inactive(root)
        write_slot(path, name, m, raw, root)
        try:
            run_selftest(name, m, root)
        except BF.BundleError:
            _clear(_slot_dir(root, name))  # a candidate that failed leaves nothing behind
            raise
        switch(name, m, root)
    finally:
        _remove(path)
    return name, m["version"], m["counter"], signed


# -- at boot and in the app ---------------------------------------------------------

def rollback(state, why, root=""):
    state["note"] = "rolled back %s: %s" % (state.get("version"), why)
    prev = state.get("previous")
    state["active"] = prev
    state["previous"] = None
    state["pending"] = False
    state["boots"] = 0
    state["version"] = slot_manifest(prev, root)["version"] if prev else None
    save_state(state, root)
    return state


def _slot_intact(name, root):
    try:
        m = slot_manifest(name, root)
        folder = _slot_dir(root, name)
        buf = bytearray(_CHUNK)
        for entry in m["files"]:
            f = open(folder + "/" + entry["name"], "rb")
            try:
                ok = _hash_file_part(f, entry["size"], buf) == entry["sha256"] and not f.read(1)
            finally:
                f.close()
            if not ok:
                return False
        return True
    except (OSError, ValueError, KeyError):
        return False


def recover(root=""):
    """At boot (main.py): a pending slot whose app starts are used up goes back to the previous."""
    state = load_state(root)
    if state and state.get("pending") and state["boots"] >= state["confirm"]["boots"]:
        rollback(state, "it did not confirm within %d start(s)" % state["confirm"]["boots"], root)
    return state


def start(root=""):
    """At app start: (slot folder, manifest, inferences left to confirm) of the slot to run, or None.

    A pending slot is counted (one more start) before it runs, so a crash before it confirms
    is seen by the next start, which puts the previous slot back."""
    state = recover(root)
    if not state or not state.get("active"):
        return None
    name = state["active"]
    if state.get("pending"):
        if not _slot_intact(name, root):
            state = rollback(state, "its files no longer match their hashes", root)
            name = state["active"]
            if not name:
                return None
        else:
            state["boots"] += 1
            save_state(state, root)
    left = state["confirm"]["inferences"] if state.get("pending") else 0
    return _slot_dir(root, name), slot_manifest(name, root), left


def confirm(root=""):
    """The pending slot ran its inferences: keep it."""
    state = load_state(root)
    if state and state.get("pending"):
        state["pending"] = False
        state["boots"] = 0
        state["previous"] = None
        state["note"] = "confirmed %s" % state.get("version")
        save_state(state, root)
    return state


def app_config(cfg, root=""):
    """/edgeloop.json's config with the model from the active slot: (config, inferences to confirm).

    A board with a key runs only slot models: a plain model path is refused."""
    model = cfg.get("model") or ""
    if not model.startswith(MARK):
        if model and provisioned(root):
            raise ValueError("this board accepts only signed bundles (a key is provisioned) but "
                             "/edgeloop.json names the plain model %s; deploy a bundle" % model)
        return cfg, 0
    got = start(root)
    cfg = dict(cfg)
    if got is None:
        cfg["model"] = None  # no slot installed (or the only one rolled back): stream without a model
        return cfg, 0
    folder, m, left = got
    settings = m["config"]
    for k in ("window", "hop", "classes", "kws"):
        if k in settings:
            cfg[k] = settings[k]
    sensor = cfg.get("sensor")
    if sensor and sensor.get("kind") != "replay" and "rate" in settings:
        sensor = dict(sensor)
        sensor["rate"] = settings["rate"]
        cfg["sensor"] = sensor
    cfg["model"] = folder + "/" + m["model"]
    return cfg, left
