"""Loading and running a model under TFLM, the one place that imports tflite-micro.

tflite-micro comes with the `tf` extra, so it may be missing. Callers that
can go on without it (a report, the demo's host check) take None from
`runtime()`/`optional_interpreter()`; callers that cannot get one
ToolMissing line from `interpreter()` that says how to install it.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from ..errors import ToolMissing

HINT = "pip install 'edgeloop[tf]'"


def runtime():
    """tflite-micro's runtime module, or None when tflite-micro is not installed."""
    try:
        from tflite_micro.python.tflite_micro import runtime
    except ImportError:
        return None
    return runtime


def optional_interpreter(model: bytes | os.PathLike):
    """A TFLM interpreter for the model (its bytes or its .tflite file), or None when
    tflite-micro is not installed; a file is read only when TFLM can use it."""
    rt = runtime()
    if rt is None:
        return None
    return rt.Interpreter.from_bytes(model if isinstance(model, bytes) else Path(model).read_bytes())


def interpreter(model: bytes | os.PathLike, purpose: str):
    """A TFLM interpreter for the model; `purpose` ("scoring the int8 model") names what needs it."""
    ref = optional_interpreter(model)
    if ref is None:
        raise ToolMissing(f"{purpose} needs TFLM (tflite-micro), which is not installed: {HINT}")
    return ref


def invoke(ref, x: np.ndarray) -> np.ndarray:
    """Output 0 for input 0 = x. TFLM overwrites its input during invoke, so x is set on every call."""
    ref.set_input(x, 0)
    ref.invoke()
    return np.asarray(ref.get_output(0))
