"""Where the broker is (`mqtt://HOST[:PORT]`) and a paho client set up the way the fleet needs."""

from __future__ import annotations

from typing import NamedTuple
from urllib.parse import urlsplit

from edgeloop.errors import EdgeloopError

DEFAULT_PORT = 1883


class BrokerError(EdgeloopError):
    pass


class Broker(NamedTuple):
    host: str
    port: int

    def __str__(self) -> str:
        return f"mqtt://{self.host}:{self.port}"


def parse_broker(url: str) -> Broker:
    u = urlsplit(url)
    if u.scheme != "mqtt" or not u.hostname or u.path not in ("", "/") or u.query or u.username:
        raise BrokerError(f"--broker {url!r} is not mqtt://HOST[:PORT] (e.g. mqtt://localhost:1883)")
    try:
        port = u.port or DEFAULT_PORT
    except ValueError:
        raise BrokerError(f"--broker {url!r}: the port must be a number from 1 to 65535") from None
    return Broker(u.hostname, port)


def client(client_id: str, *, persistent: bool, manual_ack: bool = False):
    """An MQTT 3.1.1 client; `persistent`: the broker keeps its subscriptions and queues QoS 1
    messages for it while it is away (clean session off, a fixed client id)."""
    import paho.mqtt.client as mqtt

    return mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=client_id, clean_session=not persistent,
                       protocol=mqtt.MQTTv311, manual_ack=manual_ack)
