"""`edgeloop boards`: the board profiles."""

from __future__ import annotations

import click

from . import boards as boards_lib


@click.group(invoke_without_command=True)
@click.pass_context
def boards(ctx):
    """List the board profiles edgeloop knows, or show one.

    \b
    Examples:
      edgeloop boards
      edgeloop boards show rp2040
    """
    if ctx.invoked_subcommand is not None:
        return
    from rich.console import Console
    from rich.table import Table

    table = Table("name", "board", "chip", "arch", "heap", "filesystem", "flash with")
    for b in boards_lib.load_all():
        table.add_row(b.name, b.title, b.chip, b.mpy_arch or "-", f"{b.heap_bytes // 1024} KiB",
                      f"{b.fs_bytes // 1024} KiB", b.flash_method)
    Console().print(table)


@boards.command("show")
@click.argument("name")
def show(name):
    """Print one board profile: chip, MicroPython arch and _mpy, heap, sensors, USB IDs.

    Example: edgeloop boards show nicla_vision
    """
    b = boards_lib.load(name)
    lines = [
        f"{b.name}: {b.title}",
        f"  chip         {b.chip}, {b.cpu} @ {b.clock_mhz} MHz",
        f"  memory       {b.ram_bytes // 1024} KiB RAM, {b.flash_bytes // 1024} KiB flash",
        f"  micropython  firmware {b.micropython_firmware}, arch {b.mpy_arch or 'none'}, "
        f".mpy ABI {b.mpy_abi} (sys.implementation._mpy == {b.mpy_value})",
        f"  heap free    {b.heap_bytes} bytes   filesystem {b.fs_bytes} bytes",
        f"  circuitpython {b.circuitpython_firmware or '(not supported)'}",
        f"  flash with   {b.flash_method}",
    ]
    for u in b.usb:
        lines.append(f"  usb          {u.vid:04x}:{u.pid:04x} {u.mode} ({u.firmware})")
    for s in b.sensors:
        addr = f" @0x{s.address:02x}" if s.address is not None else ""
        lines.append(f"  sensor       {s.kind}: {s.part} {s.bus}{addr} {s.notes}".rstrip())
    for key, src in b.sources.items():
        lines.append(f"  source       {key}: {src}")
    click.echo("\n".join(lines))
