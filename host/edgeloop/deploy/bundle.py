"""Signed model bundles on the host: build one from a model folder, read one back.

The format is edgeloop_fw.bundle_format (the board's module, docs/bundle.md); this module
only fills it in. A bundle is built once, on the machine that holds the signing key, and
the same bytes go to every board (`edgeloop deploy --bundle`): the key never has to be
where the boards are, and what was signed is exactly what each board checks.

The self-test's expected output hash is computed here with the board's own code
(edgeloop_fw.selftest under CPython) over inputs chosen here and shipped in the bundle.
"""

from __future__ import annotations

import hashlib
import json
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from edgeloop_fw import bundle_format as BF
from edgeloop_fw import selftest

from edgeloop.errors import DeployError

from . import board_config as BC

DEFAULT_CONFIRM_INFERENCES = 10
DEFAULT_CONFIRM_BOOTS = 1


class BundleFileError(DeployError):
    """A bundle file cannot be read, is not a bundle, or does not match its own manifest."""


@dataclass
class Bundle:
    manifest: dict
    manifest_bytes: bytes
    signature: bytes  # b"" when unsigned
    files: dict[str, bytes]
    data: bytes  # the whole bundle as stored

    @property
    def model_file(self) -> str:
        return self.manifest["model"]


def selftest_inputs(checked: BC.CheckedModel, count: int, seed: int) -> tuple[bytes, int]:
    """(inputs, bytes per input): int8 tensors for an .elm model; for trees, int16 feature
    vectors spread over each feature's thresholds so the trees' branches both get taken."""
    rng = np.random.default_rng(seed)
    if checked.trees is not None:
        t = checked.trees
        lo = np.full(t.n_features, -100, dtype=np.int64)
        hi = np.full(t.n_features, 100, dtype=np.int64)
        for f, thr in zip(t.feature, t.threshold):
            if f >= 0:
                lo[f], hi[f] = min(lo[f], thr - 1), max(hi[f], thr + 1)
        x = rng.integers(np.maximum(lo, -32768), np.minimum(hi, 32767) + 1, size=(count, t.n_features))
        return x.astype("<i2").tobytes(), 2 * t.n_features
    from edgeloop.convert.modelcheck import open_model

    size = open_model(checked.data, str(checked.source.file)).inputs[0].nbytes
    return rng.integers(-128, 128, size=(count, size), dtype=np.int8).tobytes(), size


def expected_outputs(model_name: str, model: bytes, inputs: bytes, count: int, size: int) -> str:
    """The self-test's output hash, by the board's own code (edgeloop_fw.selftest) under CPython."""
    with tempfile.TemporaryDirectory(prefix="edgeloop-selftest-") as tmp:
        mp, ip = Path(tmp) / model_name, Path(tmp) / BF.SELFTEST_FILE
        mp.write_bytes(model)
        ip.write_bytes(inputs)
        return selftest.outputs_digest(str(mp), str(ip), count, size).hex()


def build_bundle(model: str | Path, *, counter: int, key=None, version: str | None = None,
                 confirm_inferences: int = DEFAULT_CONFIRM_INFERENCES, confirm_boots: int = DEFAULT_CONFIRM_BOOTS,
                 selftest_count: int = 4, expected_sha256: str | None = None) -> bytes:
    """The bundle's bytes for a model folder; signed with `key` (an Ed25519 private key) or unsigned.

    `expected_sha256` replaces the computed self-test hash (tests make a bundle whose self-test
    must fail on the board this way)."""
    if not isinstance(counter, int) or not 0 < counter < 2**31:
        raise DeployError(f"--counter {counter!r} must be a whole number from 1 to {2**31 - 1}, "
                          "greater than the board's installed counter")
    src = BC.resolve_model(model)
    if src.info is None:
        raise DeployError(f"{model} has no model.json beside it; a bundle needs a model folder "
                          "(as `edgeloop train` writes it): its classes, window and sensor go into the manifest")
    checked = BC.check_model_file(src)
    if checked.heap is None and checked.trees is None:
        raise DeployError(f"{src.file.name} is not an .elm or trees .csv model; only those run from a slot")
    info = src.info
    digest = hashlib.sha256(checked.data).hexdigest()
    inputs, size = selftest_inputs(checked, selftest_count, seed=int(digest[:8], 16))
    expected = expected_sha256 or expected_outputs(src.file.name, checked.data, inputs, selftest_count, size)
    files = {src.file.name: checked.data, BF.SELFTEST_FILE: inputs}
    config = BC.model_settings(info)
    config["rate"] = int(info.rate_hz) if float(info.rate_hz).is_integer() else info.rate_hz
    manifest = {
        "format": BF.FORMAT,
        "version": version or f"{src.file.stem} {digest[:12]}",
        "counter": counter,
        "files": [{"name": n, "size": len(d), "sha256": hashlib.sha256(d).hexdigest()} for n, d in files.items()],
        "model": src.file.name,
        "config": config,
        "sensor": dict(info.sensor),
        "selftest": {"file": BF.SELFTEST_FILE, "count": selftest_count, "size": size, "outputs_sha256": expected},
        "confirm": {"inferences": confirm_inferences, "boots": confirm_boots},
    }
    raw = json.dumps(manifest, separators=(",", ":"), sort_keys=True).encode()
    BF.parse_manifest(raw)  # the board's own check, so a bundle we write is one it can read
    sig = key.sign(raw) if key is not None else b""
    return BF.header(len(sig), len(raw)) + raw + sig + b"".join(files.values())


def read_bundle(data: bytes, name: str = "bundle") -> Bundle:
    """Parse and check a bundle's framing and every file's size and SHA-256 (not the signature)."""
    try:
        sig_len, man_len = BF.read_header(data[:BF.HEADER_SIZE])
        raw = data[BF.HEADER_SIZE:BF.HEADER_SIZE + man_len]
        if len(raw) != man_len:
            raise BF.BundleError(BF.MALFORMED, "the bundle is truncated inside its manifest")
        manifest = BF.parse_manifest(raw)
    except BF.BundleError as e:
        raise BundleFileError(f"{name}: {e}; build it again with `edgeloop bundle`") from None
    at = BF.HEADER_SIZE + man_len
    sig = data[at:at + sig_len]
    at += sig_len
    files = {}
    for f in manifest["files"]:
        body = data[at:at + f["size"]]
        at += f["size"]
        if len(body) != f["size"] or hashlib.sha256(body).hexdigest() != f["sha256"]:
            raise BundleFileError(f"{name}: {f['name']} does not match the manifest's SHA-256 and size "
                                  "(the bundle was changed or damaged); build it again with `edgeloop bundle`")
        files[f["name"]] = body
    if at != len(data):
        raise BundleFileError(f"{name}: {len(data) - at} bytes after the last file; build it again")
    return Bundle(manifest, raw, sig, files, data)


def load_bundle(path: str | Path) -> Bundle:
    p = Path(path)
    try:
        data = p.read_bytes()
    except OSError as e:
        raise BundleFileError(f"cannot read bundle {p}: {e.strerror or e}") from None
    return read_bundle(data, str(p))


def verify_signature(bundle: Bundle, public_raw: bytes) -> bool:
    """The host's check of the signature with `cryptography` (the board checks with its own code)."""
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    if len(bundle.signature) != BF.SIG_SIZE:
        return False
    try:
        Ed25519PublicKey.from_public_bytes(public_raw).verify(bundle.signature, bundle.manifest_bytes)
    except InvalidSignature:
        return False
    return True
