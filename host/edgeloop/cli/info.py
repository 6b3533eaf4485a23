"""`edgeloop info`: what a board says about itself."""

from __future__ import annotations

import click


def _size(n):
    return "?" if n is None else (f"{n / 1048576:.1f} MiB" if n >= 4 * 1048576 else f"{n / 1024:.1f} KiB")


@click.command()
@click.option("--port", default=None, help="Serial port of the board (default: the only board found).")
def info(port):
    """Show a board's firmware, version, .mpy ABI/arch, free heap, filesystem and profile.

    Without --port, uses the only board `edgeloop devices` finds.

    \b
    Examples:
      edgeloop info
      edgeloop info --port /dev/ttyACM0
      edgeloop info --port /dev/pts/3         (a virtual board from `edgeloop sim`)
    """
    from edgeloop.link.device import Device
    from edgeloop.link.discover import board_info, choose_port, usb_id_of

    port = choose_port(port)
    with Device(port) as dev:
        i = board_info(dev, usb_id_of(port))
    mpy = i.get("mpy_decoded")
    rows = [
        ("port", port),
        ("firmware", f"{i['firmware']} {i['version']}" + (" (virtual board)" if i.get("virtual") else "")),
        ("build", i.get("sysversion", "")),
        ("platform", f"{i['platform']}  {i.get('machine', '')}".strip()),
        (".mpy", f"{i['mpy']}: ABI {mpy['abi']}, native arch {mpy['arch'] or 'none'}" if mpy else "not reported"),
        ("free heap", _size(i.get("mem_free"))),
        ("filesystem", f"{_size(i.get('fs_free'))} free of {_size(i.get('fs_total'))}"),
        ("profile", ", ".join(i["profiles"]) or "no profile matches (see `edgeloop boards`)"),
    ]
    width = max(len(k) for k, _ in rows)
    for k, v in rows:
        click.echo(f"{k:<{width}}  {v}")
