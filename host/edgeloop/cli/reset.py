"""`edgeloop reset`: restart the board."""

from __future__ import annotations

import click


@click.command()
@click.option("--port", "-p", help="Serial port of the board (default: $EDGELOOP_PORT, or the one board found).")
@click.option("--hard", is_flag=True, help="machine.reset() (microcontroller.reset() on CircuitPython): the "
                                           "whole chip restarts and USB re-enumerates.")
def reset(port, hard):
    """Restart the board: a soft reset that runs boot.py and main.py again, or --hard.

    \b
    Examples:
      edgeloop reset
      edgeloop reset --hard --port /dev/ttyACM0
    """
    from edgeloop.link.discover import resolve_port
    from edgeloop.link.repl import reset as run

    click.echo(run(resolve_port(port), hard=hard))
