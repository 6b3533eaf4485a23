"""Check every field of a model file against the file, the arena and the heap.

The loader (loader.py) trusts a file whose hash matches: it has to stay small,
because it runs in the board app's heap at every boot. A hash proves only
that the file was not damaged after it was written, not that whoever wrote it
wrote sense, so a crafted or buggy file (arena 2**31 - 1, a names offset past
the end, a params slice outside the params, a scratch region past the arena)
could still crash the app or make it read outside its buffers. `check` is the
full check, run where a refusal still costs nothing: on the host before a
model is sent (deploy, predict), and on the board on the staged copy before
the deploy swaps it in. Every refusal is a ModelFileError whose message says
which field is wrong and what to do.

The app never imports this module (it would cost RAM on every boot); the
deploy's board-side check copies it next to the staged model and imports it
there (host/edgeloop/deploy/board_check.py).
"""

import struct

from . import format as F
from .loader import ModelFileError, _check_hash, is_wide, kernel_of, read_header
from .opspec import OPS, names

# The largest arena any board we know can hold (ESP32-S3 with 8 MiB PSRAM);
# with no heap given, a bigger arena is a damaged field, not a big model.
MAX_ARENA = 8 * 1024 * 1024
_INT8_LO = -128
_INT8_HI = 127
_SHIFT = 31  # |shift| of a requantization: TFLM's QuantizeMultiplier gives [-31, 30]


class _Refuse(Exception):
    pass


def _fail(fmt, *args):
    raise ModelFileError((fmt % args) + "; convert the model again")


def check(f, heap=None):
    """Check the model file object `f` (binary, seekable) completely; return None or raise.

    `heap` is the bytes the board can give the model (arena plus params); None
    checks only against MAX_ARENA."""
    head, flags, file_size, digest = read_header(f)
    _check_hash(f, F.HASHED_FROM, file_size, digest)
    if flags:
        _fail("header flags 0x%04x are not defined in format version %d", flags, F.FORMAT_VERSION)
    (arena, params_at, n_params, const_at, const_size, n_tensors, n_ops,
     n_in, n_out, names_at, names_size) = struct.unpack_from(F.SUMMARY_FMT, head, F.SUMMARY_AT)
    limit = MAX_ARENA if heap is None else heap
    if arena + 4 * n_params > limit:
        raise ModelFileError("the model needs %d bytes of RAM (arena %d + params %d), more than the %s (%d); "
                             "use a smaller model or a board with more RAM"
                             % (arena + 4 * n_params, arena, 4 * n_params,
                                "board's heap" if heap is not None else "largest board's", limit))
    if n_in < 1 or n_out < 1:
        _fail("the model has %d inputs and %d outputs (at least one of each is needed)", n_in, n_out)
    if n_ops < 1:
        _fail("the model has no ops")
    io_at = F.TABLES_AT + F.TENSOR_SIZE * n_tensors
    ops_at = io_at + 2 * (n_in + n_out)
    tables_end = ops_at + F.OP_SIZE * n_ops
    if tables_end > file_size:
        _fail("the tables (%d tensors, %d ops) run past the end of the file", n_tensors, n_ops)
    if params_at % 4 or params_at < tables_end or params_at + 4 * n_params > file_size:
        _fail("the params area (offset %d, %d values) is not inside the file after the tables",
              params_at, n_params)
    if names_at < params_at + 4 * n_params or names_at + names_size > file_size:
        _fail("the names area (offset %d, %d bytes) is not inside the file after the params",
              names_at, names_size)
    if const_at % F.CONST_ALIGN or const_at < names_at + names_size or const_at + const_size != file_size:
        _fail("the constants area (offset %d, %d bytes) does not end the file after the names",
              const_at, const_size)
    f.seek(F.TABLES_AT)
    tables = f.read(tables_end - F.TABLES_AT)
    m = _Model(f, arena, const_at, const_size)
    for i in range(n_tensors):
        _tensor(m, tables, i, names_at, names_size)
    wide = False
    for i in range(n_tensors):
        wide = wide or tables[i * F.TENSOR_SIZE] == F.DTYPE_INT16
    version = struct.unpack_from(F.HEADER_FMT, head, 0)[1]
    if wide != (version == F.FORMAT_VERSION_16X8):  # the version says whether int16 tensors may appear
        _fail("the model %s int16 tensors but is format version %d", "has" if wide else "has no", version)
    io = struct.unpack_from("<%dH" % (n_in + n_out), tables, io_at - F.TABLES_AT)
    for k, t in enumerate(io):
        if t >= n_tensors:
            _fail("model %s %d is tensor %d of %d", "input" if k < n_in else "output",
                  k if k < n_in else k - n_in, t, n_tensors)
    f.seek(params_at)
    params = struct.unpack("<%di" % n_params, f.read(4 * n_params))
    at = ops_at - F.TABLES_AT
    for i in range(n_ops):
        opcode, ver, start, count, first_in, first_out = struct.unpack_from(F.OP_FMT, tables, at)
        at += F.OP_SIZE
        name = kernel_of(i, opcode, ver, is_wide(tables, n_tensors, first_in, first_out))
        if start + count > n_params:
            _fail("op %d (%s) params %d..%d are past the %d params", i, name, start, start + count, n_params)
        for t in (first_in, first_out):
            if t != 0xFFFF and t >= n_tensors:
                _fail("op %d (%s) names tensor %d of %d", i, name, t, n_tensors)
        try:
            OPS_CHECK[name](m, params[start:start + count], names(name), _fixed(name))
        except _Refuse as e:
            _fail("op %d (%s): %s", i, name, e.args[0])


def check_path(path, heap=None):
    with open(path, "rb") as f:
        check(f, heap)


class _Model:
    __slots__ = ("file", "arena", "const_at", "const_end")

    def __init__(self, f, arena, const_at, const_size):
        self.file, self.arena = f, arena
        self.const_at, self.const_end = const_at, const_at + const_size


def _tensor(m, tables, i, names_at, names_size):
    row = struct.unpack_from(F.TENSOR_FMT, tables, i * F.TENSOR_SIZE)
    dtype, rank, flags = row[0], row[1], row[2]
    what = "tensor %d" % i
    if dtype not in F.DTYPE_SIZES:
        _fail("%s has dtype %d, not one of %s", what, dtype, sorted(F.DTYPE_SIZES))
    if rank > F.MAX_RANK:
        _fail("%s has rank %d (at most %d)", what, rank, F.MAX_RANK)
    if flags & ~(F.TENSOR_INPUT | F.TENSOR_OUTPUT):
        _fail("%s has unknown flags 0x%02x", what, flags)
    n = F.DTYPE_SIZES[dtype]
    for d in row[4:4 + rank]:
        if d < 1:
            _fail("%s has dimension %d", what, d)
        n *= d
        if n > m.arena:
            break
    if row[12] != n:
        _fail("%s is %d bytes by its shape but says %d", what, n, row[12])
    if row[13] + n > m.arena:
        _fail("%s (%d bytes at arena offset %d) is past the %d-byte arena", what, n, row[13], m.arena)
    if row[14] + row[15] > names_size:
        _fail("%s's name (offset %d, %d bytes) is past the %d-byte names area", what, row[14], row[15],
              names_size)
    m.file.seek(names_at + row[14])
    try:
        str(m.file.read(row[15]), "utf-8")
    except UnicodeError:
        _fail("%s's name is not UTF-8", what)


# ---- per-op params ---------------------------------------------------------------------------

def _fixed(op):
    n = 0
    for fld in OPS[op][1]:
        n += 1 if isinstance(fld, str) else fld[1]
    return n


def _need(cond, fmt, *args):
    if not cond:
        raise _Refuse(fmt % args)


def _int8(p, N, *fields):
    for k in fields:
        _need(_INT8_LO <= p[N[k]] <= _INT8_HI, "%s %d is outside int8", k.lower(), p[N[k]])


def _neg_zp(p, N, *fields):
    """Input offsets are minus an int8 zero point: [-127, 128]."""
    for k in fields:
        _need(-_INT8_HI <= p[N[k]] <= -_INT8_LO, "%s %d is not minus an int8 zero point", k.lower(), p[N[k]])


def _pos(p, N, *fields):
    for k in fields:
        _need(p[N[k]] >= 1, "%s is %d (must be at least 1)", k.lower(), p[N[k]])


def _act(p, N):
    _int8(p, N, "ACT_MIN", "ACT_MAX")
    _need(p[N["ACT_MIN"]] <= p[N["ACT_MAX"]], "act_min %d is above act_max %d", p[N["ACT_MIN"]],
          p[N["ACT_MAX"]])


def _arena(m, what, off, n):
    _need(0 <= off and off + n <= m.arena, "%s (%d bytes at arena offset %d) is past the %d-byte arena",
          what, n, off, m.arena)


def _const(m, what, off, n):
    _need(m.const_at <= off and off + n <= m.const_end,
          "%s (%d bytes at file offset %d) is outside the constants area", what, n, off)


def _shift(what, s):
    _need(-_SHIFT <= s <= _SHIFT, "%s %d is outside [-%d, %d]", what, s, _SHIFT, _SHIFT)


def _limbs(p, at, n):
    """n split multipliers from p[at]: m0, m1 in [-2**14, 2**14), m2 in 0..2 (qmath.split)."""
    _need(at + 3 * n <= len(p), "the multiplier limbs run past the op's params")
    for i in range(at, at + 3 * n, 3):
        _need(-0x4000 <= p[i] < 0x4000 and -0x4000 <= p[i + 1] < 0x4000 and 0 <= p[i + 2] <= 2,
              "multiplier limbs %d, %d, %d are not a split int32", p[i], p[i + 1], p[i + 2])


def _per_channel(p, N, fixed, units, tail):
    """The repeated (bias, multiplier, shift) units and quant.limb_tail after them."""
    step = N[tail + "_STEP"]
    at = fixed + step * units
    _need(at < len(p), "%d params, too few for %d channels", len(p), units)
    for c in range(units):
        q = fixed + step * c
        _need(0 <= p[q + N["MULTIPLIER"]], "channel %d multiplier %d is negative", c, p[q + N["MULTIPLIER"]])
        _shift("channel %d shift" % c, p[q + N["SHIFT"]])
    kind = p[at]
    _need(kind in (0, 3), "limb step %d is neither 0 nor 3", kind)
    n = 1 if kind == 0 else units
    _need(len(p) == at + 1 + 3 * n, "%d params, expected %d", len(p), at + 1 + 3 * n)
    _limbs(p, at + 1, n)


def _count(p, n):
    _need(len(p) == n, "%d params, expected %d", len(p), n)


def _fully_connected(m, p, N, fixed):
    _need(len(p) > fixed, "%d params, expected more than %d", len(p), fixed)
    _pos(p, N, "BATCHES", "DEPTH", "UNITS", "CHUNK")
    b, depth, units, chunk = p[N["BATCHES"]], p[N["DEPTH"]], p[N["UNITS"]], p[N["CHUNK"]]
    _need(chunk <= depth, "chunk %d is larger than depth %d", chunk, depth)
    _arena(m, "input", p[N["INPUT"]], b * depth)
    _arena(m, "output", p[N["OUTPUT"]], b * units)
    _arena(m, "scratch", p[N["SCRATCH"]], chunk)
    _const(m, "weights", p[N["WEIGHTS"]], units * depth)
    _int8(p, N, "OUTPUT_OFFSET")
    _act(p, N)
    _per_channel(p, N, fixed, units, "PER_UNIT")


def _conv(m, p, N, fixed, depthwise):
    _need(len(p) > fixed, "%d params, expected more than %d", len(p), fixed)
    _pos(p, N, "BATCHES", "IN_H", "IN_W", "IN_C", "OUT_H", "OUT_W", "OUT_C", "FILTER_H", "FILTER_W",
         "STRIDE_H", "STRIDE_W")
    if "DILATION_H" in N:  # TRANSPOSE_CONV has none
        _pos(p, N, "DILATION_H", "DILATION_W")
    g = [p[N[k]] for k in ("BATCHES", "IN_H", "IN_W", "IN_C", "OUT_H", "OUT_W", "OUT_C", "FILTER_H",
                           "FILTER_W")]
    b, ih, iw, ic, oh, ow, oc, fh, fw = g
    _need(p[N["PAD_H"]] >= 0 and p[N["PAD_W"]] >= 0, "padding %d, %d is negative", p[N["PAD_H"]],
          p[N["PAD_W"]])
    if depthwise:
        _pos(p, N, "DEPTH_MULTIPLIER")
        _need(oc == ic * p[N["DEPTH_MULTIPLIER"]], "out_c %d is not in_c %d x depth_multiplier %d", oc, ic,
              p[N["DEPTH_MULTIPLIER"]])
        taps = fh * fw
    else:
        taps = fh * fw * ic
    _arena(m, "input", p[N["INPUT"]], b * ih * iw * ic)
    _arena(m, "output", p[N["OUTPUT"]], b * oh * ow * oc)
    _arena(m, "scratch", p[N["SCRATCH"]], taps)
    _const(m, "weights", p[N["WEIGHTS"]], oc * taps)
    _neg_zp(p, N, "INPUT_OFFSET")
    _int8(p, N, "OUTPUT_OFFSET")
    _act(p, N)
    _per_channel(p, N, fixed, oc, "PER_CHANNEL")


def _conv_2d(m, p, N, fixed):
    _conv(m, p, N, fixed, False)


def _depthwise_conv_2d(m, p, N, fixed):
    _conv(m, p, N, fixed, True)


def _transpose_conv(m, p, N, fixed):
    _conv(m, p, N, fixed, False)  # same fields as CONV_2D but dilation; the kernel bounds every tap


def _pool_2d(m, p, N, fixed):
    _count(p, fixed)
    _need(p[N["MODE"]] in (0, 1), "mode %d is neither 0 (average) nor 1 (max)", p[N["MODE"]])
    _pos(p, N, "BATCHES", "IN_H", "IN_W", "DEPTH", "OUT_H", "OUT_W", "STRIDE_H", "STRIDE_W", "FILTER_H",
         "FILTER_W")
    b, ih, iw, d, oh, ow = (p[N[k]] for k in ("BATCHES", "IN_H", "IN_W", "DEPTH", "OUT_H", "OUT_W"))
    for axis, size, out in (("H", ih, oh), ("W", iw, ow)):
        pad, stride, flt = p[N["PAD_" + axis]], p[N["STRIDE_" + axis]], p[N["FILTER_" + axis]]
        # every window must overlap the input, or an average divides by zero
        _need(0 <= pad < flt and (out - 1) * stride - pad < size,
              "pool windows along %s (pad %d, filter %d, stride %d, %d outputs) leave the %d inputs",
              axis.lower(), pad, flt, stride, out, size)
    _arena(m, "input", p[N["INPUT"]], b * ih * iw * d)
    _arena(m, "output", p[N["OUTPUT"]], b * oh * ow * d)
    _act(p, N)


def _operands(m, p, N):
    """N, BROADCAST, OUTPUT, INPUT1/2 and their broadcast DIMS/STRIDES (ADD and the ops/binary.py ops)."""
    _pos(p, N, "N")
    n = p[N["N"]]
    _need(p[N["BROADCAST"]] in (0, 1), "broadcast %d is neither 0 nor 1", p[N["BROADCAST"]])
    _arena(m, "output", p[N["OUTPUT"]], n)
    if p[N["BROADCAST"]]:
        dims = p[N["DIMS"]:N["DIMS"] + 4]
        total = 1
        for d in dims:
            _need(d >= 1, "broadcast dimension %d", d)
            total *= d
        _need(total == n, "broadcast dims %s hold %d values, not n = %d", list(dims), total, n)
        for k in ("1", "2"):
            st = p[N["STRIDES" + k]:N["STRIDES" + k] + 4]
            last = 0
            for d, s in zip(dims, st):
                _need(s >= 0, "input%s stride %d is negative", k, s)
                last += (d - 1) * s
            _arena(m, "input" + k, p[N["INPUT" + k]], last + 1)
    else:
        _arena(m, "input1", p[N["INPUT1"]], n)
        _arena(m, "input2", p[N["INPUT2"]], n)


def _add(m, p, N, fixed):
    _count(p, fixed)
    _operands(m, p, N)
    _need(0 <= p[N["LEFT_SHIFT"]] <= 20, "left_shift %d is outside [0, 20]", p[N["LEFT_SHIFT"]])
    for k in ("INPUT1_SHIFT", "INPUT2_SHIFT", "OUTPUT_SHIFT"):
        _shift(k.lower(), p[N[k]])
    _int8(p, N, "OUTPUT_OFFSET")
    _neg_zp(p, N, "INPUT1_OFFSET", "INPUT2_OFFSET")
    _act(p, N)
    _limbs(p, N["LIMBS"], 3)


def _binary(m, p, N, fixed):
    """The fields every ops/binary.py op shares: operands and the constant one's copy."""
    _count(p, fixed)
    _operands(m, p, N)
    size = p[N["CONST_SIZE"]]
    _need(size >= 0, "const_size %d is negative", size)
    if size:
        _const(m, "constant input", p[N["CONST"]], size)
        _arena(m, "constant input's copy", p[N["CONST_TO"]], size)


def _sub(m, p, N, fixed):
    _binary(m, p, N, fixed)
    _need(0 <= p[N["LEFT_SHIFT"]] <= 20, "left_shift %d is outside [0, 20]", p[N["LEFT_SHIFT"]])
    for k in ("INPUT1_SHIFT", "INPUT2_SHIFT", "OUTPUT_SHIFT"):
        _shift(k.lower(), p[N[k]])
    _int8(p, N, "OUTPUT_OFFSET")
    _neg_zp(p, N, "INPUT1_OFFSET", "INPUT2_OFFSET")
    _act(p, N)
    _limbs(p, N["LIMBS"], 3)


def _mul(m, p, N, fixed):
    _binary(m, p, N, fixed)
    _need(-_SHIFT <= p[N["OUTPUT_SHIFT"]] <= 15, "output_shift %d is outside [-31, 15]", p[N["OUTPUT_SHIFT"]])
    _int8(p, N, "OUTPUT_OFFSET")
    _neg_zp(p, N, "INPUT1_OFFSET", "INPUT2_OFFSET")
    _act(p, N)
    _limbs(p, N["LIMBS"], 1)


def _maximum_minimum(m, p, N, fixed):
    _count(p, fixed)
    w = p[N["WIDTH"]]
    _need(w in (1, 2), "width %d is neither 1 (int8) nor 2 (int16)", w)
    if w == 1:
        _binary(m, p, N, fixed)
    else:  # int16: the int8 checks on a model seen in two-byte elements
        _need(p[N["BROADCAST"]] == 1, "int16 values take the strided walk (broadcast 1), not %d",
              p[N["BROADCAST"]])
        wide = _Wide(m)
        wide.arena = m.arena // 2
        q = _halved(p, N, fixed, ("INPUT1", "INPUT2", "OUTPUT", "CONST_TO"))
        _need(q[N["CONST_SIZE"]] % 2 == 0, "const_size %d is not whole int16 values", q[N["CONST_SIZE"]])
        q[N["CONST_SIZE"]] //= 2
        _binary(wide, q, N, fixed)
        if q[N["CONST_SIZE"]]:
            _const(m, "constant input", p[N["CONST"]], p[N["CONST_SIZE"]])
    _need(p[N["MODE"]] in (0, 1), "mode %d is neither 0 (max) nor 1 (min)", p[N["MODE"]])


def _prelu(m, p, N, fixed):
    _binary(m, p, N, fixed)
    for k in ("OUTPUT_SHIFT_1", "OUTPUT_SHIFT_2"):
        _need(-_SHIFT <= p[N[k]] <= 15, "%s %d is outside [-31, 15]", k.lower(), p[N[k]])
    _int8(p, N, "OUTPUT_OFFSET")
    _neg_zp(p, N, "INPUT_OFFSET", "ALPHA_OFFSET")
    _limbs(p, N["LIMBS"], 2)


def _dequantize(m, p, N, fixed):
    _count(p, fixed)
    _pos(p, N, "N")
    n = p[N["N"]]
    _arena(m, "input", p[N["INPUT"]], n)
    _arena(m, "output", p[N["OUTPUT"]], 4 * n)
    _arena(m, "scratch", p[N["SCRATCH"]], 1024)
    _const(m, "table", p[N["TABLE"]], 1024)


def _mean(m, p, N, fixed):
    _count(p, fixed)
    _pos(p, N, "OUTER", "COUNT", "INNER")
    outer, count, inner = p[N["OUTER"]], p[N["COUNT"]], p[N["INNER"]]
    _arena(m, "input", p[N["INPUT"]], outer * count * inner)
    _arena(m, "output", p[N["OUTPUT"]], outer * inner)
    _need(count <= 1 << 22, "count %d would overflow the int32 sum", count)
    _shift("shift", p[N["SHIFT"]])
    _int8(p, N, "OUTPUT_ZP")
    _limbs(p, N["LIMBS"], 1)


def _lut8(m, p, N, fixed):
    _count(p, fixed)
    _pos(p, N, "N")
    n = p[N["N"]]
    _arena(m, "input", p[N["INPUT"]], n)
    _arena(m, "output", p[N["OUTPUT"]], n)
    _arena(m, "scratch", p[N["SCRATCH"]], 256)
    _const(m, "table", p[N["TABLE"]], 256)


def _concatenation(m, p, N, fixed):
    _need(len(p) >= fixed, "%d params, expected at least %d", len(p), fixed)
    _pos(p, N, "OUTER", "N_INPUTS")
    outer, k = p[N["OUTER"]], p[N["N_INPUTS"]]
    step = N["INPUTS_STEP"]
    _count(p, fixed + step * k)
    total = 0
    for i in range(k):
        q = fixed + step * i
        size = p[q + N["SIZE"]]
        _need(size >= 1, "input %d size %d", i, size)
        _arena(m, "input %d" % i, p[q + N["INPUT"]], outer * size)
        total += size
    _arena(m, "output", p[N["OUTPUT"]], outer * total)


def _softmax(m, p, N, fixed):
    _count(p, fixed)
    _pos(p, N, "OUTER", "DEPTH", "COUNT")
    outer, depth, count = p[N["OUTER"]], p[N["DEPTH"]], p[N["COUNT"]]
    _need(depth < 2048, "depth %d: the exp sum would pass 2**30", depth)  # depth * 2**19 < 2**30
    _need(count <= 256, "count %d is above 256", count)
    _arena(m, "input", p[N["INPUT"]], outer * depth)
    _arena(m, "output", p[N["OUTPUT"]], outer * depth)
    _arena(m, "scratch", p[N["SCRATCH"]], 4 * count)
    _const(m, "table", p[N["TABLE"]], 4 * count)
    m.file.seek(p[N["TABLE"]])
    table = struct.unpack("<%di" % count, m.file.read(4 * count))
    # exp(0) rounds to 2**19 after the kernel's >> 12: the largest input alone keeps the sum
    # in [2**19, 2**30), the range its reciprocal works in
    _need(table[0] >= 0x7FFFF800, "the exp table starts at %d, not exp(0) = 2**31 - 1", table[0])
    for v in table:
        _need(v >= 0, "exp table value %d is negative", v)


def _reshape(m, p, N, fixed):
    _count(p, 0)


def _transpose(m, p, N, fixed):
    _count(p, fixed)
    n, last = 1, 0
    for k in range(4):
        d, s = p[N["DIMS"] + k], p[N["STRIDES"] + k]
        _need(d >= 1, "dimension %d is %d", k, d)
        _need(s >= 0, "stride %d is %d", k, s)
        n *= d
        last += (d - 1) * s
        _need(n <= m.arena and last < m.arena, "the transpose is larger than the %d-byte arena", m.arena)
    _arena(m, "input", p[N["INPUT"]], last + 1)
    _arena(m, "output", p[N["OUTPUT"]], n)


def _dims4(p, at, what):
    total = 1
    for d in p[at:at + 4]:
        _need(d >= 1, "%s dimension %d", what, d)
        total *= d
    return total


def _pad(m, p, N, fixed):
    _count(p, fixed)
    w = p[N["WIDTH"]]
    _need(w in (1, 2), "width %d is neither 1 (int8) nor 2 (int16)", w)
    if w == 1:
        _int8(p, N, "VALUE")
    else:
        _need(-32768 <= p[N["VALUE"]] <= 32767, "value %d is not an int16", p[N["VALUE"]])
        for k in ("IN_DIMS", "OUT_DIMS", "BEFORE"):
            _need(p[N[k] + 3] % 2 == 0, "%s's last dimension %d is not whole int16 values", k.lower(), p[N[k] + 3])
    n_in = _dims4(p, N["IN_DIMS"], "input")
    n_out = _dims4(p, N["OUT_DIMS"], "output")
    for k in range(4):
        i, o, b = p[N["IN_DIMS"] + k], p[N["OUT_DIMS"] + k], p[N["BEFORE"] + k]
        _need(0 <= b and b + i <= o, "padding %d before %d inputs leaves the %d outputs", b, i, o)
    _arena(m, "input", p[N["INPUT"]], n_in)
    _arena(m, "output", p[N["OUTPUT"]], n_out)


def _strided_slice(m, p, N, fixed):
    _count(p, fixed)
    n = _dims4(p, N["COUNTS"], "output")
    _arena(m, "output", p[N["OUTPUT"]], n)
    # the lowest and highest byte read, from the first element and each dimension's reach
    lo = hi = p[N["INPUT"]] + p[N["START"]]
    for k in range(4):
        reach = (p[N["COUNTS"] + k] - 1) * p[N["STEPS"] + k]
        if reach < 0:
            lo += reach
        else:
            hi += reach
    _need(p[N["INPUT"]] <= lo, "the slice reads before its input")
    _arena(m, "input", lo, hi - lo + 1)


def _split(m, p, N, fixed):
    _need(len(p) >= fixed, "%d params, expected at least %d", len(p), fixed)
    _pos(p, N, "OUTER", "N_OUTPUTS")
    outer, k = p[N["OUTER"]], p[N["N_OUTPUTS"]]
    step = N["OUTPUTS_STEP"]
    _count(p, fixed + step * k)
    total = 0
    for i in range(k):
        q = fixed + step * i
        size = p[q + N["SIZE"]]
        _need(size >= 1, "output %d size %d", i, size)
        _arena(m, "output %d" % i, p[q + N["OUTPUT"]], outer * size)
        total += size
    _arena(m, "input", p[N["INPUT"]], outer * total)


def _gather(m, p, N, fixed):
    _need(len(p) >= fixed, "%d params, expected at least %d", len(p), fixed)
    _pos(p, N, "OUTER", "AXIS_SIZE", "INNER", "N_INDICES")
    outer, axis, inner, k = p[N["OUTER"]], p[N["AXIS_SIZE"]], p[N["INNER"]], p[N["N_INDICES"]]
    _count(p, fixed + N["INDICES_STEP"] * k)
    for i in range(k):
        v = p[fixed + N["INDICES_STEP"] * i + N["INDEX"]]
        _need(0 <= v < axis, "index %d is outside [0, %d)", v, axis)
    _arena(m, "input", p[N["INPUT"]], outer * axis * inner)
    _arena(m, "output", p[N["OUTPUT"]], outer * k * inner)


def _batch_matmul(m, p, N, fixed):
    _count(p, fixed)
    _pos(p, N, "ROWS", "COLS", "DEPTH")
    b0, b1 = p[N["BATCHES"]], p[N["BATCHES"] + 1]
    _need(b0 >= 1 and b1 >= 1, "batches %d, %d", b0, b1)
    rows, cols, depth = p[N["ROWS"]], p[N["COLS"]], p[N["DEPTH"]]
    for side, inner in (("LHS", ("ROW", "K")), ("RHS", ("K", "COL"))):
        last = 0
        for k, n in ((N[side + "_BATCH"], b0), (N[side + "_BATCH"] + 1, b1)):
            _need(p[k] >= 0, "%s batch stride %d is negative", side.lower(), p[k])
            last += (n - 1) * p[k]
        for name, n in zip(inner, (rows, depth) if side == "LHS" else (depth, cols)):
            st = p[N[side + "_" + name]]
            _need(st >= 0, "%s %s stride %d is negative", side.lower(), name.lower(), st)
            last += (n - 1) * st
        _arena(m, side.lower(), p[N[side]], last + 1)
    _arena(m, "output", p[N["OUTPUT"]], b0 * b1 * rows * cols)
    _neg_zp(p, N, "LHS_OFFSET", "RHS_OFFSET")
    _int8(p, N, "OUTPUT_OFFSET")
    _shift("shift", p[N["SHIFT"]])
    _limbs(p, N["LIMBS"], 1)
def _lstm(m, p, N, fixed):
    _need(len(p) > fixed, "%d params, expected more than %d", len(p), fixed)
    _pos(p, N, "BATCHES", "STEPS", "FEATURES", "UNITS")
    b, t, f, u = p[N["BATCHES"]], p[N["STEPS"]], p[N["FEATURES"]], p[N["UNITS"]]
    _need(f <= m.arena and u <= m.arena and b * t <= m.arena, "the LSTM is larger than the %d-byte arena", m.arena)
    _count(p, fixed + N["PER_UNIT_STEP"] * u)
    _arena(m, "input", p[N["INPUT"]], b * t * f)
    _arena(m, "output", p[N["OUTPUT"]], b * t * u)
    _arena(m, "scratch", p[N["SCRATCH"]], f + u)
    _const(m, "weights", p[N["WEIGHTS"]], 4 * u * (f + u))
    _int8(p, N, "HIDDEN_ZP")
    for at in [N["GATE_Q"] + 4 * k for k in range(8)]:
        _limbs(p, at, 1)
        _shift("LSTM shift", p[at + 3])
    _lstm_cell(p, N)


def _lstm_cell(p, N):
    """What the int8 and 16x8 LSTMs share: the cell's clip and tanh rescale, the Muls, the table."""
    _need(0 <= p[N["CELL_CLIP"]] <= 32767, "cell_clip %d is outside [0, 32767]", p[N["CELL_CLIP"]])
    _need(0 < p[N["CELL_TANH_MULT"]] <= 3 << 15 and 0 <= p[N["CELL_TANH_SHIFT"]] <= 15,
          "cell tanh rescale %d >> %d is not TFLM's", p[N["CELL_TANH_MULT"]], p[N["CELL_TANH_SHIFT"]])
    for at in [N["MUL_Q"] + 4 * k for k in range(3)]:
        _limbs(p, at, 1)
        _shift("LSTM shift", p[at + 3])
    table = N["SIGMOID"]
    for k in range(256):
        _need(0 <= p[table + k] <= 65535 and (k == 0 or p[table + k - 1] <= p[table + k]),
              "sigmoid table entry %d (%d) is not a rising uint16 curve", k, p[table + k])


# ---- 16x8 ops (int16 activations, byte offsets of two bytes per value) ----------------------

def _act16(p, N):
    lo, hi = p[N["ACT_MIN"]], p[N["ACT_MAX"]]
    _need(-32768 <= lo <= hi <= 32767, "act_min %d, act_max %d are not an int16 range", lo, hi)


def _units64(p, N, fixed, units, tail):
    """The repeated (bias_hi, bias_lo, multiplier, shift, reduced, total_shift) units."""
    step = N[tail + "_STEP"]
    _need(len(p) == fixed + step * units, "%d params, expected %d", len(p), fixed + step * units)
    for c in range(units):
        q = fixed + step * c
        _need(0 <= p[q + N["MULTIPLIER"]], "channel %d multiplier %d is negative", c, p[q + N["MULTIPLIER"]])
        s = p[q + N["SHIFT"]]
        _need(-31 <= s <= 7, "channel %d shift %d is outside [-31, 7]", c, s)
        _need(0 <= p[q + N["REDUCED"]] <= 0x7FFF, "channel %d reduced multiplier %d is not 15-bit", c,
              p[q + N["REDUCED"]])
        _need(p[q + N["TOTAL_SHIFT"]] == 15 - s, "channel %d total_shift %d is not 15 - shift", c,
              p[q + N["TOTAL_SHIFT"]])


def _fully_connected_16x8(m, p, N, fixed):
    _need(len(p) >= fixed, "%d params, expected at least %d", len(p), fixed)
    _pos(p, N, "BATCHES", "DEPTH", "UNITS", "CHUNK")
    b, depth, units, chunk = p[N["BATCHES"]], p[N["DEPTH"]], p[N["UNITS"]], p[N["CHUNK"]]
    _need(chunk <= depth, "chunk %d is larger than depth %d", chunk, depth)
    _arena(m, "input", p[N["INPUT"]], 2 * b * depth)
    _arena(m, "output", p[N["OUTPUT"]], 2 * b * units)
    _arena(m, "scratch", p[N["SCRATCH"]], chunk)
    _const(m, "weights", p[N["WEIGHTS"]], units * depth)
    _act16(p, N)
    _units64(p, N, fixed, units, "PER_UNIT")


def _lstm_16x8(m, p, N, fixed):
    _need(len(p) > fixed, "%d params, expected more than %d", len(p), fixed)
    _pos(p, N, "BATCHES", "STEPS", "FEATURES", "UNITS")
    b, t, f, u = p[N["BATCHES"]], p[N["STEPS"]], p[N["FEATURES"]], p[N["UNITS"]]
    _need(f <= m.arena and u <= m.arena and b * t <= m.arena, "the LSTM is larger than the %d-byte arena", m.arena)
    _count(p, fixed + N["PER_UNIT_STEP"] * u)
    _arena(m, "input", p[N["INPUT"]], 2 * b * t * f)
    _arena(m, "output", p[N["OUTPUT"]], 2 * b * t * u)
    _arena(m, "scratch", p[N["SCRATCH"]], f + u)
    _const(m, "weights", p[N["WEIGHTS"]], 4 * u * (f + u))
    _need(p[N["HIDDEN_ZP"]] == 0, "hidden_zp %d is not 0 (int16 state is symmetric)", p[N["HIDDEN_ZP"]])
    for at in [N["GATE_Q"] + 4 * k for k in range(8)]:  # (multiplier, shift, reduced, total_shift)
        _need(0 <= p[at] and -31 <= p[at + 1] <= 7 and 0 <= p[at + 2] <= 0x7FFF and p[at + 3] == 15 - p[at + 1],
              "LSTM gate requantization %d, %d, %d, %d is not TFLM's int64 one", p[at], p[at + 1], p[at + 2],
              p[at + 3])
    _lstm_cell(p, N)


def _conv_16x8(m, p, N, fixed, depthwise):
    _need(len(p) > fixed, "%d params, expected more than %d", len(p), fixed)
    _pos(p, N, "BATCHES", "IN_H", "IN_W", "IN_C", "OUT_H", "OUT_W", "OUT_C", "FILTER_H", "FILTER_W",
         "STRIDE_H", "STRIDE_W", "DILATION_H", "DILATION_W")
    b, ih, iw, ic, oh, ow, oc, fh, fw = [p[N[k]] for k in ("BATCHES", "IN_H", "IN_W", "IN_C", "OUT_H", "OUT_W",
                                                            "OUT_C", "FILTER_H", "FILTER_W")]
    _need(p[N["PAD_H"]] >= 0 and p[N["PAD_W"]] >= 0, "padding %d, %d is negative", p[N["PAD_H"]],
          p[N["PAD_W"]])
    taps = fh * fw
    if depthwise:
        _pos(p, N, "DEPTH_MULTIPLIER")
        _need(oc == ic * p[N["DEPTH_MULTIPLIER"]], "out_c %d is not in_c %d x depth_multiplier %d", oc, ic,
              p[N["DEPTH_MULTIPLIER"]])
    else:
        taps *= ic
    _arena(m, "input", p[N["INPUT"]], 2 * b * ih * iw * ic)
    _arena(m, "output", p[N["OUTPUT"]], 2 * b * oh * ow * oc)
    _arena(m, "scratch", p[N["SCRATCH"]], taps)
    _const(m, "weights", p[N["WEIGHTS"]], oc * taps)
    _act16(p, N)
    _units64(p, N, fixed, oc, "PER_CHANNEL")


def _conv_2d_16x8(m, p, N, fixed):
    _conv_16x8(m, p, N, fixed, False)


def _depthwise_conv_2d_16x8(m, p, N, fixed):
    _conv_16x8(m, p, N, fixed, True)


class _Wide:
    """The arena seen by the int8 checks in elements of two bytes (same layout, int16 values)."""
    __slots__ = ("arena", "const_at", "const_end", "file")

    def __init__(self, m):
        self.arena, self.const_at, self.const_end, self.file = m.arena, m.const_at, m.const_end, m.file


def _halved(p, N, fixed, fields):
    """p (of exactly `fixed` params) with the byte offsets in `fields` halved, so the int8 geometry
    checks count int16 elements; an odd offset is refused (a value never straddles two elements)."""
    _count(p, fixed)
    q = list(p)
    for k in fields:
        _need(q[N[k]] % 2 == 0, "%s offset %d is odd", k.lower(), q[N[k]])
        q[N[k]] //= 2
    return q


def _pool_2d_16x8(m, p, N, fixed):
    w = _Wide(m)
    w.arena = m.arena // 2
    q = _halved(p, N, fixed, ("INPUT", "OUTPUT"))
    q[N["ACT_MIN"]] = q[N["ACT_MAX"]] = 0  # the int8 check of the clamp: done in int16 below
    _pool_2d(w, q, N, fixed)
    _act16(p, N)


def _mean_16x8(m, p, N, fixed):
    w = _Wide(m)
    w.arena = m.arena // 2
    q = _halved(p, N, fixed, ("INPUT", "OUTPUT"))
    _mean(w, q, N, fixed)
    _need(p[N["COUNT"]] <= 1 << 16, "count %d would overflow the int32 sum of int16 values", p[N["COUNT"]])


def _quantize_16x8(m, p, N, fixed):
    _count(p, fixed)
    _pos(p, N, "N")
    wi, wo = p[N["IN_BYTES"]], p[N["OUT_BYTES"]]
    _need(wi in (1, 2) and wo in (1, 2) and wi + wo > 2, "value widths %d -> %d are not int16 -> int16, "
          "int8 -> int16 or int16 -> int8", wi, wo)
    for what, off, w, zp in (("input", p[N["INPUT"]], wi, p[N["INPUT_ZP"]]),
                             ("output", p[N["OUTPUT"]], wo, p[N["OUTPUT_ZP"]])):
        _arena(m, what, off, p[N["N"]] * w)
        _need(off % w == 0, "%s offset %d is odd", what, off)
        _need(zp == 0 if w == 2 else _INT8_LO <= zp <= _INT8_HI, "%s zero point %d is not one of its type",
              what, zp)
    _shift("shift", p[N["SHIFT"]])
    _limbs(p, N["LIMBS"], 1)


def _softmax_16x8(m, p, N, fixed):
    _count(p, fixed)
    _pos(p, N, "OUTER", "DEPTH")
    n = 2 * p[N["OUTER"]] * p[N["DEPTH"]]
    _need(p[N["DEPTH"]] <= 1 << 16, "depth %d would overflow the int32 sum of exps", p[N["DEPTH"]])
    _arena(m, "input", p[N["INPUT"]], n)
    _arena(m, "output", p[N["OUTPUT"]], n)
    _arena(m, "scratch", p[N["SCRATCH"]], 2052)
    _const(m, "luts", p[N["LUTS"]], 2052)
    _need(0 <= p[N["SHIFT"]] + 31 and p[N["SHIFT"]] <= 15, "shift %d is outside [-31, 15]", p[N["SHIFT"]])
    _limbs(p, N["LIMBS"], 1)


def _relu_16x8(m, p, N, fixed):
    _count(p, fixed)
    _pos(p, N, "N")
    _arena(m, "input", p[N["INPUT"]], 2 * p[N["N"]])
    _arena(m, "output", p[N["OUTPUT"]], 2 * p[N["N"]])
    _need(p[N["RESCALE"]] in (0, 1), "rescale %d is neither 0 nor 1", p[N["RESCALE"]])
    lo, hi = p[N["LO"]], p[N["HI"]]
    _need(-32768 <= lo <= hi <= 32767, "lo %d, hi %d are not an int16 range", lo, hi)
    _need(p[N["INPUT_ZP"]] == 0 and p[N["OUTPUT_ZP"]] == 0, "int16 zero points %d, %d are not 0",
          p[N["INPUT_ZP"]], p[N["OUTPUT_ZP"]])
    _shift("shift", p[N["SHIFT"]])
    _limbs(p, N["LIMBS"], 1)


def _dequantize_16x8(m, p, N, fixed):
    _count(p, fixed)
    _pos(p, N, "N")
    n = p[N["N"]]
    _arena(m, "input", p[N["INPUT"]], 2 * n)
    _arena(m, "output", p[N["OUTPUT"]], 4 * n)
    _need(-32768 <= p[N["ZERO_POINT"]] <= 32767, "zero point %d is not an int16", p[N["ZERO_POINT"]])
    _need(2048 <= p[N["MANT_HI"]] < 4096 and 0 <= p[N["MANT_LO"]] < 4096,
          "mantissa halves %d, %d are not a normalized 24-bit mantissa", p[N["MANT_HI"]], p[N["MANT_LO"]])
    _need(1 <= p[N["BIAS"]] and p[N["BIAS"]] + 17 <= 254, "exponent field %d leaves float32's normal range",
          p[N["BIAS"]])


def _logistic_16x8(m, p, N, fixed):
    _count(p, fixed)
    _pos(p, N, "N")
    _arena(m, "input", p[N["INPUT"]], 2 * p[N["N"]])
    _arena(m, "output", p[N["OUTPUT"]], 2 * p[N["N"]])
    _arena(m, "scratch", p[N["SCRATCH"]], 512)
    _const(m, "table", p[N["TABLE"]], 512)
    _need(p[N["TANH"]] in (0, 1), "tanh %d is neither 0 nor 1", p[N["TANH"]])
    _need(1 <= p[N["MULTIPLIER"]] <= 32767, "multiplier %d is outside [1, 32767]", p[N["MULTIPLIER"]])
    _need(0 <= p[N["SHIFT"]] <= 31, "shift %d is outside [0, 31]", p[N["SHIFT"]])


def _binary_16x8(m, p, N, fixed):
    """ops/binary.py's fields over int16 values: the int8 checks on halved offsets (a constant's
    bytes checked in bytes), zero points 0, an int16 clamp."""
    w = _Wide(m)
    w.arena = m.arena // 2
    q = _halved(p, N, fixed, ("INPUT1", "INPUT2", "OUTPUT", "CONST_TO", "CONST_SIZE"))
    q[N["CONST"]] = m.const_at  # checked below in bytes
    _binary(w, q, N, fixed)
    if p[N["CONST_SIZE"]]:
        _const(m, "constant input", p[N["CONST"]], p[N["CONST_SIZE"]])
    for k in ("INPUT1_OFFSET", "INPUT2_OFFSET", "OUTPUT_OFFSET"):
        _need(p[N[k]] == 0, "%s %d is not 0 (int16 zero points are 0)", k.lower(), p[N[k]])
    _act16(p, N)


def _sub_16x8(m, p, N, fixed):
    _binary_16x8(m, p, N, fixed)
    _need(p[N["LEFT_SHIFT"]] == 15, "left_shift %d is not 15", p[N["LEFT_SHIFT"]])
    for k in ("INPUT1_SHIFT", "INPUT2_SHIFT", "OUTPUT_SHIFT"):
        _need(-_SHIFT <= p[N[k]] <= 0, "%s %d is outside [-31, 0]", k.lower(), p[N[k]])
    _limbs(p, N["LIMBS"], 3)


def _mul_16x8(m, p, N, fixed):
    _binary_16x8(m, p, N, fixed)
    _need(-_SHIFT <= p[N["OUTPUT_SHIFT"]] <= 0, "output_shift %d is outside [-31, 0]", p[N["OUTPUT_SHIFT"]])
    _limbs(p, N["LIMBS"], 1)


def _leaky_relu_16x8(m, p, N, fixed):
    _count(p, fixed)
    _pos(p, N, "N")
    _arena(m, "input", p[N["INPUT"]], 2 * p[N["N"]])
    _arena(m, "output", p[N["OUTPUT"]], 2 * p[N["N"]])
    for k in ("IDENTITY_SHIFT", "ALPHA_SHIFT"):
        _need(-_SHIFT <= p[N[k]] <= 15, "%s %d is outside [-31, 15]", k.lower(), p[N[k]])
    _limbs(p, N["LIMBS"], 2)


def _transpose_conv_16x8(m, p, N, fixed):
    _need(len(p) > fixed, "%d params, expected more than %d", len(p), fixed)
    _pos(p, N, "BATCHES", "IN_H", "IN_W", "IN_C", "OUT_H", "OUT_W", "OUT_C", "FILTER_H", "FILTER_W",
         "STRIDE_H", "STRIDE_W")
    b, ih, iw, ic, oh, ow, oc, fh, fw = [p[N[k]] for k in ("BATCHES", "IN_H", "IN_W", "IN_C", "OUT_H", "OUT_W",
                                                            "OUT_C", "FILTER_H", "FILTER_W")]
    _need(p[N["PAD_H"]] >= 0 and p[N["PAD_W"]] >= 0, "padding %d, %d is negative", p[N["PAD_H"]],
          p[N["PAD_W"]])
    _arena(m, "input", p[N["INPUT"]], 2 * b * ih * iw * ic)
    _arena(m, "output", p[N["OUTPUT"]], 2 * b * oh * ow * oc)
    _arena(m, "scratch", p[N["SCRATCH"]], fh * fw * ic)
    _const(m, "weights", p[N["WEIGHTS"]], oc * fh * fw * ic)
    _act16(p, N)
    _units64(p, N, fixed, oc, "PER_CHANNEL")


def _batch_matmul_16x8(m, p, N, fixed):
    _count(p, fixed)
    _pos(p, N, "ROWS", "COLS", "DEPTH")
    b0, b1 = p[N["BATCHES"]], p[N["BATCHES"] + 1]
    _need(b0 >= 1 and b1 >= 1, "batches %d, %d", b0, b1)
    rows, cols, depth = p[N["ROWS"]], p[N["COLS"]], p[N["DEPTH"]]
    for side, inner in (("LHS", ("ROW", "K")), ("RHS", ("K", "COL"))):
        last = 0
        for k, n in ((N[side + "_BATCH"], b0), (N[side + "_BATCH"] + 1, b1)):
            _need(p[k] >= 0 and p[k] % 2 == 0, "%s batch stride %d is not a whole int16 step", side.lower(), p[k])
            last += (n - 1) * p[k]
        for name, n in zip(inner, (rows, depth) if side == "LHS" else (depth, cols)):
            st = p[N[side + "_" + name]]
            _need(st >= 0 and st % 2 == 0, "%s %s stride %d is not a whole int16 step", side.lower(), name.lower(),
                  st)
            last += (n - 1) * st
        _arena(m, side.lower(), p[N[side]], last + 2)
    _arena(m, "output", p[N["OUTPUT"]], 2 * b0 * b1 * rows * cols)
    _need(0 <= p[N["REDUCED"]] <= 0x7FFF and 8 <= p[N["TOTAL_SHIFT"]] <= 46,
          "reduced multiplier %d, total shift %d are not TFLM's int64 requantization", p[N["REDUCED"]],
          p[N["TOTAL_SHIFT"]])


def _prelu_16x8(m, p, N, fixed):
    """int16 input and output, int8 alpha: each operand's extent in its own element size."""
    _count(p, fixed)
    _pos(p, N, "N")
    n = p[N["N"]]
    _need(p[N["BROADCAST"]] in (0, 1), "broadcast %d is neither 0 nor 1", p[N["BROADCAST"]])
    _arena(m, "output", p[N["OUTPUT"]], 2 * n)
    last1, last2 = n - 1, n - 1
    if p[N["BROADCAST"]]:
        dims = p[N["DIMS"]:N["DIMS"] + 4]
        total = 1
        for d in dims:
            _need(d >= 1, "broadcast dimension %d", d)
            total *= d
        _need(total == n, "broadcast dims %s hold %d values, not n = %d", list(dims), total, n)
        last1, last2 = 0, 0
        for d, s1, s2 in zip(dims, p[N["STRIDES1"]:N["STRIDES1"] + 4], p[N["STRIDES2"]:N["STRIDES2"] + 4]):
            _need(s1 >= 0 and s2 >= 0, "strides %d, %d: one is negative", s1, s2)
            last1 += (d - 1) * s1
            last2 += (d - 1) * s2
    _arena(m, "input", p[N["INPUT1"]], 2 * (last1 + 1))
    _arena(m, "alpha", p[N["INPUT2"]], last2 + 1)
    size = p[N["CONST_SIZE"]]
    _need(size >= 0, "const_size %d is negative", size)
    if size:
        _const(m, "constant alpha", p[N["CONST"]], size)
        _arena(m, "constant alpha's copy", p[N["CONST_TO"]], size)
    _need(p[N["INPUT_OFFSET"]] == 0 and p[N["OUTPUT_OFFSET"]] == 0, "input/output offsets %d, %d are not 0",
          p[N["INPUT_OFFSET"]], p[N["OUTPUT_OFFSET"]])
    _neg_zp(p, N, "ALPHA_OFFSET")
    _need(-_SHIFT <= p[N["OUTPUT_SHIFT_1"]] <= 15 and -_SHIFT <= p[N["OUTPUT_SHIFT_2"]] <= 7,
          "output shifts %d, %d are outside [-31, 15], [-31, 7]", p[N["OUTPUT_SHIFT_1"]], p[N["OUTPUT_SHIFT_2"]])
    _limbs(p, N["LIMBS"], 2)


def _add_16x8(m, p, N, fixed):
    w = _Wide(m)
    w.arena = m.arena // 2
    q = _halved(p, N, fixed, ("INPUT1", "INPUT2", "OUTPUT"))
    q[N["ACT_MIN"]] = q[N["ACT_MAX"]] = 0
    _add(w, q, N, fixed)
    _act16(p, N)


OPS_CHECK = {
    "fully_connected": _fully_connected, "conv_2d": _conv_2d, "depthwise_conv_2d": _depthwise_conv_2d,
    "pool_2d": _pool_2d, "add": _add, "mean": _mean, "lut8": _lut8, "concatenation": _concatenation,
    "softmax": _softmax, "reshape": _reshape, "transpose": _transpose,
    # ops1
    "sub": _sub, "mul": _mul, "maximum_minimum": _maximum_minimum, "prelu": _prelu, "dequantize": _dequantize,
    # ops2
    "pad": _pad, "strided_slice": _strided_slice, "split": _split, "gather": _gather,
    "transpose_conv": _transpose_conv, "batch_matmul": _batch_matmul,
    "lstm": _lstm,
}
OPS_CHECK.update({  # 16x8 (opcodes.KERNELS_16X8)
    "fully_connected_16x8": _fully_connected_16x8, "conv_2d_16x8": _conv_2d_16x8,
    "depthwise_conv_2d_16x8": _depthwise_conv_2d_16x8, "pool_2d_16x8": _pool_2d_16x8, "add_16x8": _add_16x8,
    "mean_16x8": _mean_16x8, "quantize_16x8": _quantize_16x8, "softmax_16x8": _softmax_16x8,
    "relu_16x8": _relu_16x8, "dequantize_16x8": _dequantize_16x8, "logistic_16x8": _logistic_16x8,
    "sub_16x8": _sub_16x8, "mul_16x8": _mul_16x8, "leaky_relu_16x8": _leaky_relu_16x8,
    "transpose_conv_16x8": _transpose_conv_16x8, "batch_matmul_16x8": _batch_matmul_16x8,
    "prelu_16x8": _prelu_16x8, "lstm_16x8": _lstm_16x8,
})
