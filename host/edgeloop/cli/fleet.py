"""`edgeloop fleet`: the fleet's security (docs/fleet.md, Security): its CA, one broker credential
per device, gateway and collector, the broker's ACL and CRL, the database's roles."""

from __future__ import annotations

from pathlib import Path

import click

_DIR = click.option("--dir", "fleet_dir", type=click.Path(file_okay=False, path_type=Path), default=None,
                    help="The fleet's folder: CA, broker files, credentials (default: $EDGELOOP_FLEET_DIR, else "
                         "~/.config/edgeloop/fleet). Keep it private: ca.key signs every credential.")


def _fleet(fleet_dir):
    from edgeloop.fleet.credentials import Fleet, fleet_dir as default_dir

    return Fleet(fleet_dir or default_dir())


@click.group()
def fleet():
    """Who may talk to the fleet's broker and database (see docs/fleet.md, Security).

    Secrets are written to files (mode 0600) and never printed: pass their paths
    to the commands that need them (--password-file, --cert/--key). After
    add-device or revoke, reload the broker (`systemctl reload mosquitto`, i.e.
    SIGHUP) so it reads the new password file, ACL and CRL.

    \b
    Example:
      edgeloop fleet init --host fleet.example
      edgeloop fleet add-device collector --role collector
      edgeloop fleet add-device gw1 --role gateway --auth cert
      edgeloop fleet add-device esp32-a1 --gateway gw1 --role board
      edgeloop fleet add-device nicla-7 --role device      # a Wi-Fi board that publishes itself
      edgeloop fleet revoke nicla-7
      edgeloop fleet db-roles --db postgresql://postgres@db.example/fleet
    """


@fleet.command("init")
@_DIR
@click.option("--host", "hosts", multiple=True, required=True,
              help="The broker's host name or IP address as clients dial it (repeat for several); it goes in "
                   "the broker's certificate.")
@click.option("--password-port", default=8883, show_default=True, type=click.IntRange(1, 65535),
              help="The TLS listener for user name + password clients.")
@click.option("--cert-port", default=8884, show_default=True, type=click.IntRange(1, 65535),
              help="The TLS listener for client-certificate clients.")
def init(fleet_dir, hosts, password_port, cert_port):
    """Make the fleet's CA, the broker's certificate and a mosquitto.conf that uses them."""
    f = _fleet(fleet_dir)
    f.init(list(hosts), ports=(password_port, cert_port))
    click.echo(f"fleet in {f.root}: CA {f.ca_cert} (its key {f.ca_key}, mode 0600: keep it private)")
    click.echo(f"broker settings {f.conf}: include it from /etc/mosquitto/conf.d/ (docs/fleet.md, Security)")


@fleet.command("add-device")
@_DIR
@click.argument("name")
@click.option("--role", type=click.Choice(["device", "gateway", "board", "collector", "viewer"]), default="device",
              show_default=True,
              help="device: a Wi-Fi board publishing itself; gateway: publishes for its boards; board: a board "
                   "behind --gateway (no credential of its own); collector: reads all, writes confirmations; "
                   "viewer: reads all (monitor --broker).")
@click.option("--auth", type=click.Choice(["password", "cert"]), default="password", show_default=True,
              help="A user name + password, or a client certificate (its common name is the user name).")
@click.option("--gateway", help="With --role board: the registered gateway whose ports the board is on.")
def add_device(fleet_dir, name, role, auth, gateway):
    """Issue NAME's broker credential and write its password-file and ACL lines."""
    f = _fleet(fleet_dir)
    issued = f.add(name, role, auth=auth, gateway=gateway)
    if issued.folder is None:
        click.echo(f"{name}: gateway {gateway} may now publish on edgeloop/{name}/...; reload the broker")
        return
    if issued.password_file:
        click.echo(f"{name}: user name {name}, password in {issued.password_file} (mode 0600); "
                   f"CA {issued.folder / 'ca.pem'}")
    else:
        click.echo(f"{name}: certificate {issued.cert}, key {issued.key} (mode 0600); CA {issued.folder / 'ca.pem'}")
    click.echo("reload the broker (systemctl reload mosquitto) so it reads the new password file and ACL")


@fleet.command("revoke")
@_DIR
@click.argument("name")
def revoke(fleet_dir, name):
    """Remove NAME's credential: out of the password file and ACL, its certificate into the CRL."""
    f = _fleet(fleet_dir)
    removed = f.revoke(name)["removed"]
    click.echo(f"revoked {', '.join(removed)}; reload the broker (systemctl reload mosquitto)")


@fleet.command("broker-conf")
@_DIR
@click.option("--at", required=True, type=click.Path(file_okay=False),
              help="Where the broker host keeps its copy of the fleet's ca.pem and broker/ folder.")
@click.option("--password-port", default=8883, show_default=True, type=click.IntRange(1, 65535))
@click.option("--cert-port", default=8884, show_default=True, type=click.IntRange(1, 65535))
def broker_conf(fleet_dir, at, password_port, cert_port):
    """Print Mosquitto's settings for the broker host, with paths under --at (no secrets in it)."""
    f = _fleet(fleet_dir)
    f.load()
    click.echo(f.mosquitto_conf(password_port, cert_port, at=at), nl=False)


@fleet.command("list")
@_DIR
def list_(fleet_dir):
    """Everyone registered: name, role, kind of credential (no secrets)."""
    for name, e in sorted(_fleet(fleet_dir).devices().items()):
        how = f"via {e['gateway']}" if e["role"] == "board" else e.get("auth", "")
        click.echo(f"{name}\t{e['role']}\t{how}")


@fleet.command("db-roles")
@_DIR
@click.option("--db", required=True, metavar="postgresql://ADMIN@HOST/DB",
              help="The fleet's log, as a user that may create roles (and owns the log's tables).")
@click.option("--sql", "show_sql", is_flag=True, help="Print the GRANTs instead of running anything.")
def db_roles(fleet_dir, db, show_sql):
    """Create the collector's role (insert + read the log) and the reader's (read; write labels).

    Their passwords go to <dir>/db/<role>.password (mode 0600); use them as
    postgresql://edgeloop_collector@HOST/DB for `collect` (with PGPASSFILE or
    the password in ~/.pgpass) and edgeloop_reader for export, label, drift
    and retrain. Running it again rotates both passwords.
    """
    from edgeloop.log import pgroles

    if show_sql:
        for s in pgroles.statements():
            click.echo(s + ";")
        return
    if not db.startswith(("postgresql://", "postgres://")):
        raise click.UsageError("--db must be a postgresql:// URL: SQLite has no roles (its file's permissions are its guard)")
    files = pgroles.create_roles(db, _fleet(fleet_dir).root / "db")
    for role, path in files.items():
        click.echo(f"role {role}: password in {path} (mode 0600)")
