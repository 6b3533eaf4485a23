"""`edgeloop bundle`: a signed model bundle from a model folder."""

from __future__ import annotations

from pathlib import Path

import click


@click.command()
@click.option("--model", "-m", required=True, type=click.Path(),
              help="A model folder (model file + model.json), as `edgeloop train` writes it.")
@click.option("--key", "-k", type=click.Path(), help="The private key (edgeloop.key, or its folder) to sign with.")
@click.option("--unsigned", is_flag=True, help="No signature: only boards without a provisioned key accept it.")
@click.option("--counter", "-c", required=True, type=int,
              help="Anti-rollback counter: a board installs the bundle only if it is greater than the board's.")
@click.option("--version", "version", help="The model version shown by the board (default: file name + hash).")
@click.option("--confirm-after", default=10, show_default=True, type=click.IntRange(1, 100000),
              help="Inferences the new model must run before the board keeps it; a crash before that rolls back.")
@click.option("--out", "-o", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="The bundle file to write.")
def bundle(model, key, unsigned, counter, version, confirm_after, out):
    """Pack a model folder into a signed bundle for A/B slots (docs/bundle.md).

    The manifest lists each file's SHA-256 and size, the version, the
    anti-rollback counter, self-test inputs and the hash of their expected
    outputs (computed here with the board's own runtime code); the
    signature covers the manifest. Build once where the key is, then deploy
    the same file to every board: `edgeloop deploy --bundle FILE`.

    \b
    Example:
      edgeloop bundle --model models/gesture --key keys/edgeloop.key --counter 2 --out gesture-2.bundle
    """
    from edgeloop.atomic import write_bytes_atomic
    from edgeloop.deploy import bundle as B
    from edgeloop.deploy.keys import load_private
    from edgeloop.errors import DeployError

    if bool(key) == bool(unsigned):
        raise DeployError("give --key FILE to sign the bundle (or --unsigned for boards without a key), "
                          "not both or neither")
    private = load_private(key) if key else None
    data = B.build_bundle(model, counter=counter, key=private, version=version, confirm_inferences=confirm_after)
    b = B.read_bundle(data)
    write_bytes_atomic(out, data)
    signed = "signed" if private is not None else "UNSIGNED"
    click.echo(f"{out}: {signed} bundle of {b.manifest['version']}, counter {counter}, "
               f"{len(b.files)} files, {len(data):,} bytes")
