"""Open an edgeloop model file, check it, and read its tables.

The whole file is hashed before anything in it is trusted: a truncated copy
or a flipped bit is refused with ModelFileError, so the caller keeps whatever
model it had. Only the small tables (tensor table, op table, params) come
into RAM; constants stay in the file and kernels read them on demand through
`read_const`, which is what keeps heap use independent of model size.
"""

import struct
from array import array

from . import format as F
from .opcodes import VERSIONS, kernel_name

try:
    import hashlib
except ImportError:  # some CircuitPython builds
    try:
        import uhashlib as hashlib
    except ImportError:
        hashlib = None


def _sha256():
    """SHA-256 as this port spells it: hashlib.sha256, CircuitPython's hashlib.new("sha256")
    (its only form), or without hashlib the pure code (never skipped: a bit-flipped model
    must not load). bundle_format.sha256 does the same for the rest of the firmware; this copy
    keeps the runtime's imports (and heap) as small as they were."""
    if hashlib is None:
        from ..crypto.sha256_pure import Pure
        return Pure()
    if hasattr(hashlib, "sha256"):
        return hashlib.sha256()
    return hashlib.new("sha256")


class ModelFileError(ValueError):
    """The file is not a model this runtime can run; the message says why."""


class TensorInfo:
    __slots__ = ("name", "dtype", "shape", "zero_point", "scale", "nbytes", "offset")

    def __init__(self, name, dtype, shape, zero_point, scale, nbytes, offset):
        self.name, self.dtype, self.shape = name, dtype, shape
        self.zero_point, self.scale = zero_point, scale
        self.nbytes, self.offset = nbytes, offset

    def describe(self):
        return "%s %s %s" % (F.DTYPE_NAMES.get(self.dtype, "?"), list(self.shape), self.name)


def _file_size(f):
    f.seek(0, 2)
    n = f.tell()
    f.seek(0)
    return n


def _check_hash(f, start, end, expected, chunk=256):
    h = _sha256()
    buf = bytearray(chunk)
    mv = memoryview(buf)
    f.seek(start)
    left = end - start
    while left > 0:
        n = f.readinto(mv if left >= chunk else mv[:left])
        if not n:
            raise ModelFileError("model file is truncated (ends %d bytes early)" % left)
        h.update(mv[:n])
        left -= n
    if h.digest() != expected:
        raise ModelFileError("model file is corrupted (SHA-256 mismatch); copy it to the board again")
    return True


def read_header(f):
    """The first TABLES_AT bytes, the flags, file_size and digest, after the checks every reader needs."""
    size = _file_size(f)
    if size < F.TABLES_AT:
        raise ModelFileError("not an edgeloop model: %d bytes is shorter than the header" % size)
    head = f.read(F.TABLES_AT)
    magic, version, flags, file_size, digest = struct.unpack_from(F.HEADER_FMT, head, 0)
    if magic != F.MAGIC:
        raise ModelFileError("not an edgeloop model (magic %r); convert it with `edgeloop convert`" % magic)
    if version != F.FORMAT_VERSION and version != F.FORMAT_VERSION_16X8:
        raise ModelFileError("model format version %d, this runtime reads versions %d and %d (16x8); "
                             "convert the model again or update the runtime"
                             % (version, F.FORMAT_VERSION, F.FORMAT_VERSION_16X8))
    if size < file_size:
        raise ModelFileError("model file is truncated: %d of %d bytes; copy it again" % (size, file_size))
    if size > file_size:
        raise ModelFileError("model file has %d bytes after its end; copy it again" % (size - file_size))
    return head, flags, file_size, digest


def is_wide(tables, n_tensors, first_in, first_out):
    """Whether an op runs in 16x8 mode: its first input or first output tensor is int16
    (the writer picks the kernel by the same rule; `tables` starts at the tensor table)."""
    for t in (first_in, first_out):
        if t < n_tensors and tables[t * F.TENSOR_SIZE] == F.DTYPE_INT16:
            return True
    return False


def kernel_of(i, opcode, ver, wide=False):
    """The kernel name of op `i`, refused when this runtime lacks it or reads its params otherwise."""
    name = kernel_name(opcode, wide)
    if name is None:
        raise ModelFileError("op %d has opcode %d%s, which this runtime has no kernel for; "
                             "update the runtime on the board" % (i, opcode, " with int16 tensors" if wide else ""))
    if ver != VERSIONS[name]:  # another param layout: reading it would give wrong bytes
        raise ModelFileError("op %d (%s) kernel version %d, this runtime has %d; convert the model "
                             "again" % (i, name, ver, VERSIONS[name]))
    return name


class Model:
    """A checked model file kept open for its constants.

    `f` is a binary file object (open(path, "rb"), or io.BytesIO on the host).
    """

    def __init__(self, f, verify=True):
        self.file = f
        try:  # a ROMFS file (MicroPython >= 1.25) is memory-mapped: kernels may read constants in place
            self.mapped = memoryview(f)
        except TypeError:
            self.mapped = None
        head, _flags, file_size, digest = read_header(f)
        self.verified = _check_hash(f, F.HASHED_FROM, file_size, digest) if verify else False
        (self.arena_size, params_at, n_params, self.const_offset, self.const_size, n_tensors, n_ops,
         n_in, n_out, names_at, names_size) = struct.unpack_from(F.SUMMARY_FMT, head, F.SUMMARY_AT)
        f.seek(F.TABLES_AT)
        tables = f.read(params_at - F.TABLES_AT)  # garbage once loaded: only what runs is kept
        at = n_tensors * F.TENSOR_SIZE
        io = struct.unpack_from("<%dH" % (n_in + n_out), tables, at)
        # Only the model's inputs and outputs are described on the heap; the
        # other tensors are nothing but arena offsets already baked into params.
        self.inputs = [self._tensor(tables, names_at, i) for i in io[:n_in]]
        self.outputs = [self._tensor(tables, names_at, i) for i in io[n_in:]]
        at += 2 * (n_in + n_out)
        self.params = array("i", bytes(4 * n_params)) if n_params else array("i")
        if n_params:
            f.seek(params_at)
            f.readinto(self.params)
        pv = memoryview(self.params)
        ops = []
        for i in range(n_ops):
            opcode, ver, start, count, first_in, first_out = struct.unpack_from(F.OP_FMT, tables, at)
            at += F.OP_SIZE
            name = kernel_of(i, opcode, ver, is_wide(tables, n_tensors, first_in, first_out))
            ops.append((opcode, name, pv[start:start + count], first_out))
        self.ops = ops

    def _tensor(self, tables, names_at, i):
        row = struct.unpack_from(F.TENSOR_FMT, tables, i * F.TENSOR_SIZE)
        f = self.file
        f.seek(names_at + row[14])
        name = str(f.read(row[15]), "utf-8")
        return TensorInfo(name, row[0], tuple(row[4:4 + row[1]]), row[10], row[11], row[12], row[13])

    def read_const(self, offset, buf):
        """Fill `buf` (a writable buffer) with constant bytes from `offset` in the file."""
        f = self.file
        f.seek(offset)
        f.readinto(buf)

    def close(self):
        self.file.close()


def install(staged, path):
    """Make the file at `staged` the model at `path` only if it loads and its hash checks.

    A bad file is deleted and ModelFileError raised; the model at `path` is
    untouched, so the board keeps running what it had.
    """
    import os

    try:
        with open(staged, "rb") as f:
            Model(f)
    except Exception:
        try:
            os.remove(staged)
        except OSError:
            pass
        raise
    try:
        os.rename(staged, path)
    except OSError:  # FAT-backed ports refuse to rename over an existing file
        os.remove(path)
        os.rename(staged, path)
