"""`edgeloop devices`: the boards attached, and the virtual ones running."""

from __future__ import annotations

import click


@click.command()
@click.option("--ask", is_flag=True, help="Also open each board's REPL and ask its firmware (name, version, "
              ".mpy, free heap) which profile it fits; interrupts a running app.")
def devices(ask):
    """List attached boards and running virtual boards.

    A serial port is listed when its USB vendor/product ID is in a board
    profile (normal or bootloader mode); virtual boards started with
    `edgeloop sim` are listed with their profile. PORT is what --port takes.
    --ask then asks each board with a REPL what it runs and which profile
    that fits ("fits none" when no profile does).

    \b
    Examples:
      edgeloop devices
      edgeloop devices --ask
      edgeloop sim --board rp2040 &  then  edgeloop devices
    """
    from rich.console import Console
    from rich.table import Table

    from edgeloop.link.discover import HOW_TO_SIM, all_serial_ports, list_devices

    seen = list_devices()
    console = Console()
    if not seen:
        ports = all_serial_ports()
        what = f"serial ports seen, none a known board: {', '.join(ports)}" if ports else "no serial ports"
        click.echo(f"no boards found ({what}); {HOW_TO_SIM}")
        return
    table = Table("PORT", "KIND", "BOARD", "MODE", "DESCRIPTION", *(["FIRMWARE SAYS"] if ask else []), box=None)
    for s in seen:
        table.add_row(s.port or "-", s.kind, "/".join(s.boards) or "?", s.mode, s.description,
                      *([_ask(s) if s.usable else "-"] if ask else []))
    console.print(table)


def _ask(seen) -> str:
    """One board's own answer (as `edgeloop info`), or why it could not be asked."""
    from edgeloop.link.device import Device
    from edgeloop.link.discover import board_info, usb_id_of
    from edgeloop.errors import EdgeloopError

    try:
        with Device(seen.port, timeout=3) as dev:
            i = board_info(dev, usb_id_of(seen.port))
    except EdgeloopError as e:
        return f"cannot ask: {str(e).split(';')[0]}"
    mpy = i.get("mpy_decoded")
    heap = i.get("mem_free")
    return (f"{i['firmware']} {i['version']}" + (f", .mpy {mpy['abi']}/{mpy['arch'] or 'none'}" if mpy else "")
            + (f", {heap // 1024} KiB free" if heap is not None else "")
            + f"; fits {', '.join(i['profiles']) or 'none'}")
