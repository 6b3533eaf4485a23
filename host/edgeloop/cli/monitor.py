"""`edgeloop monitor`: watch a board's inferences live and log them to SQLite, or (`--broker`)
watch the whole fleet off an MQTT broker."""

from __future__ import annotations

import click

from edgeloop.cli.broker_options import broker_options


@click.command()
@click.option("--broker", metavar="mqtt[s]://HOST[:PORT]",
              help="Watch every board the gateways publish to this broker instead: one row per device "
                   "(nothing is logged; see docs/fleet.md).")
@click.option("--port", "-p", help="Serial port of the board (default: $EDGELOOP_PORT, or the one board found).")
@click.option("--db", default="edgeloop-log.sqlite", show_default=True, type=click.Path(dir_okay=False),
              help="SQLite log every inference is written to.")
@click.option("--seconds", type=float, help="Stop after N seconds (default: until Ctrl-C).")
@click.option("--count", type=click.IntRange(min=1), metavar="N",
              help="Stop after N inferences (with --seconds, whichever comes first): a replayed take's "
                   "windows on a slow or busy machine, where time would cut it short.")
@click.option("--plot", is_flag=True, help="Also stream the raw sensor channels and draw them live.")
@click.option("--window", "send_window", is_flag=True,
              help="Ask the board to attach each input window, so `edgeloop export` can build a retraining set.")
@broker_options
@click.pass_context
def monitor(ctx, broker, port, db, seconds, count, plot, send_window, auth):
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

    With --broker it watches the fleet instead (no board, no log): one row
    per device that publishes while it runs, with its last class, its
    inferences/s (on the board's clock), latency, free heap, the board's
    dropped count, frames lost upstream (gaps in its gateway's numbering) and
    when it was last heard from; on exit a plain table, one line per device.
    Class names come from the device's hello: until one is seen (a board that
    started before the view), the class index is shown.

    \b
    Example:
      edgeloop monitor --port /dev/ttyACM0 --db log.sqlite --seconds 60 --plot
      edgeloop monitor --seconds 10 --window   # log input windows for `edgeloop export`
      edgeloop monitor --count 100 --window    # exactly the first 100 inferences (and the frames in flight)
      edgeloop monitor --broker mqtt://broker.local:1883              # the fleet, until Ctrl-C
      edgeloop monitor --broker mqtt://localhost --seconds 30 | tee fleet.txt
    """
    if broker is not None:
        from click.core import ParameterSource

        given = [f"--{name}" for name, opt in (("port", "port"), ("db", "db"), ("plot", "plot"),
                                                ("window", "send_window"), ("count", "count"))
                 if ctx.get_parameter_source(opt) not in (ParameterSource.DEFAULT, None)]
        if given:
            raise click.UsageError(f"--broker watches the fleet and cannot be used with {', '.join(given)} "
                                   "(those are for one board on a serial port)")
        _watch_fleet(broker, seconds, auth)
        return
    if any(auth.values()):
        raise click.UsageError("--ca/--cert/--key/--username/--password-file go with --broker")
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
                              on_tick=on_tick, on_session=bind, count=count)
    click.echo(summary)


def _watch_fleet(broker: str, seconds: float | None, auth: dict) -> None:
    from rich.console import Console
    from rich.live import Live

    from edgeloop.fleet.broker import parse_broker
    from edgeloop.fleet.view import render, summary
    from edgeloop.fleet.watch import Watcher
    from edgeloop.stream.run import check_seconds

    check_seconds(seconds)
    where = parse_broker(broker, **auth)
    watcher = Watcher(where, log=lambda text: click.echo(f"monitor: {text}", err=True))
    console = Console(stderr=True)
    with Live(console=console, refresh_per_second=4, transient=True) as live:
        def on_tick(w):
            live.update(render(w.state, broker=str(where), connected=w.connected))

        try:
            watcher.run(seconds, on_tick=on_tick)
        except KeyboardInterrupt:
            pass
    click.echo(summary(watcher.state, broker=str(where)))
