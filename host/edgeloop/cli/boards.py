"""`edgeloop boards`: the board profiles (boards/*.toml), listed or shown one at a time."""

from __future__ import annotations

import click

from edgeloop.boards import profiles as boards_lib


def _kib(n: int) -> str:
    return f"{n / 1048576:.1f} MiB" if n >= 4 * 1048576 else f"{n // 1024} KiB"


@click.group(invoke_without_command=True)
@click.pass_context
def boards(ctx):
    """List the board profiles edgeloop knows, or show one in full.

    A profile is a TOML file in boards/ holding a board's facts (chip, the
    MicroPython native arch and .mpy ABI that deploy compiles for, free heap,
    filesystem, sensors, USB IDs, how to flash it), each with its source.
    The NAME column is what --board takes in every other command.

    \b
    Examples:
      edgeloop boards                      one line per board
      edgeloop boards show nicla_vision    everything about one board
      edgeloop flash --board rp2040        (uses the rp2040 profile)
    """
    if ctx.invoked_subcommand is not None:
        return
    from rich.console import Console
    from rich.table import Table

    table = Table("NAME", "chip", "arch", "heap", "filesystem", "flash with", box=None)
    for b in boards_lib.load_all():
        table.add_row(b.name, b.chip, b.mpy_arch or "-", _kib(b.heap_bytes),
                      _kib(b.fs_bytes), b.flash_method)
    console = Console()
    console.print(table)
    console.print("details: edgeloop boards show NAME", style="dim")


@boards.command("show")
@click.argument("name")
def show(name):
    """Print one board profile: chip, MicroPython arch and _mpy, heap, sensors, USB IDs, flashing, sources.

    NAME is a profile name from `edgeloop boards` (the file name in boards/
    without .toml).

    \b
    Example:
      edgeloop boards show nicla_vision
    """
    b = boards_lib.load(name)
    lines = [
        f"{b.name}: {b.title}   ({b.path})",
        f"  chip           {b.chip}, {b.cpu} @ {b.clock_mhz} MHz",
        f"  memory         {_kib(b.ram_bytes)} RAM, {_kib(b.flash_bytes)} flash"
        + (f", {_kib(b.psram_bytes)} PSRAM" if b.psram_bytes else ""),
        f"  micropython    firmware {b.micropython_firmware}, arch {b.mpy_arch or 'none'}, "
        f".mpy ABI {b.mpy_abi} (sys.implementation._mpy == {b.mpy_value})",
        f"  heap free      {b.heap_bytes} bytes ({_kib(b.heap_bytes)})",
        f"  filesystem     {b.fs_bytes} bytes ({_kib(b.fs_bytes)})",
        f"  circuitpython  {b.circuitpython_firmware or '(no CircuitPython build for this board)'}",
        f"  flash with     {b.flash_method}: "
        + ", ".join(f"{k}={_fmt(v)}" for k, v in b.flash.items() if k != "method"),
    ]
    for u in b.usb:
        note = f" - {u.notes}" if u.notes else ""
        lines.append(f"  usb            {u.vid:04x}:{u.pid:04x} {u.mode} ({u.firmware}){note}")
    for s in b.sensors:
        addr = f" @0x{s.address:02x}" if s.address is not None else ""
        pins = " pins " + ",".join(f"{k}={v}" for k, v in s.pins.items()) if s.pins else ""
        lines.append(f"  sensor         {s.kind}: {s.part} on {s.bus}{addr}{pins}; {s.notes}".rstrip("; "))
    lines.append("  sources")
    for key, src in b.sources.items():
        lines.append(f"    {key}: {src}")
    click.echo("\n".join(lines))


def _fmt(value) -> str:
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, int) and value > 4096:
        return hex(value)
    if isinstance(value, list):
        return "[" + ", ".join(_fmt(v) for v in value) + "]"
    return str(value)
