"""`edgeloop sim`: run a virtual board until stopped."""

from __future__ import annotations

import signal
import time

import click


@click.command()
@click.option("--board", default="rp2040", show_default=True,
              help="Board profile to imitate (heap, filesystem size, name); see `edgeloop boards`.")
@click.option("--flash", "flash_dir", type=click.Path(file_okay=False), default=None,
              help="Host folder that holds the board's filesystem and survives restarts "
                   "(default: a temporary folder, deleted on exit).")
@click.option("--watchdog", default=2.0, show_default=True, type=click.FloatRange(0.2, 60),
              help="Seconds a Ctrl-C may go unanswered before the stuck interpreter is restarted.")
def sim(board, flash_dir, watchdog):
    """Run a virtual board: real MicroPython (WebAssembly) on a pseudo-terminal.

    Prints the port, then keeps running until Ctrl-C or SIGTERM. Any serial
    tool talks to it as to a USB board: edgeloop, mpremote, picocom. Its heap
    is capped at the profile's figure (allocating more raises MemoryError), and
    its filesystem is the --flash folder, so files survive restarts and you can
    look at them from the host.

    \b
    Examples:
      edgeloop sim --board rp2040
      edgeloop sim --board esp32s3 --flash ./board-files
      mpremote connect /dev/pts/3 fs ls        (in another shell, with the printed port)
      edgeloop info --port /dev/pts/3
    """
    from edgeloop.errors import SimError
    from edgeloop.sim import VirtualBoard

    def _stop(signum, frame):
        raise KeyboardInterrupt

    old = signal.signal(signal.SIGTERM, _stop)
    vb = VirtualBoard(board=board, flash_dir=flash_dir, watchdog=watchdog)
    try:
        click.echo(vb.port)
        click.echo(f"virtual {vb.board} board on {vb.port}, filesystem in {vb.flash_dir}; "
                   "Ctrl-C stops it", err=True)
        while vb.running:
            time.sleep(0.5)
        raise SimError(f"the virtual board on {vb.port} stopped unexpectedly")
    except KeyboardInterrupt:
        pass
    finally:
        vb.stop()
        signal.signal(signal.SIGTERM, old)
