"""edgeloop: take a small ML model from a laptop to a microcontroller and back."""

__version__ = "0.1.0"
