# Finishes a committed edgeloop deploy. Lives on the board as
# /.edgeloop/apply.py (source, so any .mpy ABI can run it) and is run by the
# deploy itself, by the next deploy, and by the hook edgeloop puts at the top
# of boot.py, so a board reset in the middle of the rename phase is completed
# at the next boot instead of leaving half an app.
#
# The journal (/.edgeloop/journal.json) appears by an atomic rename only after
# every new file sits verified in /.edgeloop/stage/, so its existence means
# "roll forward". Every step is idempotent (a move whose staged file is gone
# was done; a removal of a missing file is done), so an interruption at any
# point, including inside this function, is repaired by running it again.
#
# Runs on MicroPython, CircuitPython and CPython (tests run it against a
# folder with `root`). Only `el_apply` is meant to be called from outside.

import os

try:
    import json
except ImportError:
    import ujson as json

EL_DIR = "/.edgeloop"


def _el_ap_exists(path):
    try:
        os.stat(path)
        return True
    except OSError:
        return False


def _el_ap_mkdirs(path, known):
    # `known` holds the folders already seen, so a shared prefix is checked once.
    part = ""
    for name in path.split("/"):
        if not name:
            continue
        part = part + "/" + name
        if part not in known:
            if not _el_ap_exists(part):
                os.mkdir(part)
            known[part] = 1


def _el_ap_move(src, dst):
    # Moves a verified file into place (the receiver's session uses it too:
    # both scripts are sent together); FAT will not rename onto an existing
    # file, so the old one goes first (journalled by the caller).
    try:
        os.rename(src, dst)
    except OSError:
        os.remove(dst)
        os.rename(src, dst)


def _el_ap_clear(path):
    # Removes a folder and everything in it (the stage); missing is fine.
    try:
        mode = os.stat(path)[0]
    except OSError:
        return
    if mode & 0x4000:
        for name in os.listdir(path):
            _el_ap_clear(path + "/" + name)
        os.rmdir(path)
    else:
        os.remove(path)


def el_apply(root="", limit=0):
    """Roll a committed deploy forward; returns how many files were moved (0: nothing pending).

    With `limit`, at most that many files move and -1 means "call again": a
    board whose heap is only collected between execs (the WebAssembly board)
    cannot hold the garbage of a whole firmware's moves in one call. A repeat
    skips the moves already done, as after a reset.
    """
    journal_path = root + EL_DIR + "/journal.json"
    try:
        f = open(journal_path)
    except OSError:
        return 0
    try:
        journal = json.load(f)  # from the stream: no copy of the whole text
    finally:
        f.close()
    moved = 0
    # Each folder is checked once, not once per file: on a board every stat
    # allocates, and the virtual board cannot collect garbage inside one exec.
    folders = {}
    for src, dst in journal["moves"]:
        if _el_ap_exists(root + src):
            if limit and moved == limit:
                return -1
            parent = dst[: dst.rfind("/")]
            if parent:
                _el_ap_mkdirs(root + parent, folders)
            _el_ap_move(root + src, root + dst)
            moved += 1
    for path in journal["remove"]:
        try:
            os.remove(root + path)
        except OSError:
            pass
    # The manifest is merged, not replaced, so the host never has to read it
    # back; a second run merges the same changes into the same result. The
    # host renders every line: one file entry per line, each ending in a
    # comma, then the header fields (see deploy/plan.py). The board only sorts and
    # writes them, line by line (no large joined string: a small heap), and
    # the next deploy's plan compares lines as text instead of parsing JSON.
    manifest_path = root + EL_DIR + "/manifest.json"
    files = {}
    try:
        f = open(manifest_path)
        try:
            text = f.read()
        finally:
            f.close()
        if text.startswith("{\n"):
            for line in text.split("\n"):
                if line.startswith('"/'):
                    files[line[1:line.index('"', 1)]] = line
        text = None
    except OSError:
        pass
    for path in journal["remove"]:
        files.pop(path, None)
    for path in journal["set"]:
        files[path] = journal["set"][path]
    tmp = root + EL_DIR + "/manifest.tmp"
    f = open(tmp, "w")
    try:
        f.write("{\n")
        for path in sorted(files):
            f.write(files[path])
            f.write("\n")
        for line in journal["header"]:
            f.write(line)
            f.write("\n")
        f.write("}\n")
    finally:
        f.close()
    _el_ap_move(tmp, manifest_path)
    os.remove(journal_path)
    _el_ap_clear(root + EL_DIR + "/stage")
    return moved
