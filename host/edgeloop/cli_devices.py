"""`edgeloop devices`: the boards attached, and the virtual ones running."""

from __future__ import annotations

import click


@click.command()
def devices():
    """List attached boards and running virtual boards.

    A serial port is listed when its USB vendor/product ID is in a board
    profile (normal or bootloader mode); virtual boards started with
    `edgeloop sim` are listed with their profile. PORT is what --port takes.

    \b
    Examples:
      edgeloop devices
      edgeloop sim --board rp2040 &  then  edgeloop devices
    """
    from rich.console import Console
    from rich.table import Table

    from .discover import HOW_TO_SIM, all_serial_ports, list_devices

    seen = list_devices()
    console = Console()
    if not seen:
        ports = all_serial_ports()
        what = f"serial ports seen, none a known board: {', '.join(ports)}" if ports else "no serial ports"
        click.echo(f"no boards found ({what}); {HOW_TO_SIM}")
        return
    table = Table("PORT", "KIND", "BOARD", "MODE", "DESCRIPTION", box=None)
    for s in seen:
        table.add_row(s.port or "-", s.kind, "/".join(s.boards) or "?", s.mode, s.description)
    console.print(table)
