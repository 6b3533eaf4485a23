"""`edgeloop monitor`: watch a board's inferences live and log them to SQLite."""

from __future__ import annotations

import click


@click.command()
@click.option("--port", "-p", help="Serial port of the board (default: $EDGELOOP_PORT, or the one board found).")
@click.option("--db", default="edgeloop-log.sqlite", show_default=True, type=click.Path(dir_okay=False),
              help="SQLite log every inference is written to.")
@click.option("--seconds", type=float, help="Stop after N seconds (default: until Ctrl-C).")
@click.option("--plot", is_flag=True, help="Also stream the raw sensor channels and draw them live.")
@click.option("--window", "send_window", is_flag=True,
              help="Ask the board to attach each input window, so `edgeloop export` can build a retraining set.")
def monitor(port, db, seconds, plot, send_window):
    """Stream inferences from a board: live view + durable SQLite log.

    Shows the top class with confidence bars, inferences/s, latency, the
    board's free heap, dropped/corrupt frames and, from a board spotting
    keywords, the last detections (logged to their own table). Starts the app
    on the board, runs until Ctrl-C or --seconds (of streaming, counted from
    the board's first frame), then exits 0 with everything received committed.
    If the board goes away the view says so and picks it up again when it
    returns. If the app does not start, the board's own error line is printed
    and the exit is non-zero; so is a run in which no inference (or sample)
    arrived.

    \b
    Example:
      edgeloop monitor --port /dev/ttyACM0 --db log.sqlite --seconds 60 --plot
      edgeloop monitor --seconds 10 --window   # log input windows for `edgeloop export`
    """
    from rich.console import Console
    from rich.live import Live

    from edgeloop.stream.run import check_seconds, monitor as run_monitor

    check_seconds(seconds)
    from edgeloop.stream.view import render

    console = Console(stderr=True)
    state = {}
    with Live(console=console, refresh_per_second=8, transient=True) as live:
        def on_tick(stats, session=None):
            live.update(render(stats, state["counts"], port=state["port"], plot=plot, db=db))

        def bind(session):
            state["counts"] = session.reader.counts
            state["port"] = session.port

        summary = run_monitor(port=port, db=db, seconds=seconds, plot=plot, send_window=send_window,
                              on_tick=on_tick, on_session=bind)
    click.echo(summary)
