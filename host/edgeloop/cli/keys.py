"""`edgeloop keys`: signing keys for model bundles."""

from __future__ import annotations

from pathlib import Path

import click


@click.group()
def keys():
    """Ed25519 key pairs that sign model bundles (see docs/bundle.md).

    \b
    Example:
      edgeloop keys new --out ~/.edgeloop-keys/gesture
      edgeloop deploy --provision-key ~/.edgeloop-keys/gesture/edgeloop.pub
      edgeloop bundle --model models/gesture --key ~/.edgeloop-keys/gesture --counter 1 --out g1.bundle
    """


@keys.command("new")
@click.option("--out", "out_dir", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="Folder for edgeloop.key (private) and edgeloop.pub (public); created if missing.")
def new(out_dir):
    """Make an Ed25519 key pair: edgeloop.key (private, mode 0600) and edgeloop.pub.

    Keep edgeloop.key OUT of the repository and off shared drives: on the
    machine that builds releases, or better offline (a USB stick, a password
    manager's file store), with a backup. Whoever holds it can sign models
    that every provisioned board will run; whoever loses it can no longer
    update those boards with signed bundles. edgeloop.pub is public: it goes
    to the boards (`edgeloop deploy --provision-key`) and may be committed.
    Existing keys are never overwritten.
    """
    from edgeloop.deploy.keys import new_keypair

    pair = new_keypair(out_dir)
    click.echo(f"private key {pair.private_path} (mode 0600: keep it secret, keep a backup)")
    click.echo(f"public key  {pair.public_path} (fingerprint {pair.fingerprint}; "
               f"put it on a board with `edgeloop deploy --provision-key {pair.public_path}`)")
