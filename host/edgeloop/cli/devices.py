"""`edgeloop devices`: the boards attached, and the virtual ones running."""

from __future__ import annotations

import click


@click.command()
@click.option("--ask", is_flag=True, help="Also open each board's REPL and ask its firmware (name, version, "
              ".mpy, free heap) which profile it fits; interrupts a running app, so it asks you first.")
@click.option("--port", "ports", multiple=True, metavar="PORT",
              help="With --ask: ask only this board (repeat for more), without a question. A virtual board "
                   "another program started is asked only when named here.")
@click.option("--yes", "-y", is_flag=True,
              help="With --ask: interrupt every listed board without asking first (virtual boards of other "
                   "programs are still skipped unless named with --port).")
def devices(ask, ports, yes):
    """List attached boards and running virtual boards.

    A serial port is listed when its USB vendor/product ID is in a board
    profile (normal or bootloader mode); virtual boards started with
    `edgeloop sim` are listed with their profile. PORT is what --port takes.
    --ask then asks each board with a REPL what it runs and which profile
    that fits ("fits none" when no profile does). Asking interrupts the app
    a board is running: --ask asks you first (on a terminal; elsewhere name
    the boards with --port, or pass --yes), and leaves alone virtual boards
    that another program started unless you name them.

    \b
    Examples:
      edgeloop devices
      edgeloop devices --ask --port /dev/ttyACM0
      edgeloop devices --ask --yes
      edgeloop sim --board rp2040 &  then  edgeloop devices
    """
    from rich.console import Console
    from rich.table import Table

    from edgeloop.errors import DeviceError
    from edgeloop.link.discover import HOW_TO_SIM, all_serial_ports, list_devices

    if (ports or yes) and not ask:
        raise DeviceError("--port and --yes choose which boards --ask interrupts; add --ask, or drop them")
    seen = list_devices()
    if not seen:
        serial = all_serial_ports()
        what = f"serial ports seen, none a known board: {', '.join(serial)}" if serial else "no serial ports"
        click.echo(f"no boards found ({what}); {HOW_TO_SIM}")
        return
    skipped = _who_not_to_ask(seen, ports, yes) if ask else {}
    table = Table("PORT", "KIND", "BOARD", "MODE", "DESCRIPTION", *(["FIRMWARE SAYS"] if ask else []), box=None)
    for s in seen:
        said = ("-" if not s.usable else f"not asked: {skipped[s.port]}" if s.port in skipped else _ask(s))
        table.add_row(s.port or "-", s.kind, "/".join(s.boards) or "?", s.mode, s.description,
                      *([said] if ask else []))
    Console().print(table)
    for port, why in skipped.items():
        click.echo(f"skipped {port}: {why}")


def _who_not_to_ask(seen, named: tuple[str, ...], yes: bool) -> dict[str, str]:
    """Port -> why it is left alone, for every board with a REPL that --ask must not interrupt.

    Only boards this process started (its own virtual boards) are asked
    without consent; a virtual board another program started is never
    interrupted unless named, since that program is using it right now.
    """
    import os

    from edgeloop.errors import DeviceError
    from edgeloop.sim import running_sims

    usable = [s for s in seen if s.usable]
    unknown = sorted(set(named) - {s.port for s in usable})
    if unknown:
        raise DeviceError(f"--port {unknown[0]} is not a listed board with a REPL; `edgeloop devices` lists them "
                          f"(for another port, `edgeloop info --port {unknown[0]}`)")
    owners = {s.port: s.owner_pid for s in running_sims()}
    skipped, consent = {}, []
    for s in usable:
        owner = owners.get(s.port) if s.kind == "virtual" else None
        if named:
            if s.port not in named:
                skipped[s.port] = "not named with --port"
        elif owner is not None and owner != os.getpid():
            skipped[s.port] = f"a virtual board that another program (pid {owner}) started; name it with --port to ask it"
        elif owner is None:
            consent.append(s.port)
    if consent and not named and not yes:
        what = f"the app running on {', '.join(consent)}"
        if not _can_prompt():
            raise DeviceError(f"--ask would interrupt {what}; name the boards to ask with --port PORT, "
                              "or pass --yes to ask them all")
        if not click.confirm(f"--ask interrupts {what}. Go ahead?", default=False, err=True):
            skipped.update({port: "you said no" for port in consent})
    return skipped


def _can_prompt() -> bool:
    return click.get_text_stream("stdin").isatty()


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
