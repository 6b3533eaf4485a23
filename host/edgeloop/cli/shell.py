"""`edgeloop shell`: the board's REPL on this terminal."""

from __future__ import annotations

import click


@click.command()
@click.option("--port", "-p", help="Serial port of the board (default: $EDGELOOP_PORT, or the one board found).")
def shell(port):
    """Open the board's Python prompt (REPL) here; Ctrl-] or Ctrl-X leaves.

    A running app is interrupted first (as Ctrl-C would). Ctrl-D at the
    prompt soft-resets the board. Needs a terminal; scripts use `edgeloop fs`.

    \b
    Examples:
      edgeloop shell
      edgeloop shell --port /dev/ttyACM0
    """
    from edgeloop.link.discover import resolve_port
    from edgeloop.link.repl import shell as run

    run(resolve_port(port))
