"""Read TFLM's audio preprocessor model and write the board's front-end parameters.

The micro_speech front end is a .tflite graph of TFLM signal-library custom ops
(SignalWindow … SignalFilterBankLog) followed by a few int32 builtins that map
the log energies to int8. Every number those ops use lives in the model: the
window, the mel filterbank tables and the PCAN gain LUT as constant tensors,
the scalars as flexbuffer custom options. This module walks the graph, checks
it has exactly the shape the on-board front end implements, and writes the
scalars to a small generated Python module and the tables to a binary file
beside it, which the board reads straight into preallocated arrays (a bytes
constant would sit on the heap next to the array made from it).

Two tables are not in the model because TFLM compiles them in: KissFFT's int16
twiddles (``floor(0.5 + 32767 * cos/sin(phase))`` in double precision, computed
here so a single-precision board never has to) and the 129-entry log2
correction LUT of ``signal/src/log.cc`` (``round(65536 * (log2(1 + i/128) -
i/128))``). Both are derived by their formulas; the bit-exact feature tests
against TFLM prove them.
"""

from __future__ import annotations

import hashlib
import math
import struct
from pathlib import Path

import flatbuffers
from flatbuffers import flexbuffers

from edgeloop.errors import ModelError

# TFLite builtin operator codes used by the preprocessor graph.
_CUSTOM, _ADD, _CONCATENATION, _MUL, _RESHAPE, _DIV = 32, 0, 2, 18, 22, 42
_STRIDED_SLICE, _CAST, _MAXIMUM, _MINIMUM = 45, 53, 55, 57
# TFLite tensor types -> struct format of one element.
_TYPES = {2: "i", 7: "h", 9: "b", 12: "Q", 15: "I", 3: "B", 4: "q"}
_INT16, _INT8 = 7, 9

FORMAT_VERSION = 3  # 3: tables in a binary file beside the module


# -- a minimal TFLite flatbuffer reader (only the fields this graph needs) ----

def _table(buf: bytes, pos: int) -> flatbuffers.table.Table:
    return flatbuffers.table.Table(buf, pos)


def _field(tab, slot: int) -> int:
    return tab.Offset(4 + 2 * slot)


def _scalar(tab, slot: int, flags, default=0):
    off = _field(tab, slot)
    return tab.Get(flags, off + tab.Pos) if off else default


def _vector_tables(tab, slot: int) -> list:
    off = _field(tab, slot)
    if not off:
        return []
    start = tab.Vector(off)
    return [_table(tab.Bytes, tab.Indirect(start + 4 * i)) for i in range(tab.VectorLen(off))]


def _vector_ints(tab, slot: int) -> list[int]:
    off = _field(tab, slot)
    if not off:
        return []
    start = tab.Vector(off)
    return list(struct.unpack_from("<%di" % tab.VectorLen(off), tab.Bytes, start))


def _vector_bytes(tab, slot: int) -> bytes:
    off = _field(tab, slot)
    if not off:
        return b""
    start = tab.Vector(off)
    return bytes(tab.Bytes[start:start + tab.VectorLen(off)])


def _string(tab, slot: int) -> str:
    off = _field(tab, slot)
    return tab.String(off + tab.Pos).decode() if off else ""


class _Tensor:
    def __init__(self, name, shape, ttype, data):
        self.name, self.shape, self.type, self.data = name, shape, ttype, data

    def values(self) -> list[int]:
        fmt = _TYPES.get(self.type)
        if fmt is None or not self.data:
            raise ModelError("tensor %r holds no constant the front end can read" % self.name)
        return list(struct.unpack("<%d%s" % (len(self.data) // struct.calcsize(fmt), fmt), self.data))


class _Op:
    def __init__(self, builtin, custom, inputs, outputs, options):
        self.builtin, self.custom = builtin, custom
        self.inputs, self.outputs, self.options = inputs, outputs, options

    @property
    def name(self) -> str:
        return self.custom or "builtin %d" % self.builtin


def _read_graph(buf: bytes):
    model = _table(buf, flatbuffers.encode.Get(flatbuffers.packer.uoffset, buf, 0))
    codes = []
    for oc in _vector_tables(model, 1):
        builtin = max(_scalar(oc, 0, flatbuffers.number_types.Int8Flags),
                      _scalar(oc, 3, flatbuffers.number_types.Int32Flags))
        codes.append((builtin, _string(oc, 1)))
    buffers = []
    for b in _vector_tables(model, 4):
        data = _vector_bytes(b, 0)
        offset = _scalar(b, 1, flatbuffers.number_types.Uint64Flags)
        if not data and offset > 1:
            size = _scalar(b, 2, flatbuffers.number_types.Uint64Flags)
            data = bytes(buf[offset:offset + size])
        buffers.append(data)
    subgraphs = _vector_tables(model, 2)
    if len(subgraphs) != 1:
        raise ModelError("expected one subgraph in the audio preprocessor, found %d" % len(subgraphs))
    sg = subgraphs[0]
    tensors = []
    for t in _vector_tables(sg, 0):
        bi = _scalar(t, 2, flatbuffers.number_types.Uint32Flags)
        tensors.append(_Tensor(_string(t, 3), _vector_ints(t, 0),
                               _scalar(t, 1, flatbuffers.number_types.Int8Flags),
                               buffers[bi] if bi < len(buffers) else b""))
    ops = []
    for o in _vector_tables(sg, 3):
        builtin, custom = codes[_scalar(o, 0, flatbuffers.number_types.Uint32Flags)]
        raw = _vector_bytes(o, 5)
        options = flexbuffers.Loads(raw) if (custom and raw) else {}
        ops.append(_Op(builtin, custom, _vector_ints(o, 1), _vector_ints(o, 2), options))
    return tensors, ops, _vector_ints(sg, 1), _vector_ints(sg, 2)


# -- the graph walk -------------------------------------------------------------

class _Walk:
    """Consume ops in order, failing with a message that names the surprise."""

    def __init__(self, tensors, ops):
        self.tensors, self.ops, self.i = tensors, ops, 0

    def take(self, custom=None, builtin=None) -> _Op:
        want = custom or "builtin %d" % builtin
        if self.i >= len(self.ops):
            raise ModelError("audio preprocessor ends early: expected %s" % want)
        op = self.ops[self.i]
        if (custom and op.custom != custom) or (builtin is not None and (op.custom or op.builtin != builtin)):
            raise ModelError("audio preprocessor op %d is %s, expected %s; only TFLM's micro_speech "
                             "front-end graph is supported" % (self.i, op.name, want))
        self.i += 1
        return op

    def const(self, index: int) -> list[int]:
        return self.tensors[index].values()

    def scalar(self, index: int) -> int:
        v = self.const(index)
        if len(v) != 1:
            raise ModelError("tensor %r should be a scalar" % self.tensors[index].name)
        return v[0]


def extract(model_path: str | Path) -> dict:
    """Every parameter of the preprocessor graph, checked against the op chain."""
    path = Path(model_path)
    try:
        buf = path.read_bytes()
        tensors, ops, inputs, outputs = _read_graph(buf)
    except ModelError:
        raise
    except Exception as e:  # noqa: BLE001 - any parse failure means "not a tflite file"
        raise ModelError("cannot read %s as a TFLite model (%s); pass "
                         "audio_preprocessor_int8.tflite" % (path, e)) from None
    w = _Walk(tensors, ops)
    p: dict = {"source": path.name, "sha256": hashlib.sha256(buf).hexdigest()}

    op = w.take("SignalWindow")
    if tensors[op.inputs[0]].type != _INT16:
        raise ModelError("the audio preprocessor must take int16 audio")
    p["window"] = w.const(op.inputs[1])
    p["window_shift"] = op.options["shift"]
    p["frame_length"] = len(p["window"])
    if w.i < len(ops) and ops[w.i].builtin == _RESHAPE and not ops[w.i].custom:
        w.take(builtin=_RESHAPE)
    scale = w.take("SignalFftAutoScale")
    op = w.take("SignalRfft")
    if op.options.get("T") != _INT16:
        raise ModelError("only the int16 SignalRfft is supported")
    p["fft_length"] = op.options["fft_length"]
    op = w.take("SignalEnergy")
    start, end = op.options["start_index"], op.options["end_index"]
    # CAST, STRIDED_SLICE [start:end], CONCATENATION with zeros: keep only the
    # bins Energy wrote (the rest of its output tensor is uninitialised arena).
    w.take(builtin=_CAST)
    op = w.take(builtin=_STRIDED_SLICE)
    begin, stop, stride = (w.scalar(i) for i in op.inputs[1:4])
    op = w.take(builtin=_CONCATENATION)
    pad_before = len(w.const(op.inputs[0]))
    pad_after = len(w.const(op.inputs[2]))
    if (stride != 1 or begin != pad_before or begin < start or stop > end
            or any(w.const(op.inputs[0])) or any(w.const(op.inputs[2]))
            or pad_before + (stop - begin) + pad_after != p["fft_length"] // 2 + 1):
        raise ModelError("unexpected energy slicing in the audio preprocessor")
    p["energy_start"], p["energy_end"] = begin, stop
    w.take(builtin=_CAST)
    op = w.take("SignalFilterBank")
    p["num_channels"] = op.options["num_channels"]
    names = ("fb_weights", "fb_unweights", "fb_freq_starts", "fb_weight_starts", "fb_widths")
    for name, index in zip(names, op.inputs[1:6]):
        p[name] = w.const(index)
    if min(p["fb_weights"] + p["fb_unweights"]) < 0:
        raise ModelError("negative filterbank weights are not supported")
    op = w.take("SignalFilterBankSquareRoot")
    if op.inputs[1] != scale.outputs[1]:
        raise ModelError("the square root must undo the FFT auto-scale")
    op = w.take("SignalFilterBankSpectralSubtraction")
    p["spectral_subtraction"] = {k: int(v) for k, v in op.options.items()}
    noise = op.outputs[1]
    op = w.take("SignalPCAN")
    if op.inputs[1] != noise:
        raise ModelError("PCAN must use the spectral-subtraction noise estimate")
    p["pcan_lut"] = w.const(op.inputs[2])
    p["pcan_snr_shift"] = op.options["snr_shift"]
    op = w.take("SignalFilterBankLog")
    p["log_correction_bits"] = op.options["input_correction_bits"]
    p["log_output_scale"] = op.options["output_scale"]
    # int32 tail: out = clamp((x * mul + add) // div + offset, lo, hi) as int8.
    w.take(builtin=_CAST)
    for key, code in (("out_mul", _MUL), ("out_add", _ADD), ("out_div", _DIV),
                      ("out_offset", _ADD), ("out_max", _MINIMUM), ("out_min", _MAXIMUM)):
        op = w.take(builtin=code)
        p[key] = w.scalar(op.inputs[1])
    op = w.take(builtin=_CAST)
    if tensors[op.outputs[0]].type != _INT8 or w.i != len(ops) or outputs != op.outputs:
        raise ModelError("the audio preprocessor must end in one int8 output")
    if p["out_div"] <= 0:
        raise ModelError("the output divisor must be positive")
    p["fft_twiddles"], p["fft_super_twiddles"] = kiss_twiddles(p["fft_length"])
    p["log_lut"] = log_lut()
    return p


def kiss_twiddles(fft_length: int) -> tuple[list[int], list[int]]:
    """KissFFT int16 twiddles for a real FFT: (complex FFT of n/2, real-split)."""
    n = fft_length // 2

    def cexp(phase):
        return [int(math.floor(0.5 + 32767 * math.cos(phase))),
                int(math.floor(0.5 + 32767 * math.sin(phase)))]

    tw, sup = [], []
    for i in range(n):
        tw += cexp(-2 * math.pi * i / n)
    for i in range(n // 2):
        sup += cexp(-math.pi * ((i + 1) / n + 0.5))
    return tw, sup


def log_lut() -> list[int]:
    """The log2(1+f) - f correction table of TFLM's Log32, 128 segments + end."""
    return [round(65536 * (math.log2(1 + i / 128) - i / 128)) for i in range(129)] + [0]


# -- the generated module and its table file ----------------------------------

# (module name, extract() key, typecode) in the table file's order. The FFT
# twiddles are split into real and imaginary tables, as the FFT reads them.
_TABLES = (("WINDOW", "window", "h"), ("FB_WEIGHTS", "fb_weights", "h"),
           ("FB_UNWEIGHTS", "fb_unweights", "h"), ("FB_FREQ_STARTS", "fb_freq_starts", "h"),
           ("FB_WEIGHT_STARTS", "fb_weight_starts", "h"), ("FB_WIDTHS", "fb_widths", "h"),
           ("PCAN_LUT", "pcan_lut", "h"), ("FFT_TW_RE", "fft_tw_re", "h"),
           ("FFT_TW_IM", "fft_tw_im", "h"), ("FFT_SUPER_RE", "fft_super_re", "h"),
           ("FFT_SUPER_IM", "fft_super_im", "h"), ("LOG_LUT", "log_lut", "H"))


def _tables(p: dict) -> dict:
    t = dict(p)
    t["fft_tw_re"], t["fft_tw_im"] = p["fft_twiddles"][0::2], p["fft_twiddles"][1::2]
    t["fft_super_re"], t["fft_super_im"] = p["fft_super_twiddles"][0::2], p["fft_super_twiddles"][1::2]
    return t


def render_tables(p: dict) -> bytes:
    """The table file: every table little-endian, back to back, in _TABLES order."""
    t = _tables(p)
    return b"".join(struct.pack("<%d%s" % (len(t[key]), tc), *t[key]) for _, key, tc in _TABLES)


def render(p: dict, table_file: str = "micro_speech_params.bin") -> str:
    """The text of the generated parameter module (deterministic).

    The tables are not in it: a bytes constant in a .py/.mpy is copied onto
    the board's heap at import and stays there next to the arrays made from
    it. The board reads `table_file` (beside the module) straight into arrays.
    """
    ss = p["spectral_subtraction"]
    t = _tables(p)
    lines = [
        '"""micro_speech front-end parameters. GENERATED by edgeloop.convert.audio_params from',
        "%s (sha256 %s)." % (p["source"], p["sha256"]),
        "Do not edit: regenerate with `edgeloop convert audio_preprocessor_int8.tflite --audio-frontend -o THIS.py`.",
        "The tables are in TABLE_FILE beside this module: little-endian arrays back to",
        "back, (name, typecode, count) in TABLES order.",
        '"""',
        "",
        "FORMAT_VERSION = %d" % FORMAT_VERSION,
        "FRAME_LENGTH = %d" % p["frame_length"],
        "WINDOW_SHIFT = %d" % p["window_shift"],
        "FFT_LENGTH = %d" % p["fft_length"],
        "ENERGY_START = %d" % p["energy_start"],
        "ENERGY_END = %d" % p["energy_end"],
        "NUM_CHANNELS = %d" % p["num_channels"],
    ]
    for key in ("smoothing", "one_minus_smoothing", "alternate_smoothing",
                "alternate_one_minus_smoothing", "smoothing_bits", "spectral_subtraction_bits",
                "min_signal_remaining", "clamping"):
        lines.append("SS_%s = %d" % (key.upper(), ss[key]))
    lines += [
        "PCAN_SNR_SHIFT = %d" % p["pcan_snr_shift"],
        "LOG_CORRECTION_BITS = %d" % p["log_correction_bits"],
        "LOG_OUTPUT_SCALE = %d" % p["log_output_scale"],
    ]
    for key in ("out_mul", "out_add", "out_div", "out_offset", "out_min", "out_max"):
        lines.append("%s = %d" % (key.upper(), p[key]))
    lines.append("TABLE_FILE = %r" % table_file)
    lines.append("TABLE_SHA256 = %r" % hashlib.sha256(render_tables(p)).hexdigest())
    lines.append("TABLES = (")
    lines += ["    (%r, %r, %d)," % (name, tc, len(t[key])) for name, key, tc in _TABLES]
    lines.append(")")
    return "\n".join(lines) + "\n"


def write_params(model_path: str | Path, out_path: str | Path) -> Path:
    """Extract the parameters of ``model_path`` into the module ``out_path`` and its table file.

    The table file is ``out_path`` with the suffix ``.bin``. Both are written
    to temporary names first, so a failure leaves neither half-written.
    """
    p = extract(model_path)
    out = Path(out_path)
    bin_path = out.with_suffix(".bin")
    pairs = ((bin_path, render_tables(p)), (out, render(p, bin_path.name).encode()))
    tmps = []
    try:
        for path, data in pairs:
            tmp = path.with_name(path.name + ".tmp")
            tmps.append(tmp)
            tmp.write_bytes(data)
        for (path, _), tmp in zip(pairs, tmps):
            tmp.replace(path)
    finally:
        for tmp in tmps:
            tmp.unlink(missing_ok=True)
    return out
