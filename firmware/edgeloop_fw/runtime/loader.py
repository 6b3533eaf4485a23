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
from .opcodes import KERNELS, VERSIONS

from . import const

try:
    import hashlib
except ImportError:  # some CircuitPython builds
    try:
        import uhashlib as hashlib
    except ImportError:
        hashlib = None


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


def _area(what, start, n, lo, end):
    """Bytes [start, start + n) of a file region lie after the tables and inside the file."""
    if start < lo or start & 3 and what != "names" or start + n > end:
        raise ModelFileError("model file: %s [%d, %d) is outside [%d, %d) (after the tables, inside the "
                             "file); convert the model again" % (what, start, start + n, lo, end))


def _check_hash(f, start, end, expected, chunk=256):
    if hashlib is None:
        return False
    h = hashlib.sha256()
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


MAX_ARENA = const(1 << 24)  # more RAM than any supported board has (esp32s3_spiram: 8 MB)


def _field(what, value, limit):
    return ModelFileError("model file: %s is %d, %s; convert the model again" % (what, value, limit))


class Model:
    """A checked model file kept open for its constants.

    `f` is a binary file object (open(path, "rb"), or io.BytesIO on the host).
    Every header and table field is checked against the file's size before
    anything is read through it, and every op's params against the arena and
    the constants by its kernel's `check` (docs/model-format.md lists what);
    `heap` (bytes), when the caller knows it, bounds the arena too.
    """

    def __init__(self, f, verify=True, heap=None):
        self.file = f
        size = _file_size(f)
        if size < F.TABLES_AT:
            raise ModelFileError("not an edgeloop model: %d bytes is shorter than the header" % size)
        head = f.read(F.TABLES_AT)
        magic, version, flags, file_size, digest = struct.unpack_from(F.HEADER_FMT, head, 0)
        if magic != F.MAGIC:
            raise ModelFileError("not an edgeloop model (magic %r); convert it with `edgeloop convert`" % magic)
        if version != F.FORMAT_VERSION:
            raise ModelFileError("model format version %d, this runtime reads version %d; "
                                 "convert the model again or update the runtime" % (version, F.FORMAT_VERSION))
        if size < file_size:
            raise ModelFileError("model file is truncated: %d of %d bytes; copy it again" % (size, file_size))
        if size > file_size:
            raise ModelFileError("model file has %d bytes after its end; copy it again" % (size - file_size))
        if flags & ~F.KNOWN_FLAGS:
            raise ModelFileError("model flags 0x%04x have bits this runtime does not know; convert the model "
                                 "again or update the runtime" % flags)
        self.verified = _check_hash(f, F.HASHED_FROM, file_size, digest) if verify else False
        (self.arena_size, params_at, n_params, self.const_offset, self.const_size, n_tensors, n_ops,
         n_in, n_out, names_at, names_size) = struct.unpack_from(F.SUMMARY_FMT, head, F.SUMMARY_AT)
        limit = MAX_ARENA if heap is None or heap > MAX_ARENA else heap
        if self.arena_size > limit:
            raise _field("arena_size", self.arena_size, "more than the %d bytes of RAM it may take" % limit)
        if n_in < 1 or n_out < 1:
            raise _field("n_inputs" if n_in < 1 else "n_outputs", n_in if n_in < 1 else n_out, "must be at least 1")
        tables_end = F.TABLES_AT + n_tensors * F.TENSOR_SIZE + 2 * (n_in + n_out) + n_ops * F.OP_SIZE
        _area("params", params_at, 4 * n_params, tables_end, file_size)
        _area("names", names_at, names_size, tables_end, file_size)
        _area("constants", self.const_offset, self.const_size, tables_end, file_size)
        f.seek(F.TABLES_AT)
        tables = f.read(tables_end - F.TABLES_AT)  # garbage once loaded: only what runs is kept
        if len(tables) != tables_end - F.TABLES_AT:
            raise ModelFileError("model file is truncated in its tables; copy it again")
        for i in range(n_tensors):
            self._check_tensor(tables, i, names_size)
        at = n_tensors * F.TENSOR_SIZE
        io = struct.unpack_from("<%dH" % (n_in + n_out), tables, at)
        for i in io:
            if i >= n_tensors:
                raise _field("an input/output tensor index", i, "the model has %d tensors" % n_tensors)
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
            name = KERNELS.get(opcode)
            if name is None:
                raise ModelFileError("op %d has opcode %d, which this runtime has no kernel for; "
                                     "update the runtime on the board" % (i, opcode))
            if ver != VERSIONS[name]:  # another param layout: reading it would give wrong bytes
                raise ModelFileError("op %d (%s) kernel version %d, this runtime has %d; convert the model "
                                     "again" % (i, name, ver, VERSIONS[name]))
            if start + count > n_params:
                raise ModelFileError("model file: op %d (%s) params [%d, %d) are past the %d params; convert "
                                     "the model again" % (i, name, start, start + count, n_params))
            for t in (first_in, first_out):
                if t != 0xFFFF and t >= n_tensors:
                    raise ModelFileError("model file: op %d (%s) names tensor %d of %d; convert the model "
                                         "again" % (i, name, t, n_tensors))
            ops.append((opcode, name, pv[start:start + count], first_out))
        self.ops = ops
        for i in range(n_ops):
            self._check_op(i)

    def _check_tensor(self, tables, i, names_size):
        row = struct.unpack_from(F.TENSOR_FMT, tables, i * F.TENSOR_SIZE)
        dtype, rank, nbytes, offset = row[0], row[1], row[12], row[13]
        each = F.DTYPE_SIZES.get(dtype)
        what = "tensor %d" % i
        if each is None:
            raise _field(what + " dtype", dtype, "not a type this runtime knows")
        if rank > F.MAX_RANK:
            raise _field(what + " rank", rank, "at most %d" % F.MAX_RANK)
        if row[2] & ~(F.TENSOR_INPUT | F.TENSOR_OUTPUT):
            raise _field(what + " flags", row[2], "only bits 0 and 1 are known")
        n = each
        for d in row[4:4 + rank]:
            if d < 0 or d > self.arena_size:
                raise _field(what + " dimension", d, "must be in [0, arena_size %d]" % self.arena_size)
            n *= d
            if n > self.arena_size:
                break
        if n != nbytes:
            raise _field(what + " nbytes", nbytes, "its shape and dtype make %d" % n)
        if offset + nbytes > self.arena_size:
            raise _field(what + " arena offset", offset, "its %d bytes end past arena_size %d" % (
                nbytes, self.arena_size))
        if row[14] + row[15] > names_size:
            raise _field(what + " name offset", row[14], "its %d bytes end past the %d-byte names" % (
                row[15], names_size))

    def _check_op(self, i):
        """The op's params against its kernel's layout, the arena and the constants."""
        _opcode, name, params, _out = self.ops[i]
        try:
            mod = __import__("edgeloop_fw.runtime.kernels." + name, None, None, ("check",))
        except ImportError:
            raise ModelFileError("kernel %s is missing from this runtime; deploy the runtime again" % name)
        try:
            mod.check(params, self)
        except ModelFileError as e:
            raise ModelFileError("model file: op %d (%s) %s; convert the model again" % (i, name, e.args[0]))

    def _tensor(self, tables, names_at, i):
        row = struct.unpack_from(F.TENSOR_FMT, tables, i * F.TENSOR_SIZE)
        f = self.file
        f.seek(names_at + row[14])
        try:
            name = str(f.read(row[15]), "utf-8")
        except (UnicodeError, ValueError):
            raise ModelFileError("model file: tensor %d's name is not UTF-8; convert the model again" % i)
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
