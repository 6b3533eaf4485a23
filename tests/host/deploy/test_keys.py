"""`edgeloop keys new`: the pair is a real Ed25519 pair (checked with `cryptography`), the private
key is 0600 and never overwritten, and every refusal is one line."""

from __future__ import annotations

import stat

from click.testing import CliRunner
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from edgeloop.cli import cli
from edgeloop.deploy import keys as K


def test_keys_new_writes_a_working_pair_with_a_private_mode(tmp_path):
    out = tmp_path / "k"
    r = CliRunner().invoke(cli, ["keys", "new", "--out", str(out)])
    assert r.exit_code == 0, r.output
    priv, pub = out / "edgeloop.key", out / "edgeloop.pub"
    assert stat.S_IMODE(priv.stat().st_mode) == 0o600
    assert not [p for p in out.iterdir() if p.name.startswith(".")]  # no temp files left
    # Independent check: sign with the private file, verify with the public file, both via cryptography.
    key = serialization.load_pem_private_key(priv.read_bytes(), password=None)
    public = serialization.load_pem_public_key(pub.read_bytes())
    sig = key.sign(b"model")
    public.verify(sig, b"model")
    try:
        public.verify(sig, b"modem")
        raise AssertionError("a changed message verified")
    except InvalidSignature:
        pass
    raw = K.load_public_raw(pub)
    assert Ed25519PublicKey.from_public_bytes(raw).public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo) == pub.read_bytes()
    assert K.load_public_raw(out) == raw and len(raw) == 32


def test_keys_new_refuses_to_overwrite(tmp_path):
    out = tmp_path / "k"
    assert CliRunner().invoke(cli, ["keys", "new", "--out", str(out)]).exit_code == 0
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    r = CliRunner().invoke(cli, ["keys", "new", "--out", str(out)])
    assert r.exit_code != 0 and "Traceback" not in r.output
    assert len(r.output.strip().splitlines()) == 1 and "already exists" in r.output
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before


def test_keys_help_says_where_to_keep_the_private_key():
    r = CliRunner().invoke(cli, ["keys", "new", "--help"])
    assert r.exit_code == 0 and "offline" in r.output and "0600" in r.output



def test_provision_key_refuses_a_private_key_in_one_line(tmp_path):
    K.new_keypair(tmp_path)
    r = CliRunner().invoke(cli, ["deploy", "--provision-key", str(tmp_path / "edgeloop.key"), "--port", "/dev/nope"])
    assert r.exit_code != 0 and "Traceback" not in r.output
    assert len(r.output.strip().splitlines()) == 1 and "private key" in r.output
