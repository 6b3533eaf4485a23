"""`edgeloop fs ls|cat|rm|get`: the board's files, without leaving edgeloop."""

from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path

import click

PORT_HELP = "Serial port of the board (default: $EDGELOOP_PORT, or the one board found)."


@click.group()
def fs():
    """List, print, remove and fetch files on the board.

    \b
    Examples:
      edgeloop fs ls /models
      edgeloop fs cat /edgeloop.json
      edgeloop fs get /models/gesture.elm ./gesture-from-board.elm
      edgeloop fs rm /replay.bin
    """


@contextmanager
def _board(port):
    from edgeloop.link.device import Device
    from edgeloop.link.discover import resolve_port

    with Device(resolve_port(port)) as dev:
        yield dev


@fs.command()
@click.argument("path", default="/")
@click.option("--port", "-p", help=PORT_HELP)
def ls(path, port):
    """List a folder on the board (default: the root): size and name, folders with a trailing /."""
    from edgeloop.link.board_fs import listdir

    with _board(port) as dev:
        entries = listdir(dev, path)
    for e in entries:
        click.echo(f"{'':>9}  {e.name}/" if e.is_dir else f"{e.size:>9,}  {e.name}")


@fs.command()
@click.argument("path")
@click.option("--port", "-p", help=PORT_HELP)
def cat(path, port):
    """Print a file from the board (bytes as they are)."""
    from edgeloop.link.board_fs import read

    with _board(port) as dev:
        data = read(dev, path)
    out = click.get_binary_stream("stdout")
    out.write(data)
    out.flush()


@fs.command()
@click.argument("path")
@click.option("--port", "-p", help=PORT_HELP)
@click.option("-r", "--recursive", is_flag=True, help="Remove a folder and everything in it.")
@click.option("--force", is_flag=True, help="Also remove edgeloop's deploy state (/.edgeloop/).")
def rm(path, port, recursive, force):
    """Remove a file (or with -r a folder) from the board; /.edgeloop/ only with --force."""
    from edgeloop.link.board_fs import remove

    with _board(port) as dev:
        removed = remove(dev, path, recursive=recursive, force=force)
    for p in removed:
        click.echo(f"removed {p}")


@fs.command()
@click.argument("path")
@click.argument("dest", required=False, type=click.Path(path_type=Path))
@click.option("--port", "-p", help=PORT_HELP)
def get(path, dest, port):
    """Copy a file from the board to DEST (default: its name, here); written whole or not at all."""
    from edgeloop.atomic import write_bytes_atomic
    from edgeloop.cli.predict import terminal_progress
    from edgeloop.link.board_fs import normalize, read

    name = normalize(path).rsplit("/", 1)[-1]
    dest = dest or Path(name)
    if dest.is_dir():
        dest = dest / name
    with _board(port) as dev, terminal_progress(f"get {name}") as progress:
        data = read(dev, path, progress)
    write_bytes_atomic(dest, data)
    click.echo(f"{path} -> {dest} ({len(data):,} bytes, SHA-256 checked against the board's)")
