"""Where the broker is (`mqtt://HOST[:PORT]` or `mqtts://HOST[:PORT]`), who we are to it, and a paho
client set up the way the fleet needs.

Security is the broker's own (docs/fleet.md, Security): TLS on its listener, a username/password
or a client certificate per device, gateway and collector, topic ACLs. The client side only has
to present the credential: `Broker` carries where it is on disk (never the secret itself, so a
Broker can be printed or logged), `client(..., broker=)` hands it to paho (tls_set /
username_pw_set)."""

from __future__ import annotations

from pathlib import Path
from typing import NamedTuple
from urllib.parse import urlsplit

from edgeloop.errors import EdgeloopError

DEFAULT_PORT = 1883
DEFAULT_TLS_PORT = 8883


class BrokerError(EdgeloopError):
    pass


# CONNACK reasons that blame the credential, not the broker's health (MQTT 3.1.1's 4 and 5, as paho
# reports them): retrying with the same credential cannot help.
AUTH_REFUSED = (134, 135)


class Broker(NamedTuple):
    host: str
    port: int
    tls: bool = False
    ca: str | None = None  # the CA that signed the broker's certificate (None: the system's)
    cert: str | None = None  # this client's certificate and key (mutual TLS)
    key: str | None = None
    username: str | None = None
    password_file: str | None = None  # a file holding the password (first line), never the password

    def __str__(self) -> str:
        return f"{'mqtts' if self.tls else 'mqtt'}://{self.host}:{self.port}"


def _readable(path: str | None, option: str) -> str | None:
    if path is None:
        return None
    p = Path(path)
    if not p.is_file():
        raise BrokerError(f"{option} {path}: no such file (see `edgeloop fleet add-device --help`)")
    return str(p)


def parse_broker(url: str, *, ca: str | None = None, cert: str | None = None, key: str | None = None,
                 username: str | None = None, password_file: str | None = None) -> Broker:
    u = urlsplit(url)
    if u.scheme not in ("mqtt", "mqtts") or not u.hostname or u.path not in ("", "/") or u.query or u.username:
        raise BrokerError(f"--broker {url!r} is not mqtt://HOST[:PORT] or mqtts://HOST[:PORT] "
                          "(e.g. mqtt://localhost:1883, mqtts://fleet.example:8883)")
    tls = u.scheme == "mqtts"
    try:
        port = u.port or (DEFAULT_TLS_PORT if tls else DEFAULT_PORT)
    except ValueError:
        raise BrokerError(f"--broker {url!r}: the port must be a number from 1 to 65535") from None
    if (ca or cert or key) and not tls:
        raise BrokerError(f"--ca/--cert/--key need a TLS broker: write mqtts://{u.hostname}:... instead of {url!r}")
    if bool(cert) != bool(key):
        raise BrokerError("--cert and --key go together: the client certificate and its private key")
    if bool(username) != bool(password_file):
        raise BrokerError("--username and --password-file go together (the file holds the password)")
    return Broker(u.hostname, port, tls, _readable(ca, "--ca"), _readable(cert, "--cert"), _readable(key, "--key"),
                  username, _readable(password_file, "--password-file"))


def read_password(path: str) -> str:
    text = Path(path).read_text(encoding="utf-8").splitlines()
    if not text or not text[0]:
        raise BrokerError(f"--password-file {path} is empty: it holds the password on its first line")
    return text[0]


def secure(c, broker: Broker) -> None:
    """Give paho client `c` the broker's TLS settings and this side's credential."""
    if broker.tls:
        import ssl

        try:
            c.tls_set(ca_certs=broker.ca, certfile=broker.cert, keyfile=broker.key,
                      cert_reqs=ssl.CERT_REQUIRED, tls_version=ssl.PROTOCOL_TLS_CLIENT)
        except (ssl.SSLError, OSError, ValueError) as e:
            raise BrokerError(f"cannot load the TLS files for {broker} (--ca/--cert/--key): {e}") from None
    if broker.username:
        c.username_pw_set(broker.username, read_password(broker.password_file))


def client(client_id: str, *, persistent: bool, manual_ack: bool = False, broker: Broker | None = None):
    """An MQTT 3.1.1 client; `persistent`: the broker keeps its subscriptions and queues QoS 1
    messages for it while it is away (clean session off, a fixed client id). With `broker`, it
    speaks TLS and presents the credential that broker asks for."""
    import paho.mqtt.client as mqtt

    c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=client_id, clean_session=not persistent,
                    protocol=mqtt.MQTTv311, manual_ack=manual_ack)
    if broker is not None:
        secure(c, broker)
    return c
