"""Run an edgeloop model: under CPython with the board's own runtime code, or on a board.

The host path imports firmware/edgeloop_fw/runtime -- the very files the
board runs -- so a host result and a board result can be compared byte for
byte. Inputs are checked against the model's input tensor before anything
runs, and the error says what was expected.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable

import numpy as np

from edgeloop_fw.runtime import format as F
from edgeloop_fw.runtime.loader import Model, ModelFileError

from edgeloop.convert.modelcheck import open_model
from edgeloop.errors import DeviceError, ModelError

Progress = Callable[[int, int], None]


def load_model(path: str | Path) -> tuple[bytes, Model]:
    """Read and check a model file (hash, version) exactly as the board would."""
    path = Path(path)
    try:
        blob = path.read_bytes()
    except OSError as e:
        raise ModelError(f"cannot read model {path}: {e.strerror or e}") from None
    return blob, open_model(blob, str(path))


def batch_rows(x: np.ndarray, model: Model) -> np.ndarray:
    """Validate `x` against input 0; return it as (N, *input shape) int8 rows."""
    t = model.inputs[0]
    want = F.DTYPE_NAMES.get(t.dtype, "?")
    shape = tuple(t.shape)
    expect = (f"the model takes {want} {list(shape)} (scale {t.scale:.6g}, zero point {t.zero_point}), "
              f"or a batch of them along the first axis")
    if x.dtype != np.dtype(want):
        raise ModelError(f"input is {x.dtype}; {expect}; quantize with round(x / scale) + zero point")
    if tuple(x.shape) == shape:
        return x.reshape((1,) + shape)
    if shape and shape[0] == 1 and tuple(x.shape[1:]) == shape[1:] and x.shape[0] >= 1:
        return x.reshape((x.shape[0],) + shape)
    raise ModelError(f"input has shape {list(x.shape)}; {expect}")


def _stack(outputs: list[bytes], model: Model) -> np.ndarray:
    t = model.outputs[0]
    rows = [np.frombuffer(o, np.dtype(F.DTYPE_NAMES[t.dtype])).reshape(t.shape) for o in outputs]
    return rows[0] if len(rows) == 1 else np.concatenate(rows, axis=0)


def predict_host(path: str | Path, x: np.ndarray, progress: Progress | None = None) -> np.ndarray:
    from edgeloop_fw.runtime.interpreter import Interpreter

    _, model = load_model(path)
    rows = batch_rows(np.asarray(x), model)
    try:
        interp = Interpreter(model)
    except ModelFileError as e:
        raise ModelError(f"{path}: {e}") from None
    outs = []
    for i, row in enumerate(rows):
        interp.set_input(np.ascontiguousarray(row).tobytes())
        interp.invoke()
        outs.append(interp.get_output())
        if progress:
            progress(i + 1, len(rows))
    return _stack(outs, model)


_BOARD_RUN = """
import sys, binascii
if '/lib' not in sys.path:
    sys.path.append('/lib')
from edgeloop_fw.runtime.loader import Model
from edgeloop_fw.runtime.interpreter import Interpreter
_it = Interpreter(Model(open({path!r}, 'rb')))
"""


def predict_board(port: str, path: str | Path, x: np.ndarray, progress: Progress | None = None) -> np.ndarray:
    """Copy the model to the board (atomically, hash-checked) and run each row there."""
    from edgeloop.deploy.plan import deploy_files
    from edgeloop.link.device import BoardException, Device
    from edgeloop.deploy.firmware import MODELS, model_files

    blob, model = load_model(path)
    rows = batch_rows(np.asarray(x), model)
    remote = f"{MODELS}/{Path(path).name}"
    with Device(port) as dev:
        try:
            dev.exec("import sys\nif '/lib' not in sys.path: sys.path.append('/lib')\n"
                     "import edgeloop_fw.runtime.interpreter")
        except BoardException:
            raise DeviceError(f"the board at {port} has no edgeloop runtime; "
                              f"run `edgeloop deploy --port {port}` first") from None
        deploy_files(dev, model_files([path]), group="models")
        try:
            dev.exec(_BOARD_RUN.format(path=remote), timeout=60)
        except BoardException as e:
            raise ModelError(f"the board refused {remote}: {e}") from None
        outs = []
        for i, row in enumerate(rows):
            code = (f"_it.set_input(binascii.unhexlify({row.tobytes().hex()!r}));_it.invoke();"
                    "print(binascii.hexlify(_it.get_output()).decode())")
            outs.append(bytes.fromhex(dev.exec(code, timeout=120).decode().strip()))
            if progress:
                progress(i + 1, len(rows))
    return _stack(outs, model)


def predict(path: str | Path, x: np.ndarray, *, port: str | None = None,
            progress: Progress | None = None) -> np.ndarray:
    if port:
        return predict_board(port, path, x, progress)
    return predict_host(path, x, progress)
