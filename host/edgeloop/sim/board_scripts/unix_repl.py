# The virtual board's REPL on a unix build of MicroPython or CircuitPython
# (edgeloop.sim.unix starts it; it is not sent to the board).
#
# The unix ports have no raw REPL, and their friendly REPL edits lines on a
# terminal, so this script is the board's pyexec: it speaks the raw REPL
# (and raw-paste) that mpremote and edgeloop's link expect, over stdin and
# stdout, which are pipes to the host's bridge (edgeloop.sim.unix). The
# bridge turns a Ctrl-C into SIGINT (the unix port's KeyboardInterrupt), as a
# board's USB interrupt would; this script answers on the control pipe:
#   K  a KeyboardInterrupt was taken      I  at a prompt, reading input
#   S  soft reset into the raw REPL       F  soft reset into the friendly REPL
#   R  hard reset (microcontroller.reset) D0/D1  usb_cdc data channel off/on
# Soft and hard resets end this process; the bridge starts a new one, which
# is how a reset frees the whole heap, as on a board.
#
# argv: flash-folder raw|friendly hard|soft|safe control-fd data-fd shims-folder|- data-on(1|0) profile-name
import sys
import os
import select

_A = sys.argv
_FLASH = _A[1]
_RAW = _A[2] == "raw"
_BOOT = _A[3]
_CTL = open(int(_A[4]), "wb")
_DATA = int(_A[5])
_CPY = sys.implementation.name == "circuitpython"

if _A[6] != "-":
    # CircuitPython's board-only modules, imported now: the root is remounted below.
    sys.path.insert(0, _A[6])
    import time  # noqa: F401 (the shim: boards' time)
    import supervisor  # noqa: F401
    import usb_cdc
    import microcontroller  # noqa: F401
    usb_cdc._attach(_DATA if _DATA >= 0 else None, _CTL, _A[3] == "hard", _A[7] == "1")
    del sys.path[0]



class _vboard:
    # What `edgeloop info`/deploy read to know a virtual board and its profile (as the WASM board's module).
    board = _A[8]
    bridge = "edgeloop-sim-unix 1"


sys.modules["_vboard"] = _vboard

class _Flash:
    # The flash folder as the board's /. VfsPosix(root).rename builds both paths in one
    # shared buffer (MicroPython 1.27, CircuitPython 10), so it renames the target onto
    # itself (ENOENT); a root-less VfsPosix given the two host paths does it right.
    def __init__(self, root):
        self.root = root
        self.v = os.VfsPosix(root)
        self.h = os.VfsPosix()

    def mount(self, readonly, mkfs):
        self.v.mount(readonly, mkfs)

    def umount(self):
        pass

    def ilistdir(self, p):
        return self.v.ilistdir(p)

    def open(self, p, mode):
        return self.v.open(p, mode)

    def chdir(self, p):
        return self.v.chdir(p)

    def getcwd(self):
        return self.v.getcwd()

    def mkdir(self, p):
        return self.v.mkdir(p)

    def remove(self, p):
        return self.v.remove(p)

    def rmdir(self, p):
        return self.v.rmdir(p)

    def stat(self, p):
        return self.v.stat(p)

    def statvfs(self, p):
        return self.v.statvfs(p)

    def _host(self, p):
        if p[:1] != "/":
            p = (self.v.getcwd() or "/").rstrip("/") + "/" + p
        return self.root + p

    def rename(self, a, b):
        return self.h.rename(self._host(a), self._host(b))


os.umount("/")
os.mount(_Flash(_FLASH.rstrip("/")), "/")
os.chdir("/")
sys.path.clear()
sys.path.extend(["", "/", "/lib"] if _CPY else ["", "/lib"])

_IN = sys.stdin.buffer
_OUT = sys.stdout.buffer
_POLL = select.poll()
_POLL.register(_IN, select.POLLIN)
_BUF = bytearray(4096)
_st = [0, 0]  # read position, bytes in _BUF


def _tell(m):
    _CTL.write(m + b"\n")


def _w(b):
    _OUT.write(b)


def _byte():
    # The next host byte; the pipe is non-blocking (the bridge made it so),
    # so readinto returns what has arrived instead of waiting for a full buffer.
    while _st[0] >= _st[1]:
        try:
            _POLL.poll(-1)
        except KeyboardInterrupt:  # the bridge's Ctrl-C while waiting: the byte itself, as on a board
            _tell(b"K")
            return 3
        n = _IN.readinto(_BUF)
        if n == 0:
            raise SystemExit  # the bridge is gone
        if n:
            _st[0] = 0
            _st[1] = n
    c = _BUF[_st[0]]
    _st[0] += 1
    return c


def _print_exc(e):
    if _CPY:
        import traceback
        traceback.print_exception(e)
    else:
        sys.print_exception(e, sys.stdout)


_G = {"__name__": "__main__"}


def _run(code, where=None, show=True):
    """Run code in the REPL's globals: (1 if it asked for a soft reset (sys.exit), its exception)."""
    try:
        if where is None:
            exec(code, _G)
        else:
            exec(compile(code, where, "exec"), _G)
    except SystemExit:
        return 1, None
    except KeyboardInterrupt as e:
        _tell(b"K")
        err = e
    except BaseException as e:
        err = e
    else:
        return 0, None
    if show:
        _print_exc(err)
    return 0, err


def _run_file(name):
    try:
        with open(name) as f:
            code = f.read()
    except OSError:
        return 0
    return _run(code, name)[0]


def _reset(kind):
    _OUT.flush() if hasattr(_OUT, "flush") else None
    _tell(kind)
    raise SystemExit


def _raw_exec(code, paste):
    """Run one raw-REPL command: OK, its output, \x04, its error, \x04>."""
    if not paste:
        _w(b"OK")
    if code is None:
        _w(b"\r\n")
        _reset(b"S")
    r, err = _run(code, None, False)
    _w(b"\x04")
    if err is not None:
        _print_exc(err)
    _w(b"\x04>")
    if r:
        _reset(b"S")


def _raw_paste():
    win = 1024
    _w(b"R\x01" + bytes((win & 255, win >> 8)))
    code = bytearray()
    since = 0
    while True:
        c = _byte()
        if c == 4:
            break
        if c == 3:
            _w(b"\x04\x04KeyboardInterrupt: \r\n\x04>")
            return
        if code is not None:
            try:
                code.append(c)
            except MemoryError:  # read on to the end (acking windows), then say so as a board would
                code = None
        since += 1
        if since == win:
            since = 0
            _w(b"\x01")
    _w(b"\x04")
    if code is None:
        _w(b"\x04MemoryError: the pasted code does not fit the heap\r\n\x04>")
        return
    try:
        code = bytes(code)
    except MemoryError:
        code = None
        _w(b"\x04MemoryError: the pasted code does not fit the heap\r\n\x04>")
        return
    _raw_exec(code, True)


def _raw(banner=True):
    if banner:
        _w(b"raw REPL; CTRL-B to exit\r\n>")
    while True:
        _tell(b"I")
        line = bytearray()
        while True:
            c = _byte()
            if c == 1:  # Ctrl-A again: a fresh prompt
                _w(b"\r\nraw REPL; CTRL-B to exit\r\n>")
                line = bytearray()
            elif c == 2:  # Ctrl-B: the friendly REPL
                _w(b"\r\n")
                return
            elif c == 3:
                line = bytearray()
            elif c == 4:
                break
            elif c == 5 and not line:
                if _byte() == 0x41 and _byte() == 1:
                    _raw_paste()
                    line = None
                    break
            else:
                line.append(c)
        if line is not None:
            _raw_exec(bytes(line) if line else None, False)


def _friendly():
    impl = "CircuitPython" if _CPY else "MicroPython"
    _w(("%s %s on edgeloop virtual board (unix)\r\nType \"help()\" for more information.\r\n"
        % (impl, sys.version.split("; ")[-1])).encode())
    while True:
        _w(b">>> ")
        _tell(b"I")
        line = bytearray()
        while True:
            c = _byte()
            if c == 1:
                _w(b"\r\n")
                return True
            if c == 3:
                _w(b"\r\nKeyboardInterrupt\r\n")
                line = None
                break
            if c == 4 and not line:
                _w(b"\r\n")
                _reset(b"F")
            if c in (13, 10):
                _w(b"\r\n")
                break
            if c in (8, 127):
                if line:
                    line.pop()
                    _w(b"\x08 \x08")
                continue
            line.append(c)
            _w(bytes((c,)))
        if line:
            text = bytes(line).decode()
            try:
                code = compile(text, "<stdin>", "single")
            except SyntaxError:
                code = text
            _run(code)


def _boot():
    if _BOOT == "safe":
        _w(b"edgeloop sim: the interpreter was stuck and has been restarted (files kept; boot.py and main.py skipped)\r\n")
        _tell(b"B")
        return
    if _BOOT == "soft":
        _w(b"soft reboot\r\n" if _CPY else b"MPY: soft reboot\r\n")
    # MicroPython runs boot.py at every reset; CircuitPython only at a hard one, when
    # usb_cdc.enable() may still change the USB interfaces.
    try:
        if (not _CPY or _BOOT == "hard") and _run_file("boot.py"):
            _reset(b"F")
    finally:
        if _CPY and _BOOT == "hard":
            _tell(b"D1" if usb_cdc._boot_done() else b"D0")
        _tell(b"B")  # booted: what a hard reset waits for (main.py may run forever)
    if not _RAW:
        for name in (("code.py", "main.py") if _CPY else ("main.py",)):
            try:
                os.stat(name)
            except OSError:
                continue
            if _run_file(name):
                _reset(b"F")
            break


def _repl():
    raw = _RAW
    banner = True
    while True:
        try:
            if raw:
                _raw(banner)
                raw = False
                banner = True
            else:
                raw = _friendly()
        except KeyboardInterrupt:  # between two reads: a raw REPL goes on at its prompt, silently
            _tell(b"K")
            banner = not raw  # back to the friendly REPL it was in, or the raw one, silently
        except MemoryError:  # the REPL itself out of heap (a huge paste): say so, stay up
            _G.clear()
            _G["__name__"] = "__main__"
            _w(b"\x04MemoryError: the REPL ran out of heap\r\n\x04>" if raw else b"MemoryError\r\n")


# From here on a Ctrl-C (SIGINT) is answered: "U" tells the bridge so.
_tell(b"U")
try:
    try:
        _boot()
    except KeyboardInterrupt:  # between boot.py and main.py: the REPL, as a board would
        _tell(b"K")
    _repl()
except SystemExit:
    pass
