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
