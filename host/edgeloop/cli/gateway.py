"""`edgeloop gateway`: the boards on this host's ports, published to an MQTT broker."""

from __future__ import annotations

import click

from edgeloop.cli.broker_options import broker_options


def _default_id() -> str:
    import re
    import socket

    name = re.sub(r"[^A-Za-z0-9._:-]", "-", socket.gethostname()).lstrip("._:-")[:16]
    return name or "gateway"


@click.command()
@click.option("--broker", required=True, metavar="mqtt[s]://HOST[:PORT]", help="The MQTT broker to publish to.")
@broker_options
@click.option("--port", "-p", "ports", multiple=True, required=True,
              help="Serial port of a board (repeat for each board on this host).")
@click.option("--queue", "queue_path", default="edgeloop-gateway-queue.sqlite", show_default=True,
              type=click.Path(dir_okay=False),
              help="On-disk queue: frames wait here until a collector confirmed it stored them.")
@click.option("--queue-limit", default=1_000_000, show_default=True, type=click.IntRange(min=1),
              help="Most messages the queue holds; past it the oldest are dropped (and counted).")
@click.option("--gateway-id", default=None, help="This gateway's id in every message (default: the host name, "
              "up to 16 of A-Z a-z 0-9 . _ - :). Keep it, and the queue file, across restarts.")
@click.option("--confirm-wait", default=30.0, show_default=True, type=click.FloatRange(min=0.1),
              help="Seconds after the broker's PUBACK to wait for the collector's confirmation before "
                   "sending a message again (then the pause doubles, up to 10 minutes).")
@click.option("--window", "send_window", is_flag=True, help="Ask the boards to attach each input window.")
@click.option("--seconds", type=float, help="Stop after N seconds (default: until Ctrl-C or SIGTERM).")
def gateway(broker, ports, queue_path, queue_limit, gateway_id, confirm_wait, send_window, seconds, auth):
    """Publish every frame of the boards on --port to the broker, losing none.

    Reads each board as `edgeloop monitor` does (starts its app, picks it up again after a
    reset) and publishes its frames to edgeloop/<device_id>/<kind> with QoS 1. Every frame is
    queued on disk first and leaves the queue only when a collector confirmed it stored it, so a
    broker that is down or killed, or a gateway that is stopped or killed, costs nothing: it is
    all sent, in order, once the broker is back. See docs/fleet.md.

    \b
    Example:
      edgeloop gateway --broker mqtt://fleet.local --port /dev/ttyACM0 --port /dev/ttyACM1
      edgeloop gateway --broker mqtts://fleet.example:8883 --ca fleet/ca.pem --gateway-id gw1 \
        --cert fleet/credentials/gw1/cert.pem --key fleet/credentials/gw1/key.pem --port /dev/ttyACM0
    """
    import signal

    from edgeloop.fleet.broker import parse_broker
    from edgeloop.fleet.gateway import Gateway
    from edgeloop.fleet.outbox import Outbox
    from edgeloop.fleet.sources import BoardSource
    from edgeloop.stream.run import check_seconds

    check_seconds(seconds)
    where = parse_broker(broker, **auth)
    outbox = Outbox(queue_path, gateway_id or _default_id(), limit=queue_limit)
    stop = []
    signal.signal(signal.SIGTERM, lambda *_: stop.append(1))
    gw = Gateway(where, outbox, [BoardSource(p, send_window=send_window) for p in ports], confirm_wait=confirm_wait,
                 log=lambda text: click.echo(f"gateway: {text}", err=True))
    try:
        stats = gw.run(seconds, should_stop=lambda: bool(stop))
    except KeyboardInterrupt:
        stats = gw.stats
    finally:
        outbox.close()
    click.echo(stats.summary())
