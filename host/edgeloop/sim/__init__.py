"""The virtual board: real MicroPython (WebAssembly) behind a pseudo-terminal.

    from edgeloop.sim import VirtualBoard
    with VirtualBoard(board="rp2040") as vb:
        Device(vb.port)  # or: mpremote connect <vb.port> ...
"""

from .board import VirtualBoard, node_status
from .registry import RunningSim, running_sims

__all__ = ["VirtualBoard", "RunningSim", "running_sims", "node_status"]
