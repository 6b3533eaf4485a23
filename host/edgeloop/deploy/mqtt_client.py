"""What a board that publishes itself needs from deploy: its Wi-Fi and broker settings in
/edgeloop.json, and the MQTT client library in /lib (docs/fleet.md, Boards that publish themselves).

The client is chumicro-mqtt with the two packages it imports on a board (chumicro-sockets,
chumicro-timing), taken from the installed PyPI wheels (edgeloop depends on them), not rewritten:
deploy copies their modules, compiled like the firmware's. Left out: their test helpers, the
CPython socket adapter and the public TLS CA bundle: a board on TLS trusts only its fleet's CA,
which deploy writes to CA_FILE (`deploy --broker mqtts://... --ca`).
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

from edgeloop.deploy.mpy import CompileStats, compile_source
from edgeloop.deploy.plan import DeployFile
from edgeloop.errors import DeployError

PACKAGES = ("chumicro_mqtt", "chumicro_sockets", "chumicro_timing")
LEAVE_OUT = {"testing.py", "cpython.py", "_ca_bundle.py", "_ca_bundle.der"}
GROUP = "mqtt-client"
LIB = "/lib"
CA_FILE = "/edgeloop_ca.pem"  # the fleet's CA on the board (short: see docs/fleet.md)


def package_dir(name: str) -> Path:
    spec = importlib.util.find_spec(name)
    if spec is None or not spec.submodule_search_locations:
        raise DeployError(f"the MQTT client package {name} is not installed; reinstall edgeloop "
                          "(pip install -e .) so its dependencies come along")
    return Path(list(spec.submodule_search_locations)[0])


def client_files(*, source_only: bool = False, cache_dir: Path | None = None,
                 stats: CompileStats | None = None) -> list[DeployFile]:
    """The client's modules as files for /lib/<package>/ (.mpy unless `source_only`)."""
    files = []
    for name in PACKAGES:
        root = package_dir(name)
        for path in sorted(root.rglob("*.py")):
            if "__pycache__" in path.parts or path.name in LEAVE_OUT:
                continue
            rel = f"{name}/{path.relative_to(root).as_posix()}"
            data = path.read_bytes()
            if source_only:
                files.append(DeployFile(f"{LIB}/{rel}", data, rel, GROUP))
            else:
                files.append(DeployFile(f"{LIB}/{rel[:-3]}.mpy",
                                        compile_source(data, rel, cache_dir=cache_dir, stats=stats), rel, GROUP))
    return files


def parse_wifi(text: str) -> dict:
    """`--wifi SSID:PASSWORD` (split at the first colon: a password may hold colons, an SSID not here).
    An empty password is an open network; WPA2 passwords are 8-63 characters."""
    ssid, sep, password = text.partition(":")
    if not sep or not ssid:
        raise DeployError(f"--wifi {text!r} is not SSID:PASSWORD (e.g. --wifi lab:secret123; "
                          "an open network: --wifi lab:)")
    if len(ssid.encode()) > 32:
        raise DeployError(f"--wifi: SSID {ssid!r} is longer than Wi-Fi's 32 bytes")
    if password and not 8 <= len(password) <= 63:
        raise DeployError("--wifi: a WPA2 password is 8-63 characters (nothing after the colon for an open network)")
    return {"ssid": ssid, "password": password}


def network_settings(host: str, port: int, wifi: dict | None, client_id: str = "",
                     topic_prefix: str = "edgeloop", *, tls: bool = False, username: str = "",
                     password: str = "") -> dict:
    """The mqtt (and wifi) sections of /edgeloop.json: the firmware's mqtt_sink reads them. With
    `tls`, the board dials TLS trusting only CA_FILE (ca_file_entry), and logs in as `username`
    (its own credential from `edgeloop fleet add-device`); the password sits on the board's flash
    beside the Wi-Fi password: whoever holds the board holds both (docs/fleet.md, threat model)."""
    out = {"mqtt": {"host": host, "port": port, "client_id": client_id, "topic_prefix": topic_prefix}}
    if tls:
        out["mqtt"]["tls"] = True
        out["mqtt"]["ca_file"] = CA_FILE
    if username:
        out["mqtt"]["username"] = username
        out["mqtt"]["password"] = password
    if wifi:
        out["wifi"] = dict(wifi)
    return out


def ca_file_entry(ca_path: str | Path) -> DeployFile:
    """The fleet's CA certificate (PEM) as the board's CA_FILE."""
    data = Path(ca_path).read_bytes()
    if b"-----BEGIN CERTIFICATE-----" not in data:
        raise DeployError(f"--ca {ca_path}: not a PEM certificate (the fleet's ca.pem from `edgeloop fleet init`)")
    return DeployFile(CA_FILE, data, str(ca_path), GROUP)
