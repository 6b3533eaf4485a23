"""Ed25519 signing keys for model bundles (the `cryptography` package does the mathematics).

`new_keypair(out_dir)` writes `edgeloop.key` (the private key, PKCS#8 PEM, mode 0600) and
`edgeloop.pub` (the public key, SubjectPublicKeyInfo PEM). Each file appears complete or not
at all (written beside, then hard-linked into place: a link never replaces an existing
file, so two runs racing cannot overwrite each other's key either). An existing key is
never overwritten: losing a private key that boards trust means those boards can no longer
be updated with signed bundles.

`load_private` / `load_public` read them back (the public key also as the raw 32 bytes the
board stores); every failure is a one-line `KeyFileError`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from edgeloop.errors import EdgeloopError

PRIVATE_NAME = "edgeloop.key"
PUBLIC_NAME = "edgeloop.pub"
PUBLIC_RAW_SIZE = 32


class KeyFileError(EdgeloopError):
    """A key file is missing, unreadable, not an Ed25519 key, or would be overwritten."""


@dataclass(frozen=True)
class KeyPair:
    private_path: Path
    public_path: Path
    public_raw: bytes  # the 32 bytes the board keeps

    @property
    def fingerprint(self) -> str:
        return fingerprint(self.public_raw)


def fingerprint(public_raw: bytes) -> str:
    """A short name for a public key (first 8 bytes of its SHA-256, hex), for messages."""
    import hashlib

    return hashlib.sha256(public_raw).hexdigest()[:16]


def _write_new(path: Path, data: bytes, mode: int) -> None:
    """Write `path` with `mode`, complete or not at all; refuse if it exists."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    try:
        try:
            os.fchmod(fd, mode)  # the umask may have taken bits off; set exactly what was asked
            os.write(fd, data)
            os.fsync(fd)
        finally:
            os.close(fd)
        os.link(tmp, path)  # fails with FileExistsError instead of replacing
    finally:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass


def new_keypair(out_dir: str | os.PathLike) -> KeyPair:
    """A fresh Ed25519 key pair in `out_dir` (created if missing, mode 0700 when new)."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    out = Path(out_dir)
    priv_path, pub_path = out / PRIVATE_NAME, out / PUBLIC_NAME
    for p in (priv_path, pub_path):
        if p.exists():
            raise KeyFileError(f"{p} already exists; keys are never overwritten (boards may trust it): "
                               "choose another --out folder, or move the old pair away first")
    try:
        out.mkdir(mode=0o700, parents=True, exist_ok=True)
    except OSError as e:
        raise KeyFileError(f"cannot create {out}: {e.strerror or e}") from None
    key = Ed25519PrivateKey.generate()
    private_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                    serialization.NoEncryption())
    public = key.public_key()
    public_pem = public.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    raw = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    try:
        _write_new(priv_path, private_pem, 0o600)
    except FileExistsError:
        raise KeyFileError(f"{priv_path} appeared while the key was made; nothing was written") from None
    except OSError as e:
        raise KeyFileError(f"cannot write {priv_path}: {e.strerror or e}") from None
    try:
        _write_new(pub_path, public_pem, 0o644)
    except OSError as e:
        priv_path.unlink()  # a private key without its public half is of no use to anybody
        why = "appeared while the key was made" if isinstance(e, FileExistsError) else (e.strerror or str(e))
        raise KeyFileError(f"cannot write {pub_path}: {why}; nothing was written") from None
    return KeyPair(priv_path, pub_path, raw)


def _read(path, what: str) -> bytes:
    p = Path(path)
    if p.is_dir():
        p = p / (PRIVATE_NAME if what == "private" else PUBLIC_NAME)
    try:
        return p.read_bytes()
    except OSError as e:
        raise KeyFileError(f"cannot read the {what} key {p}: {e.strerror or e}; "
                           "make a pair with `edgeloop keys new --out DIR`") from None


def load_private(path: str | os.PathLike):
    """The Ed25519 private key in a PEM file (or in DIR/edgeloop.key)."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    data = _read(path, "private")
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except (ValueError, TypeError) as e:
        raise KeyFileError(f"{path} is not an unencrypted PEM private key ({e}); "
                           "use the edgeloop.key that `edgeloop keys new` wrote") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise KeyFileError(f"{path} holds a {type(key).__name__.lstrip('_')}, not an Ed25519 key; "
                           "make one with `edgeloop keys new --out DIR`")
    return key


def load_public_raw(path: str | os.PathLike) -> bytes:
    """The 32 raw bytes of an Ed25519 public key: from a PEM file (or DIR/edgeloop.pub), or a 32-byte file."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    data = _read(path, "public")
    if len(data) == PUBLIC_RAW_SIZE:
        return data
    if b"PRIVATE KEY" in data:
        raise KeyFileError(f"{path} is a private key; give the public half (edgeloop.pub) — "
                           "the private key never leaves the machine that signs")
    try:
        key = serialization.load_pem_public_key(data)
    except (ValueError, TypeError) as e:
        raise KeyFileError(f"{path} is not a PEM public key or 32 raw bytes ({e}); "
                           "use the edgeloop.pub that `edgeloop keys new` wrote") from None
    if not isinstance(key, Ed25519PublicKey):
        raise KeyFileError(f"{path} holds a {type(key).__name__.lstrip('_')}, not an Ed25519 public key")
    return key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
