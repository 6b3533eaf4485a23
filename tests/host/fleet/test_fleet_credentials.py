"""`edgeloop fleet` without a broker: the password hash is mosquitto_passwd's own (checked against
the tool where it is installed), secrets stay in 0600 files and out of the output, the ACL and
the registry follow add and revoke, mistakes are one line."""

from __future__ import annotations

import base64
import os
import shutil
import stat
import subprocess

import pytest

from edgeloop.fleet.credentials import Fleet, password_hash
from tests.tools.cli_result import invoke, one_line


def test_password_hash_is_what_mosquitto_passwd_computes(tmp_path):
    tool = shutil.which("mosquitto_passwd") or ("/usr/bin/mosquitto_passwd" if os.path.exists("/usr/bin/mosquitto_passwd") else None)
    if tool is None:
        pytest.skip("mosquitto_passwd is not installed (Debian: apt-get install mosquitto)")
    f = tmp_path / "passwd"
    subprocess.run([tool, "-c", "-b", str(f), "dev-a", "s3cret:with$odd chars"], check=True, capture_output=True)
    line = f.read_text().strip()
    user, hashed = line.split(":", 1)
    _, kind, rounds, salt, digest = hashed.split("$")
    assert (user, kind) == ("dev-a", "7")
    assert password_hash("s3cret:with$odd chars", base64.b64decode(salt), int(rounds)) == hashed
    assert password_hash("s3cret:with$odd chars!", base64.b64decode(salt), int(rounds)) != hashed


def test_add_device_writes_secrets_0600_and_never_prints_them(tmp_path):
    d = tmp_path / "fleet"
    assert invoke("fleet", "init", "--dir", d, "--host", "fleet.example").exit_code == 0
    r = invoke("fleet", "add-device", "nicla-7", "--dir", d)
    assert r.exit_code == 0, r.output
    password = (d / "credentials" / "nicla-7" / "password").read_text().strip()
    assert len(password) >= 24 and password not in r.output
    r2 = invoke("fleet", "add-device", "gw1", "--role", "gateway", "--auth", "cert", "--dir", d)
    key = (d / "credentials" / "gw1" / "key.pem").read_text()
    assert "PRIVATE KEY" in key and key not in r2.output
    for secret in [d / "ca.key", d / "broker" / "server.key", d / "broker" / "passwd", d / "fleet.json",
                   d / "credentials" / "nicla-7" / "password", d / "credentials" / "gw1" / "key.pem"]:
        assert stat.S_IMODE(os.stat(secret).st_mode) == 0o600, secret
    assert password not in (d / "fleet.json").read_text() and password not in (d / "broker" / "passwd").read_text()
    invoke("fleet", "add-device", "b1", "--role", "board", "--gateway", "gw1", "--dir", d)
    acl = (d / "broker" / "acl").read_text()
    assert "user gw1\ntopic read edgeloop-ack/gw1\ntopic write edgeloop/b1/+\n" in acl
    assert "user nicla-7\ntopic write edgeloop/nicla-7/+\ntopic read edgeloop-ack/nicla-7\n" in acl

    r = invoke("fleet", "revoke", "gw1", "--dir", d)  # its board goes with it
    assert r.exit_code == 0 and "b1" in r.output
    acl = (d / "broker" / "acl").read_text()
    assert "gw1" not in acl and "edgeloop/b1/" not in acl and "nicla-7" in acl
    assert not (d / "credentials" / "gw1").exists()
    from cryptography import x509

    crl = x509.load_pem_x509_crl((d / "broker" / "crl.pem").read_bytes())
    assert len(list(crl)) == 1  # gw1's certificate
    assert invoke("fleet", "list", "--dir", d).output.split() == ["nicla-7", "device", "password"]


@pytest.mark.parametrize("args, says", [
    (["add-device", "x"], "run `edgeloop fleet init"),
    (["revoke", "ghost"], "not registered"),
    (["add-device", "bad/name"], "name 'bad/name'"),
    (["add-device", "b9", "--role", "board"], "needs --gateway"),
    (["add-device", "gateway-name-longer-than-16", "--role", "gateway"], "1-16"),
    (["init", "--host", "x"], "already holds a fleet"),
])
def test_mistakes_are_one_line(tmp_path, args, says):
    d = tmp_path / "fleet"
    if args[0] != "add-device" or args[1:] != []:
        Fleet(d).init(["fleet.example"])
    if args == ["add-device", "x"]:
        d = tmp_path / "empty"
    line = one_line(invoke("fleet", *args, "--dir", d))
    assert says in line, line
