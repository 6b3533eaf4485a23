"""The exception tree.

Library code raises these; only the CLI turns them into one stderr line and a
non-zero exit. Each message says what is wrong and what to do about it, so a
user never needs the traceback.
"""


class EdgeloopError(Exception):
    """A user-facing error: the message is the whole story."""

    exit_code = 1


class BoardProfileError(EdgeloopError):
    """A board profile is missing, malformed, or names an unknown board."""


class DeviceError(EdgeloopError):
    """The board answered with an error, or stopped answering."""


class DeviceNotFound(DeviceError):
    """No board at the given port, or no board at all."""


class DeviceBusy(DeviceError):
    """The port exists but another program holds it."""


class NotMicroPython(DeviceError):
    """Something answers on the port but it is not a MicroPython/CircuitPython REPL."""


class SimError(EdgeloopError):
    """The virtual board could not start or stopped unexpectedly."""


class DeployError(EdgeloopError):
    """A deploy was refused or failed; the board keeps its previous app."""


class NotEnoughSpace(DeployError):
    """The files would not fit on the board's filesystem."""


class ModelError(EdgeloopError):
    """A model file is unreadable, corrupt, unsupported, or does not fit."""


class ConversionError(ModelError):
    """A model could not be converted to the on-board format."""


class FlashError(EdgeloopError):
    """Writing firmware to a board failed or was refused before anything was written."""


class StreamError(EdgeloopError):
    """The framed serial stream failed."""


class StoreError(EdgeloopError):
    """The inference log (SQLite) cannot be opened or written; what was committed is kept."""


class ToolMissing(EdgeloopError):
    """An external program (node, esptool, dfu-util, a compiler) is not installed."""
