"""The options that say how to reach a secured broker, shared by gateway, collect and monitor:
one definition, so the three commands take the same credential the same way (docs/fleet.md)."""

from __future__ import annotations

import functools

import click

NAMES = ("ca", "cert", "key", "username", "password_file")


def broker_options(f):
    """Adds --ca, --cert/--key and --username/--password-file; the command gets them as one
    `auth` dict (for parse_broker)."""
    path = click.Path(dir_okay=False)

    @functools.wraps(f)
    def wrapper(*args, **kwargs):
        kwargs["auth"] = {name: kwargs.pop(name) for name in NAMES}
        return f(*args, **kwargs)

    for decorator in reversed([
        click.option("--ca", type=path, help="With mqtts://: the CA certificate that signed the broker's "
                     "(default: the system's trusted CAs). `edgeloop fleet init` makes one."),
        click.option("--cert", type=path, help="With mqtts://: this client's certificate (from `edgeloop fleet "
                     "add-device NAME --cert`); with --key."),
        click.option("--key", type=path, help="The private key of --cert."),
        click.option("--username", help="The broker user name (from `edgeloop fleet add-device NAME`); "
                     "with --password-file."),
        click.option("--password-file", type=path, help="File holding the password on its first line "
                     "(never on the command line, where `ps` shows it)."),
    ]):
        wrapper = decorator(wrapper)
    return wrapper
