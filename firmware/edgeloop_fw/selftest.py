"""A model's self-test: run known inputs through the board's own code and hash the outputs.

The host computes the expected hash with this very module under CPython when it builds a
bundle (edgeloop.deploy.bundle); the board runs it on the model it has just written to a
slot, before switching to it (edgeloop_fw.slots). The same bytes in, the same code, the same
hash out: a mismatch means the model file, the runtime or the arithmetic differ from what
the host saw. What is hashed is fixed by bundle_format (output tensors / votes).
"""

from array import array

from .bundle_format import sha256


def outputs_digest(model_path, inputs_path, count, size):
    """SHA-256 (32 bytes) of the outputs of `count` inputs of `size` bytes read from `inputs_path`."""
    h = sha256()
    inp = open(inputs_path, "rb")
    try:
        if model_path.endswith(".csv"):
            _trees(h, model_path, inp, count, size)
        else:
            _elm(h, model_path, inp, count, size)
    finally:
        inp.close()
    return h.digest()


def _read_exact(f, buf, size):
    n = f.readinto(buf)
    if n != size:
        raise ValueError("self-test inputs are short: %s of %d bytes" % (n, size))


def _elm(h, model_path, inp, count, size):
    from .runtime.interpreter import Interpreter
    from .runtime.loader import Model
    f = open(model_path, "rb")
    try:
        m = Model(f)
        it = Interpreter(m)
        if m.inputs[0].nbytes != size:
            raise ValueError("self-test inputs are %d bytes, the model takes %d" % (size, m.inputs[0].nbytes))
        buf = bytearray(size)
        view = it.input_view()
        outs = [it.output_view(i) for i in range(len(m.outputs))]
        for _ in range(count):
            _read_exact(inp, buf, size)
            view[0:size] = memoryview(buf).cast("b") if hasattr(memoryview, "cast") else buf
            it.invoke()
            for o in outs:
                h.update(bytes(o))
    finally:
        f.close()


def _trees(h, model_path, inp, count, size):
    from .trees import load
    t = load(model_path)
    if 2 * t.n_features != size:
        raise ValueError("self-test inputs are %d bytes, the trees take %d features" % (size, t.n_features))
    x = array("h", bytes(size))
    for _ in range(count):
        _read_exact(inp, x, size)
        votes = t.predict_votes(x)
        for c in range(t.n_classes):
            v = votes[c]
            h.update(bytes((v & 0xFF, v >> 8)))
