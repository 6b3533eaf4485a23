"""Many boards, many hosts: gateway -> MQTT broker -> collector -> database (docs/fleet.md)."""
