"""What deploy adds for a board that publishes itself: the mqtt/wifi sections of /edgeloop.json
(which the firmware's mqtt_sink reads) and the MQTT client's files (taken from the installed
chumicro wheels, compiled by deploy's mpy-cross)."""

from __future__ import annotations

import json

import pytest

from edgeloop.boards import profiles
from edgeloop.deploy import board_config as BC
from edgeloop.deploy.mqtt_client import client_files, network_settings, parse_wifi
from edgeloop.errors import DeployError
from tests.tools.paths import REPO


@pytest.mark.parametrize("text, want", [
    ("lab:secret123", {"ssid": "lab", "password": "secret123"}),
    ("lab:pa:ss:word", {"ssid": "lab", "password": "pa:ss:word"}),  # split at the first colon
    ("cafe:", {"ssid": "cafe", "password": ""}),  # an open network
])
def test_wifi_credentials(text, want):
    assert parse_wifi(text) == want


@pytest.mark.parametrize("text, says", [
    ("nocolon", "SSID:PASSWORD"), (":secret123", "SSID:PASSWORD"), ("lab:short", "8-63"), ("x" * 33 + ":secret123", "32 bytes"),
])
def test_bad_wifi_credentials_are_one_line(text, says):
    with pytest.raises(DeployError, match=says) as e:
        parse_wifi(text)
    assert "\n" not in str(e.value)


def test_the_config_gets_the_mqtt_and_wifi_sections():
    checked = BC.prepare_models([REPO / "models" / "gesture"])
    net = network_settings("10.0.0.5", 1884, {"ssid": "lab", "password": "secret123"}, client_id="edgeloop-b1")
    plan = BC.model_deploy(checked, profiles.load("esp32s3"), autostart=True, device_id="b1", network=net)
    on_board = json.loads(next(f for f in plan.files if f.remote == "/edgeloop.json").data)
    assert on_board["mqtt"] == {"host": "10.0.0.5", "port": 1884, "client_id": "edgeloop-b1", "topic_prefix": "edgeloop"}
    assert on_board["wifi"] == {"ssid": "lab", "password": "secret123"}
    assert on_board["autostart"] is True and on_board["device_id"] == "b1"


def test_a_tls_board_gets_the_fleet_ca_and_its_own_credential(tmp_path):
    from edgeloop.deploy.mqtt_client import CA_FILE, ca_file_entry
    from edgeloop.fleet.credentials import Fleet

    fleet = Fleet(tmp_path / "fleet")
    fleet.init(["fleet.example"])
    dev = fleet.add("b1", "device")
    password = dev.password_file.read_text().strip()
    checked = BC.prepare_models([REPO / "models" / "gesture"])
    net = network_settings("fleet.example", 8883, None, client_id="edgeloop-b1", tls=True, username="b1",
                           password=password)
    plan = BC.model_deploy(checked, profiles.load("esp32s3"), autostart=True, device_id="b1", network=net)
    on_board = json.loads(next(f for f in plan.files if f.remote == "/edgeloop.json").data)
    assert on_board["mqtt"] == {"host": "fleet.example", "port": 8883, "client_id": "edgeloop-b1",
                                "topic_prefix": "edgeloop", "tls": True, "ca_file": CA_FILE, "username": "b1",
                                "password": password}
    ca = ca_file_entry(fleet.ca_cert)
    assert ca.remote == CA_FILE and ca.data == fleet.ca_cert.read_bytes()


def test_no_mqtt_section_without_a_broker():
    checked = BC.prepare_models([REPO / "models" / "gesture"])
    plan = BC.model_deploy(checked, profiles.load("esp32s3"))
    assert "mqtt" not in plan.config and "wifi" not in plan.config


def test_client_files_are_the_wheels_modules_without_test_helpers_or_tls():
    files = {f.remote: f for f in client_files(source_only=True)}
    import chumicro_mqtt.client

    assert files["/lib/chumicro_mqtt/client.py"].data == open(chumicro_mqtt.client.__file__, "rb").read()
    assert "/lib/chumicro_sockets/_adapters/mp.py" in files and "/lib/chumicro_sockets/_adapters/cp.py" in files
    assert "/lib/chumicro_timing/ticks.py" in files
    assert not any(r.endswith(("testing.py", "cpython.py")) or "_ca_bundle" in r for r in files)
    compiled = client_files()
    assert {f.remote[:-4] for f in compiled} == {r[:-3] for r in files}
    assert all(f.data[:1] == b"M" for f in compiled)  # .mpy files


class _NoBoard:
    """Device's place in `edgeloop deploy`: everything that would talk to a board is replaced."""

    def __init__(self, port, timeout=None):
        self.port = port

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    def eval(self, expression):  # deploy asks which implementation it talks to: a MicroPython board here
        assert "implementation.name" in expression, expression
        return "micropython"


@pytest.mark.parametrize("broker", [True, False])
def test_deploy_sends_the_client_and_the_sections_only_with_a_broker(monkeypatch, broker):
    from click.testing import CliRunner

    from edgeloop.cli import cli
    from edgeloop.deploy import firmware, slots
    from edgeloop.deploy.plan import DeployResult
    from edgeloop.link import device, discover

    sent = {}

    def fake_deploy(dev, *, extra=(), **kw):
        sent.update({f.remote: f for f in extra})
        return DeployResult(port=dev.port, board=kw.get("board"))

    monkeypatch.setattr(device, "Device", _NoBoard)
    monkeypatch.setattr(discover, "resolve_port", lambda p: p or "fake")
    monkeypatch.setattr(slots, "refuse_plain_models", lambda *a: None)
    monkeypatch.setattr(firmware, "deploy_firmware", fake_deploy)
    monkeypatch.setattr("edgeloop.deploy.plan.open_session", lambda *a, **k: None)
    args = ["deploy", "--port", "fake", "--board", "esp32s3", "--model", str(REPO / "models" / "gesture"), "--autostart"]
    if broker:
        args += ["--broker", "mqtt://10.0.0.5:1884", "--wifi", "lab:secret123", "--device-id", "b1"]
    r = CliRunner().invoke(cli, args, catch_exceptions=False)
    assert r.exit_code == 0, r.output
    cfg = json.loads(sent["/edgeloop.json"].data)
    client = [p for p in sent if p.startswith("/lib/chumicro_")]
    if broker:
        assert cfg["mqtt"]["host"] == "10.0.0.5" and cfg["mqtt"]["port"] == 1884 and cfg["wifi"]["ssid"] == "lab"
        assert "/lib/chumicro_mqtt/client.mpy" in client and "publishes to mqtt://10.0.0.5:1884" in r.output
    else:
        assert "mqtt" not in cfg and not client
