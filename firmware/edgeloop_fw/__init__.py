# The on-board half of edgeloop. Its version is the host package's (they ship
# together); `edgeloop demo` reads it back to show which firmware is deployed.
__version__ = "0.1.0"
