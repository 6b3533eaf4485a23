"""Signature checks on the board: Ed25519 verify (RFC 8032) and the SHA-512 it needs.

    from edgeloop_fw.crypto import verify
    verify(pub32, msg, sig64) -> bool   # never raises on bad input

Importing this package costs almost nothing: the curve code (`ed25519.py`,
`field.py`, `sha512.py`, and `viper/` where the board runs machine code) is
imported by the first `verify` call, so only a board that checks a signed
bundle pays its heap. docs/signing.md has the algorithm and the figures.
"""


def verify(pub, msg, sig):
    """True when sig (64 bytes) is the Ed25519 signature of msg under pub (32 bytes), else False."""
    from edgeloop_fw.crypto.ed25519 import verify as _verify

    return _verify(pub, msg, sig)
