"""`edgeloop demo`: the end-to-end tour on a virtual board."""

from __future__ import annotations

import click


@click.command()
@click.option("--board", "-b", default="rp2040", show_default=True,
              help="Board profile the virtual board pretends to be (see `edgeloop boards`).")
@click.option("--port", "-p", help="Use the board on this port instead of starting a virtual one.")
def demo(board, port):
    """Start a virtual board, deploy the firmware to it, and show what it reports.

    No hardware needed: the virtual board is real MicroPython (WebAssembly)
    behind a pseudo-terminal, reached exactly like a USB board.

    \b
    Examples:
      edgeloop demo
      edgeloop demo --port /dev/ttyACM0     # the same steps on a real board
    """
    from . import boards
    from .cli_deploy import progress_bar
    from .demo import DemoContext, run_demo

    boards.load(board)  # an unknown name fails before anything starts
    bar, update = progress_bar()

    def on_step(i, n, title):
        click.secho(f"[{i}/{n}] {title}", bold=True)

    def on_lines(lines):
        if bar.live.is_started:
            bar.stop()
        for line in lines:
            click.echo(f"      {line}")

    def progress(done, total, label):
        if not bar.live.is_started:
            bar.start()
        update(done, total, label)

    run_demo(DemoContext(board=board, port=port, progress=progress), on_step=on_step, on_lines=on_lines)
