"""The collector's identity check (docs/fleet.md, Security): a message is stored only when the
fleet's registry says its sender may speak for its device.

The broker's ACL already limits who may publish on `edgeloop/<device>/...`, but Mosquitto does not
tell a subscriber who published a message, so the collector checks what it can see against the
same registry the ACL was written from (fleet.json): the device in the topic is registered, and the
gateway id in the fleet header is the one that device publishes through (a Wi-Fi board's own id
cut to 16, or its gateway's). A message that passes the ACL but not this (a gateway sending under
another gateway's name, a device registered after the ACL was loaded but revoked since) is refused,
counted and logged by the collector, and stored nowhere. That the device id inside a hello equals
the topic's is wire.decode's own check.
"""

from __future__ import annotations

import time

from . import wire
from .credentials import Fleet

RELOAD_SECONDS = 2.0  # how stale the registry may be: add-device and revoke reach a running collector


class RegistryCheck:
    def __init__(self, fleet: Fleet):
        self.fleet = fleet
        self._loaded = 0.0
        self._mtime = None
        self._gateway_of: dict[str, str] = {}
        self._load()

    def _load(self) -> None:
        self._loaded = time.monotonic()
        mtime = self.fleet.registry.stat().st_mtime_ns
        if mtime != self._mtime:
            self._gateway_of, self._mtime = self.fleet.gateway_of(), mtime

    def __call__(self, m: wire.Message) -> str | None:
        if time.monotonic() - self._loaded >= RELOAD_SECONDS:
            self._load()
        expected = self._gateway_of.get(m.device_id)
        if expected is None:
            return f"device {m.device_id!r} is not registered in the fleet ({self.fleet.root})"
        if m.gateway_id != expected:
            return (f"device {m.device_id!r} publishes through {expected!r}, but this message says gateway "
                    f"{m.gateway_id!r}")
        return None
