"""`edgeloop collect`: every board of every gateway, from an MQTT broker into one log."""

from __future__ import annotations

import click

from edgeloop.cli.broker_options import broker_options


@click.command()
@click.option("--broker", required=True, metavar="mqtt[s]://HOST[:PORT]", help="The MQTT broker the gateways publish to.")
@broker_options
@click.option("--db", required=True, metavar="PATH.sqlite|postgresql://...",
              help="The log: an SQLite file (the tables `monitor` writes) or a PostgreSQL database (the same tables).")
@click.option("--client-id", default="edgeloop-collector", show_default=True,
              help="The broker keeps this id's subscription and queues its messages while it is away; "
                   "two collectors need two ids.")
@click.option("--fleet-dir", type=click.Path(file_okay=False),
              help="Store only messages whose device is registered in this fleet (`edgeloop fleet init`) and "
                   "whose gateway id is the one it publishes through; others are rejected as identity.")
@click.option("--seconds", type=float, help="Stop after N seconds (default: until Ctrl-C or SIGTERM).")
def collect(broker, db, client_id, fleet_dir, seconds, auth):
    """Store every board's frames from the broker, each exactly once.

    Subscribes to edgeloop/+/+ with QoS 1 in a persistent session (what arrives while the
    collector is down waits in the broker), writes each message into the log's tables and
    acknowledges it, and confirms it to its gateway (which keeps it until then), only once committed. A redelivered message is recognised by its device,
    gateway and sequence number and stored once. Bad messages are counted, logged, skipped.
    See docs/fleet.md.

    \b
    Example:
      edgeloop collect --broker mqtt://localhost:1883 --db fleet.sqlite
      edgeloop collect --broker mqtts://fleet.example:8883 --ca fleet/ca.pem --username collector \
        --password-file fleet/credentials/collector/password --db postgresql://edgeloop_collector@db/fleet
    """
    import signal

    from edgeloop.fleet.broker import parse_broker
    from edgeloop.fleet.collector import Collector
    from edgeloop.log.db import open_log

    where = parse_broker(broker, **auth)
    check = None
    if fleet_dir is not None:
        from edgeloop.fleet.credentials import Fleet
        from edgeloop.fleet.identity import RegistryCheck

        fleet = Fleet(fleet_dir)
        fleet.load()  # a missing or unreadable fleet is the user's to fix before anything starts
        check = RegistryCheck(fleet)
    stop = []
    signal.signal(signal.SIGTERM, lambda *_: stop.append(1))
    with open_log(db) as store:
        c = Collector(where, store, client_id=client_id, log=lambda text: click.echo(f"collect: {text}", err=True),
                      check=check)
        try:
            stats = c.run(seconds, should_stop=lambda: bool(stop))
        except KeyboardInterrupt:
            stats = c.stats
    click.echo(stats.summary())
