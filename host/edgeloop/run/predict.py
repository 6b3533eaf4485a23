"""Run an edgeloop model: under CPython with the board's own code, or on a board.

The host path imports firmware/edgeloop_fw -- the very files the board runs
(runtime, trees, features, audio front end) -- so a host result and a board
result can be compared byte for byte. A model is a folder (model file +
model.json, read through edgeloop.modelinfo) or a bare model file; the folder
is what knows the classes and how raw sensor data becomes the model's input,
so with it `predict` takes what a sensor gives (a window in the board's units,
a .wav) instead of a tensor the user had to quantize by hand. Every input is
checked before anything runs, and every refusal says what was expected.
"""

from __future__ import annotations

import contextlib
import io
from array import array
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

from edgeloop_fw.runtime import format as F
from edgeloop_fw.runtime.loader import Model, ModelFileError

from edgeloop import modelinfo as MI
from edgeloop.convert.modelcheck import open_model
from edgeloop.errors import DeviceError, EdgeloopError, ModelError

Progress = Callable[[int, int], None]
INPUT_KINDS = (".npy", ".npz", ".csv", ".wav")


class InputError(EdgeloopError):
    """The input file cannot be read, or does not fit the model."""


@contextlib.contextmanager
def model_errors(where):
    """Where a board-side refusal of a trees file or an input (the trees' TreeError, any
    ModelFileError/ValueError of the firmware's checks) becomes the host's one-line ModelError;
    .elm files are opened through convert.modelcheck.open_model, which does the same."""
    try:
        yield
    except (ModelFileError, ValueError) as e:
        raise ModelError(f"{where}: {e}") from None


def _read_model(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as e:
        raise ModelError(f"cannot read model {path}: {e.strerror or e}") from None


def load_model(path: str | Path) -> tuple[bytes, Model]:
    """Read and check a model file (hash, version) exactly as the board would."""
    path = Path(path)
    blob = _read_model(path)
    return blob, open_model(blob, str(path))


# -- the model ---------------------------------------------------------------

@dataclass
class Target:
    """What predict runs: the model file, its kind ("elm" or "trees"), and model.json if there is one."""

    path: Path
    kind: str
    info: MI.ModelInfo | None
    blob: bytes
    model: object  # loader.Model or trees.Trees

    @property
    def classes(self) -> list[str]:
        n = self.n_outputs
        names = list(self.info.classes) if self.info else []
        return names if len(names) == n else [f"class {i}" for i in range(n)]

    @property
    def n_outputs(self) -> int:
        if self.kind == "trees":
            return self.model.n_classes
        t = self.model.outputs[0]
        return int(np.prod(t.shape)) if t.shape else 1

    @property
    def task(self) -> str | None:
        return self.info.task if self.info else None


def _info_beside(path: Path) -> MI.ModelInfo | None:
    """model.json next to a bare model file, when it describes that very file."""
    if not (path.parent / MI.FILE_NAME).is_file():
        return None
    info = MI.load(path.parent)
    return info if info.model.get("file") == path.name else None


def open_target(model: str | Path) -> Target:
    """A model folder (model.json names the file) or a model file (.elm, or an emlearn trees .csv)."""
    path = Path(model)
    if path.is_dir():
        info = MI.load(path)
        path = path / info.model["file"]
        if not path.is_file():
            raise ModelError(f"{path} is missing (model.json names it); the model folder is incomplete")
    elif path.is_file():
        info = _info_beside(path)
    else:
        raise ModelError(f"no model at {path}: pass a model folder (model file + model.json, as "
                         "`edgeloop train` writes) or a file made by `edgeloop convert` (.elm, trees .csv)")
    blob = _read_model(path)
    if blob[:4] == F.MAGIC:
        return Target(path, "elm", info, blob, open_model(blob, str(path)))
    if path.suffix.lower() == ".csv" or (info and info.kind == "trees"):
        from edgeloop_fw import trees

        try:
            text = blob.decode("utf-8")
        except UnicodeDecodeError:
            raise ModelError(f"{path} is not a trees CSV (not text); convert the model with "
                             "`edgeloop convert`") from None
        with model_errors(path):
            return Target(path, "trees", info, blob, trees.parse(text.splitlines()))
    raise ModelError(f"{path} is not an edgeloop model (no EDLM header, not a trees .csv); "
                     "convert it with `edgeloop convert`")


# -- the input ---------------------------------------------------------------

def read_input(path: str | Path):
    """An input file as a numeric array (.npy, .npz with one array, .csv), or a Replay (.wav)."""
    path = Path(path)
    kind = path.suffix.lower()
    if kind not in INPUT_KINDS:
        raise InputError(f"{path}: unknown input type {path.suffix or '(no suffix)'!r}; "
                         f"use {', '.join(INPUT_KINDS)}")
    if not path.is_file():
        raise InputError(f"input {path} does not exist")
    if kind == ".wav":
        from edgeloop.sim.replay import ReplayError, wav

        try:
            return wav(path)
        except ReplayError as e:
            raise InputError(str(e)) from None
    x = _read_csv(path) if kind == ".csv" else _read_numpy(path, kind)
    if x.dtype.kind not in "iuf" or x.dtype.itemsize > 8:
        raise InputError(f"{path} holds {x.dtype} values; predict takes numbers (int8 tensors, "
                         "sensor windows)")
    if x.size == 0:
        raise InputError(f"{path} holds no values (shape {list(x.shape)}); save the window or tensor "
                         "the model should run on")
    if x.dtype.kind == "f" and not np.all(np.isfinite(x)):
        raise InputError(f"{path} holds NaN or infinite values; a sensor window is finite numbers")
    return x


def _read_numpy(path: Path, kind: str) -> np.ndarray:
    head = path.read_bytes()[:6]
    if kind == ".npy" and head != b"\x93NUMPY":
        raise InputError(f"{path} is not a .npy file (no NumPy header); save arrays with numpy.save, "
                         "or pass a .csv")
    if kind == ".npz" and head[:4] != b"PK\x03\x04":
        raise InputError(f"{path} is not a .npz file (not a zip archive); save arrays with numpy.savez")
    try:
        loaded = np.load(path, allow_pickle=False)
        if kind == ".npz":
            with loaded:
                names = list(loaded.files)
                if len(names) != 1:
                    raise InputError(f"{path} holds {len(names)} arrays ({', '.join(names) or 'none'}); "
                                     "predict takes one: save it alone with numpy.save as .npy")
                return loaded[names[0]]
        return loaded
    except InputError:
        raise
    except Exception as e:  # numpy raises ValueError, OSError, EOFError, zipfile errors...
        raise InputError(f"cannot read {path}: {str(e).splitlines()[0] if str(e) else type(e).__name__}") from None


def _read_csv(path: Path) -> np.ndarray:
    """Rows of numbers (a first row of column names is skipped): one line per frame."""
    import csv

    try:
        text = path.read_text("utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise InputError(f"cannot read {path} as text: {e}") from None
    rows = [r for r in csv.reader(text.splitlines()) if r and any(c.strip() for c in r)]
    out = []
    for n, row in enumerate(rows, 1):
        try:
            out.append([float(c) for c in row])
        except ValueError:
            if n == 1 and len(rows) > 1:
                continue  # column names
            bad = next(c for c in row if not _is_number(c))
            raise InputError(f"{path} line {n}: {bad.strip()!r} is not a number; a .csv input is one "
                             "frame of numbers per line") from None
    if not out:
        return np.zeros((0,), np.float64)
    widths = {len(r) for r in out}
    if len(widths) != 1:
        raise InputError(f"{path}: rows have {', '.join(str(w) for w in sorted(widths))} columns; "
                         "every frame needs the same channels")
    x = np.array(out, dtype=np.float64)
    if np.all(np.isfinite(x)) and np.all(x == np.round(x)):
        x = x.astype(np.int64)  # whole numbers: a tensor's int8 values, or a sensor's counts
    return x[0] if len(x) == 1 else x


def _is_number(text: str) -> bool:
    try:
        float(text)
        return True
    except ValueError:
        return False


def _to_board_units(x: np.ndarray) -> np.ndarray:
    """Values already in the board's units -> the int16 the sensor driver would give
    (features.to_units: half away from zero, saturated), so predict sees what the board sees."""
    if x.dtype.kind in "iu":
        return np.clip(x, -32768, 32767).astype(np.int16)
    from edgeloop_fw.features import to_units

    return np.array([to_units(v, 1) for v in x.ravel().tolist()], np.int16).reshape(x.shape)


def _windows(x: np.ndarray, window: int | None, channels: int, what: str) -> np.ndarray:
    """(N, window, channels) from one window or a batch of them."""
    if x.ndim == 1 and channels == 1:
        x = x.reshape(-1, 1)
    if x.ndim == 2:
        x = x.reshape((1,) + x.shape)
    ok = x.ndim == 3 and x.shape[2] == channels and (window is None or x.shape[1] == window) and x.shape[1] >= 2
    if not ok:
        want = f"{window if window else 'frames'} x {channels}"
        raise InputError(f"input has shape {list(x.shape)}; {what} takes a window of {want} "
                         f"(frames x channels), or a batch of them along a first axis")
    return x


# -- from an input to the model's rows ----------------------------------------

def model_rows(target: Target, x) -> tuple[list[bytes], str]:
    """The input as the model's input rows (bytes each) and a line saying how they were made."""
    from edgeloop.sim.replay import Replay

    if isinstance(x, Replay):
        return _audio_rows(target, x)
    if target.kind == "trees":
        return _tree_rows(target, x)
    info = target.info
    if x.dtype == np.int8 or info is None or info.task != "gesture":
        rows = batch_rows(_as_int8(x, target), target.model)
        return [np.ascontiguousarray(r).tobytes() for r in rows], "the model's int8 input tensor as given"
    inp = info.model.get("input") or {}
    t = target.model.inputs[0]
    if "multiplier" not in inp or int(inp.get("zero_point", t.zero_point)) != t.zero_point:
        raise ModelError(f"{target.path.parent / MI.FILE_NAME} does not state this model's input scaling "
                         "(model.input.multiplier, zero_point); retrain with `edgeloop train gesture`")
    from edgeloop_fw.features import quantize_window

    channels = len(info.channels or []) or t.shape[-1]
    w = _windows(x, int(info.window), channels, "this gesture model")
    units = "/".join(dict.fromkeys(info.units or ["board units"]))
    rows = []
    for win in _to_board_units(w):
        q = quantize_window(array("h", win.astype("<i2").tobytes()), bytearray(t.nbytes),
                            int(inp["multiplier"]), t.zero_point)
        rows.append(bytes(q))
    return rows, (f"{len(rows)} window(s) of {w.shape[1]} frames x {channels} channels in {units}, "
                  f"quantized as the board does (features.quantize_window)")


def _as_int8(x: np.ndarray, target: Target) -> np.ndarray:
    """An int8 tensor from an int8 array, or from integers in -128..127 (a .csv of features)."""
    if x.dtype == np.int8:
        return x
    if x.dtype.kind in "iu" and x.min() >= -128 and x.max() <= 127:
        return x.astype(np.int8)
    t = target.model.inputs[0]
    hint = ("a gesture model folder (model.json) takes raw sensor windows; " if target.task != "keyword" else
            "a keyword model takes a 16 kHz .wav; ")
    raise InputError(f"input is {x.dtype}; the model takes int8 {list(t.shape)} (scale {t.scale:.6g}, zero "
                     f"point {t.zero_point}): {hint}or quantize with round(x / scale) + zero point")


def batch_rows(x: np.ndarray, model: Model) -> np.ndarray:
    """Validate `x` against input 0; return it as (N, *input shape) int8 rows."""
    t = model.inputs[0]
    want = F.DTYPE_NAMES.get(t.dtype, "?")
    shape = tuple(t.shape)
    expect = (f"the model takes {want} {list(shape)} (scale {t.scale:.6g}, zero point {t.zero_point}), "
              f"or a batch of them along the first axis")
    if x.dtype != np.dtype(want):
        raise InputError(f"input is {x.dtype}; {expect}; quantize with round(x / scale) + zero point")
    n = int(np.prod(shape)) if shape else 1
    if tuple(x.shape) == shape or (x.size == n and x.ndim < len(shape)):
        return x.reshape((1,) + shape)
    if shape and shape[0] == 1 and tuple(x.shape[1:]) == shape[1:] and x.shape[0] >= 1:
        return x.reshape((x.shape[0],) + shape)
    raise InputError(f"input has shape {list(x.shape)}; {expect}")


def _audio_rows(target: Target, rec) -> tuple[list[bytes], str]:
    """A .wav through the board's own front end: one clip per model input, each from a reset front end
    (as training and the model card score clips)."""
    from edgeloop_fw.audio import AudioFrontend, frame_count

    if target.kind != "elm" or target.task not in (None, "keyword"):
        raise InputError(f"a .wav is audio, and {target.path.name} is a {target.task or 'trees'} model; "
                         "pass a sensor window as .npy or .csv")
    fe = AudioFrontend()
    t = target.model.inputs[0]
    nch = fe.num_channels
    frames = t.nbytes // nch
    dims = [d for d in t.shape if d != 1]  # [1, 49, 40, 1] is 49 frames of 40 channels
    if t.dtype != F.DTYPE_INT8 or frames * nch != t.nbytes or (dims and dims[-1] != nch):
        raise InputError(f"{target.path.name} takes {t.describe()}, not {nch}-channel audio features; "
                         "a .wav fits only a keyword model")
    rate = float(target.info.rate_hz) if target.info else 16000.0
    if rec.rate_hz != rate:
        raise InputError(f"the .wav is at {rec.rate_hz:g} Hz; the model's front end takes {rate:g} Hz mono 16-bit "
                         f"(resample with `sox in.wav -r {rate:g} out.wav`)")
    need = (frames - 1) * fe.STRIDE + fe.frame_length  # the fewest samples that give `frames` frames
    clip = int(rate) if frame_count(int(rate)) == frames else need  # micro_speech's one-second clips
    pcm = rec.data.reshape(-1)
    if len(pcm) < need:
        raise InputError(f"the .wav has {len(pcm)} samples ({len(pcm) / rate:.2f} s); the model needs "
                         f"{need} ({need / rate:.2f} s) for its {frames} front-end frames")
    starts = range(0, len(pcm) - need + 1, clip)
    rows = [bytes(b & 0xFF for b in fe.clip_features(array("h", pcm[s:s + clip].astype("<i2").tobytes())))
            for s in starts]
    left = len(pcm) - (starts[-1] + clip)
    return rows, (f"{len(rows)} clip(s) of {clip / rate:g} s through the board's audio front end "
                  f"(edgeloop_fw.audio, {frames} x {nch} features each)"
                  + (f"; the last {left / rate:.2f} s (less than a clip) not run" if left > 0 else ""))


def _tree_rows(target: Target, x: np.ndarray) -> tuple[list[bytes], str]:
    """Raw sensor windows -> the int16 summary features the board computes (features.window_features)."""
    from edgeloop_fw.features import n_window_features, window_features

    nf = target.model.n_features
    info = target.info
    channels = len(info.channels) if info and info.channels else \
        next((c for c in range(1, nf + 1) if n_window_features(c) == nf), 0)
    if not channels or n_window_features(channels) != nf:
        raise ModelError(f"{target.path.name} takes {nf} features, which no sensor window gives "
                         "(edgeloop_fw.features.window_features); is it an edgeloop gesture trees model?")
    w = _windows(x, int(info.window) if info else None, channels, "this trees model")
    out = array("h", bytes(2 * nf))
    rows = []
    for win in _to_board_units(w):
        window_features(array("h", win.astype("<i2").tobytes()), channels, out)
        rows.append(out.tobytes())
    return rows, (f"{len(rows)} window(s) of {w.shape[1]} frames x {channels} channels, summarized by "
                  f"the board's window_features into {nf} features each")


# -- running -----------------------------------------------------------------

@dataclass
class Prediction:
    target: Target
    raw: np.ndarray  # the output tensor (elm: int8 as the model gives it) or the votes (trees), per row
    scores: np.ndarray  # (rows, classes) floats: dequantized outputs, or vote shares
    how: str  # how the input became the model's rows
    where: str  # "this computer" or the port
    latency_us: list[float] = field(default_factory=list)  # per row: the board's clock around the model, averaged over repeats

    @property
    def classes(self) -> list[str]:
        return self.target.classes


def _scores(target: Target, outs: list[bytes]) -> tuple[np.ndarray, np.ndarray]:
    if target.kind == "trees":
        votes = np.array([np.frombuffer(o, "<u2") for o in outs], np.int64)
        return votes, votes / max(1, len(target.model.roots))
    t = target.model.outputs[0]
    dt = np.dtype(F.DTYPE_NAMES[t.dtype])
    rows = [np.frombuffer(o, dt).reshape(t.shape) for o in outs]
    raw = rows[0] if len(rows) == 1 else np.concatenate(rows, axis=0) if t.shape and t.shape[0] == 1 \
        else np.stack(rows)
    flat = np.array([r.reshape(-1) for r in rows], np.float64)
    scores = (flat - t.zero_point) * t.scale if t.scale else flat
    return raw, scores


def _run_host(target: Target, rows: list[bytes], progress: Progress | None) -> list[bytes]:
    outs = []
    if target.kind == "trees":
        m = target.model
        for i, r in enumerate(rows):
            outs.append(bytes(m.predict_votes(array("h", r))))
            if progress:
                progress(i + 1, len(rows))
        return outs
    from edgeloop_fw.runtime.interpreter import Interpreter

    with model_errors(target.path):
        interp = Interpreter(target.model)
    for i, r in enumerate(rows):
        interp.set_input(r)
        interp.invoke()
        outs.append(bytes(interp.get_output()))
        if progress:
            progress(i + 1, len(rows))
    return outs


# The board side: an exec that checks the runtime is there, one that makes `_elpredict` (the model
# opened once), one per row, and one that deletes it. Nothing else is left in the REPL's globals, so
# repeated calls do not grow the heap; the modules imported stay, as the app's own imports would.
_BOARD_CHECK = """
def _elpredict_check():
    import sys
    if '/lib' not in sys.path:
        sys.path.append('/lib')
    import edgeloop_fw.{module}
try:
    _elpredict_check()
finally:
    del _elpredict_check
"""
_BOARD_OPEN = """
def _elpredict_open(path, kind):
    from binascii import hexlify, unhexlify
    try:
        from edgeloop_fw.port import ticks_us, ticks_diff
    except ImportError:  # a board given the runtime alone (MicroPython's own clock then)
        from time import ticks_us, ticks_diff
    if kind == 'trees':
        from array import array
        from edgeloop_fw import trees
        m = trees.load(path, native=False)
        def prep(b):
            return array('h', b)
        go = m.predict_votes
        f = None
    else:
        from edgeloop_fw.runtime.loader import Model
        from edgeloop_fw.runtime.interpreter import Interpreter
        f = open(path, 'rb')
        try:
            it = Interpreter(Model(f))
        except Exception:
            f.close()
            raise
        def prep(b):
            return b
        def go(b):
            it.set_input(b)
            it.invoke()
            return it.get_output()
    # An .elm inference allocates its output, and a board may collect garbage only between
    # executions: at most 1000 of them. Trees vote into one buffer: as many as 20 ms take (a
    # shallow tree runs 1000 times inside the virtual board's 1 ms tick, which timed it as 0).
    cap = 1000000 if kind == 'trees' else 1000
    def run(h):
        # Repeated until 20 ms have passed: some boards' clocks (the virtual board's) tick in ms.
        b = prep(unhexlify(h))
        n = 0
        t = ticks_us()
        while True:
            y = go(b)
            n += 1
            dt = ticks_diff(ticks_us(), t)
            if dt >= 20000 or n >= cap:
                break
        print(hexlify(bytes(y)).decode(), dt, n)
    return run, f
try:
    _elpredict = _elpredict_open({path!r}, {kind!r})
finally:
    del _elpredict_open
"""
_BOARD_CLOSE = """
try:
    if _elpredict[1] is not None:
        _elpredict[1].close()
    del _elpredict
except NameError:
    pass
__import__('gc').collect()
"""


def model_on_board(dev, port: str, target: Target) -> str:
    """The board's path of the model, copied to /models/ if it changed (hash-checked, atomic), once
    the board's runtime is known to be there (DeviceError in one line if not)."""
    from edgeloop.deploy.firmware import MODELS, model_files
    from edgeloop.deploy.plan import deploy_files
    from edgeloop.link.device import BoardException

    module = "trees" if target.kind == "trees" else "runtime.interpreter"
    try:
        dev.exec(_BOARD_CHECK.format(module=module), timeout=60)
    except BoardException:
        raise DeviceError(f"the board at {port} has no edgeloop runtime; "
                          f"run `edgeloop deploy --port {port}` first") from None
    deploy_files(dev, model_files([target.path]), group="models")
    return f"{MODELS}/{target.path.name}"


def _run_board(port: str, target: Target, rows: list[bytes], progress: Progress | None) -> tuple[list[bytes], list[int]]:
    """Copy the model to the board and run each row there."""
    from edgeloop.link.device import BoardException, Device

    outs, lat = [], []
    with Device(port) as dev:
        remote = model_on_board(dev, port, target)
        try:
            try:
                dev.exec(_BOARD_OPEN.format(path=remote, kind=target.kind), timeout=60)
            except BoardException as e:
                raise ModelError(f"the board refused {remote}: {e}") from None
            for i, r in enumerate(rows):
                out = dev.exec(f"_elpredict[0]({r.hex()!r})", timeout=120).decode().split()
                outs.append(bytes.fromhex(out[0]))
                lat.append(int(out[1]) / int(out[2]))
                if progress:
                    progress(i + 1, len(rows))
        finally:
            with contextlib.suppress(DeviceError):
                dev.exec(_BOARD_CLOSE, timeout=30)
    return outs, lat


def run(target: Target, x, *, port: str | None = None, progress: Progress | None = None) -> Prediction:
    """One prediction per input row, on this computer or on the board at `port`."""
    rows, how = model_rows(target, x)
    if port:
        outs, lat = _run_board(port, target, rows, progress)
    else:
        outs, lat = _run_host(target, rows, progress), []
    raw, scores = _scores(target, outs)
    return Prediction(target, raw, scores, how, port or "this computer", lat)


def predict(model: str | Path, x, *, port: str | None = None, progress: Progress | None = None) -> np.ndarray:
    """The raw output (int8 tensor, or votes for trees) of `model` (folder or file) for input `x`."""
    return run(open_target(model), x, port=port, progress=progress).raw
