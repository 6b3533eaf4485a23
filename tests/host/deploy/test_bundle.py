"""Bundles on the host: the layout docs/bundle.md states (read with plain struct/json here),
the self-test hash against TFLM's outputs on the shipped inputs, signatures checked by
`cryptography` itself, and a changed byte refused."""

from __future__ import annotations

import hashlib
import json
import struct

import numpy as np
import pytest
from click.testing import CliRunner
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from edgeloop.cli import cli
from edgeloop.deploy import bundle as B
from edgeloop.deploy import keys as K
from tests.tools.paths import REPO

GESTURE = REPO / "models" / "gesture"


def split(data: bytes):
    magic, fmt, zero, sig_len, man_len = struct.unpack_from("<4sBBHI", data, 0)
    assert (magic, fmt, zero) == (b"ELBN", 1, 0)
    manifest = data[12:12 + man_len]
    sig = data[12 + man_len:12 + man_len + sig_len]
    return json.loads(manifest), manifest, sig, data[12 + man_len + sig_len:]


def test_signed_bundle_layout_and_signature_by_cryptography(tmp_path):
    key = Ed25519PrivateKey.generate()
    data = B.build_bundle(GESTURE, counter=7, key=key)
    m, raw, sig, payload = split(data)
    key.public_key().verify(sig, raw)  # raises InvalidSignature if not
    assert m["counter"] == 7 and m["model"] == "gesture.elm"
    at = 0
    for f in m["files"]:
        body = payload[at:at + f["size"]]
        at += f["size"]
        assert hashlib.sha256(body).hexdigest() == f["sha256"]
    assert at == len(payload)
    assert payload[:m["files"][0]["size"]] == (GESTURE / "gesture.elm").read_bytes()
    pub = key.public_key().public_bytes_raw()
    assert B.verify_signature(B.read_bundle(data), pub)
    other = Ed25519PrivateKey.generate().public_key().public_bytes_raw()
    assert not B.verify_signature(B.read_bundle(data), other)
    # one changed manifest byte (a counter 7 -> 8) with the old signature: refused
    forged = data.replace(b'"counter":7', b'"counter":8')
    assert forged != data and not B.verify_signature(B.read_bundle(forged), pub)


def test_selftest_hash_equals_tflm_on_the_shipped_inputs():
    from edgeloop.reference import tflm

    ref = tflm.optional_interpreter(GESTURE / "gesture.tflite")
    if ref is None:
        pytest.skip("tflite-micro is not installed")
    data = B.build_bundle(GESTURE, counter=1, selftest_count=6)
    m, _, _, _ = split(data)
    st = m["selftest"]
    inputs = B.read_bundle(data).files[st["file"]]
    h = hashlib.sha256()
    shape = ref.get_input_details(0)["shape"]
    for i in range(st["count"]):
        x = np.frombuffer(inputs, np.int8, st["size"], i * st["size"]).reshape(shape)
        ref.set_input(x, 0)
        ref.invoke()
        h.update(np.asarray(ref.get_output(0)).astype(np.int8).tobytes())
    assert h.hexdigest() == st["outputs_sha256"]


def test_a_changed_file_byte_is_refused_on_read():
    data = bytearray(B.build_bundle(REPO / "models" / "gesture_trees", counter=1))
    data[-3] ^= 1  # inside selftest.bin
    with pytest.raises(B.BundleFileError, match="selftest.bin does not match"):
        B.read_bundle(bytes(data))


def test_cli_bundle_writes_a_signed_bundle(tmp_path):
    pair = K.new_keypair(tmp_path / "k")
    out = tmp_path / "g.bundle"
    r = CliRunner().invoke(cli, ["bundle", "--model", str(GESTURE), "--key", str(pair.private_path),
                                 "--counter", "3", "--out", str(out)])
    assert r.exit_code == 0, r.output
    b = B.load_bundle(out)
    assert b.manifest["counter"] == 3 and B.verify_signature(b, pair.public_raw)
    again = CliRunner().invoke(cli, ["bundle", "--model", str(GESTURE), "--counter", "3", "--out", str(out)])
    assert again.exit_code != 0 and len(again.output.strip().splitlines()) == 1 and "--key" in again.output


def test_bundle_deploy_writes_the_keep_flags_into_the_board_config(tmp_path):
    """`deploy --bundle --keep-*`: the rules go into /edgeloop.json next to "@slots/…" (a provisioned
    board takes only bundles, so this is the only way to set them there); checked against the
    bundle's classes before the port is touched."""
    from edgeloop.boards import profiles
    from edgeloop.deploy import board_config as BC

    trees = REPO / "models" / "gesture_trees"
    b = B.read_bundle(B.build_bundle(trees, counter=1))
    flags = {"below": 0.6, "margin": 0.3, "classes": ("wave",), "random": 0.1, "seed": 7, "per_minute": None,
             "ring_bytes": None}
    BC.check_capture([], flags, b)
    plan = BC.bundle_deploy(b, profiles.load("rp2040"), sensor="replay", capture=flags)
    rules = {k: v for k, v in plan.config["capture"].items() if k != "ring_bytes"}
    assert rules == {"below": 0.6, "margin": 0.3, "classes": ["wave"], "random": 0.1, "seed": 7}
    assert plan.config["model"].startswith("@slots/")
    assert "capture" not in BC.bundle_deploy(b, profiles.load("rp2040"), sensor="replay").config

    out = tmp_path / "t.bundle"
    out.write_bytes(B.build_bundle(trees, counter=1))
    r = CliRunner().invoke(cli, ["deploy", "--port", "/dev/nonexistent-edgeloop", "--board", "rp2040",
                                 "--bundle", str(out), "--keep-class", "jump"])
    assert r.exit_code != 0 and "jump" in r.output and "Traceback" not in r.output, r.output
