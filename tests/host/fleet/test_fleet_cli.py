"""The two commands' user errors: one line, exit 1, no traceback."""

from __future__ import annotations

from click.testing import CliRunner

from edgeloop.cli import cli


def _run(*args):
    return CliRunner().invoke(cli, list(args))


def test_a_broker_that_is_not_an_mqtt_url_is_one_line(tmp_path):
    for bad in ("http://x", "mqtt://", "mqtt://h:99999", "localhost:1883"):
        r = _run("collect", "--broker", bad, "--db", str(tmp_path / "f.sqlite"))
        assert r.exit_code == 1, r.output
        assert r.output.startswith("edgeloop: --broker") and r.output.count("\n") == 1, r.output
        r = _run("gateway", "--broker", bad, "--port", "/dev/null", "--queue", str(tmp_path / "q.sqlite"))
        assert r.exit_code == 1 and r.output.startswith("edgeloop: --broker"), r.output


def test_a_bad_gateway_id_is_one_line(tmp_path):
    r = _run("gateway", "--broker", "mqtt://127.0.0.1:1", "--port", "/dev/null", "--queue", str(tmp_path / "q.sqlite"),
             "--gateway-id", "has/slash")
    assert r.exit_code == 1 and "gateway id 'has/slash'" in r.output and "Traceback" not in r.output, r.output


def test_collect_refuses_a_file_that_is_not_a_log(tmp_path):
    junk = tmp_path / "junk.sqlite"
    junk.write_bytes(b"x" * 4096)
    r = _run("collect", "--broker", "mqtt://127.0.0.1:1", "--db", str(junk))
    assert r.exit_code == 1 and "not an edgeloop log" in r.output, r.output


def test_credential_mistakes_are_one_line(tmp_path):
    ca = tmp_path / "ca.pem"
    ca.write_text("x")
    db = str(tmp_path / "f.sqlite")
    cases = [
        (["collect", "--broker", "mqtt://h", "--ca", str(ca), "--db", db], "need a TLS broker"),
        (["collect", "--broker", "mqtts://h", "--ca", str(tmp_path / "none.pem"), "--db", db], "no such file"),
        (["collect", "--broker", "mqtts://h", "--username", "u", "--db", db], "go together"),
        (["collect", "--broker", "mqtts://h", "--cert", str(ca), "--db", db], "go together"),
        (["collect", "--broker", "mqtts://h", "--fleet-dir", str(tmp_path / "nofleet"), "--db", db], "no fleet in"),
        (["gateway", "--broker", "mqtt://h", "--ca", str(ca), "--port", "/dev/null", "--queue",
          str(tmp_path / "q.sqlite")], "need a TLS broker"),
        (["monitor", "--broker", "mqtt://h", "--ca", str(ca), "--seconds", "1"], "need a TLS broker"),
        (["monitor", "--port", "/dev/null", "--username", "u"], "go with --broker"),
    ]
    for args, says in cases:
        r = _run(*args)
        assert r.exit_code != 0 and says in r.output and r.output.count("\n") == 1, (args, r.output)
        assert "Traceback" not in r.output


def test_a_broker_refusing_the_credential_is_reported_not_retried_silently(secure_broker, fleet, tmp_path):
    """monitor --broker must connect first time: a wrong password is the user's to fix."""
    dev = fleet.add("ops", "viewer")
    secure_broker.reload()
    wrong = tmp_path / "wrong"
    wrong.write_text("not-it\n")
    r = _run("monitor", "--broker", secure_broker.url, "--ca", str(fleet.ca_cert), "--username", "ops",
             "--password-file", str(wrong), "--seconds", "5")
    assert r.exit_code != 0 and "Traceback" not in r.output, r.output
    r = _run("monitor", "--broker", secure_broker.url, "--ca", str(fleet.ca_cert), "--username", "ops",
             "--password-file", str(dev.password_file), "--seconds", "2")
    assert r.exit_code == 0, r.output


def test_collect_stops_with_one_line_when_the_broker_refuses_its_credential(secure_broker, fleet, tmp_path):
    """A collector that retried a refused credential forever only filled its log; the right
    credential must still connect, so the refusal is the broker's verdict on the password."""
    col = fleet.add("collector", "collector")
    secure_broker.reload()
    wrong = tmp_path / "wrong"
    wrong.write_text("not-it\n")
    common = ["collect", "--broker", secure_broker.url, "--ca", str(fleet.ca_cert), "--username", "collector",
              "--db", str(tmp_path / "fleet.sqlite")]
    r = _run(*common, "--password-file", str(wrong), "--seconds", "60")
    assert r.exit_code == 1 and "Traceback" not in r.output, r.output
    assert "refused our credential" in r.output and len(r.output.strip().splitlines()) <= 2, r.output
    r = _run(*common, "--password-file", str(col.password_file), "--seconds", "2")
    assert r.exit_code == 0, r.output
