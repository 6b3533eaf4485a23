"""edgeloop: take a small ML model from a laptop to a microcontroller and back."""

# Host and firmware ship in one wheel at one version, written once in the
# firmware package (which the host imports anyway) so the two cannot differ.
from edgeloop_fw import __version__

__all__ = ["__version__"]
