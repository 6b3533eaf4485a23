"""The board's own REPL on this terminal (`edgeloop shell`), and restarting the board (`edgeloop reset`).

The shell is mpremote's REPL loop (its console, its Ctrl-] / Ctrl-X to
leave), run on the transport a `Device` opened, so it finds, opens and
refuses ports exactly as every other command does. A reset is by default a
soft reset from the friendly REPL (Ctrl-D), which runs boot.py and main.py
as at power-up -- unlike a raw-REPL soft reset, which skips main.py.
"""

from __future__ import annotations

import sys
import time
from types import SimpleNamespace

from edgeloop.errors import DeviceError
from edgeloop.link.device import Device

EXIT_KEYS = "Ctrl-] or Ctrl-X"

_HARD_RESET = """
try:
    import machine as _elr
except ImportError:
    try:
        import microcontroller as _elr
    except ImportError:
        _elr = None
print(_elr is not None and hasattr(_elr, 'reset'))
"""


def shell(port: str) -> None:
    """Attach this terminal to the board's REPL until EXIT_KEYS is pressed."""
    if not sys.stdin.isatty():
        raise DeviceError("edgeloop shell needs a terminal (stdin is not a TTY); to run code on the board "
                          "from a script use `edgeloop fs` or `mpremote exec`")
    from mpremote.console import Console
    from mpremote.repl import do_repl_main_loop


    def write(b: bytes) -> None:
        sys.stdout.buffer.write(b)
        sys.stdout.buffer.flush()

    with Device(port) as dev:  # interrupts a running app, as Ctrl-C would
        t = dev.transport
        t.exit_raw_repl()  # back to the friendly REPL: it prints its banner and a prompt
        write(f"Connected to the board at {port}; {EXIT_KEYS} leaves\r\n".encode())
        console = Console()
        console.enter()
        try:
            gone = do_repl_main_loop(SimpleNamespace(transport=t), console, write, escape_non_printable=False,
                                     code_to_inject=None, file_to_inject=None)
        finally:
            console.exit()
    if gone:
        raise DeviceError(f"the board at {port} went away (unplugged or reset into another mode)")


def reset(port: str, *, hard: bool = False, timeout: float = 10.0) -> str:
    """Restart the board; a line saying what was done."""
    with Device(port, timeout=timeout) as dev:
        t = dev.transport
        if hard:
            if not _has_hard_reset(dev):
                raise DeviceError(f"the board at {port} has no machine.reset() or microcontroller.reset() "
                                  "(a virtual board?); `edgeloop reset` without --hard restarts it")
            # The board drops the port mid-command, so nothing is waited for.
            t.exec_raw_no_follow("import time\ntime.sleep_ms(50)\n_elr.reset()")
            time.sleep(0.2)
            return f"hard reset the board at {port}: it restarts as at power-up (USB boards re-enumerate)"
        t.exit_raw_repl()
        t.serial.reset_input_buffer()
        t.serial.write(b"\x04")  # Ctrl-D at the friendly REPL: soft reboot, then boot.py and main.py
        got = t.read_until(1, b"soft reboot", timeout=timeout, timeout_overall=timeout)
        if not got.endswith(b"soft reboot"):
            raise DeviceError(f"the board at {port} did not soft-reboot within {timeout:g} s; "
                              "unplug it or use --hard")
    return f"soft reset the board at {port}: boot.py and main.py run again"


def _has_hard_reset(dev) -> bool:
    return dev.exec(_HARD_RESET).decode().strip() == "True"
