"""Run a loaded model: one arena, the ops in order, integer kernels only.

The arena is a single signed-byte array sized by the host's memory plan;
every activation and scratch buffer is a fixed offset into it, so an
inference allocates nothing that grows with the model.
"""

from array import array

from .loader import ModelFileError


# Kernel levels, fastest first: `native` (C natmod kernels, when a board has
# them), `viper` (machine code, needs a native emitter), `kernels` (portable,
# always present). A level that cannot load on this board is skipped: the
# package is absent (not deployed), CPython has no `micropython` module, or a
# .mpy is for another arch (ValueError) or needs an emitter the port lacks.
LEVELS = ("native", "viper", "kernels")


def _kernel(name, levels=LEVELS):
    # Import only the kernels this model uses: each costs RAM on the board.
    for level in levels[:-1]:
        try:
            return level, __import__("edgeloop_fw.runtime.%s.%s" % (level, name), None, None, ("eval",)).eval
        except (ImportError, ValueError, SyntaxError, NotImplementedError):
            pass
    return levels[-1], __import__("edgeloop_fw.runtime.%s.%s" % (levels[-1], name), None, None, ("eval",)).eval


class Interpreter:
    def __init__(self, model, levels=LEVELS):
        """`levels` limits the kernel levels tried (("kernels",) = portable only)."""
        self.model = model
        self._arena_bytes = array("b", bytes(model.arena_size)) if model.arena_size else array("b")
        self.arena = memoryview(self._arena_bytes)
        cache = {}
        steps = []
        self.kernel_levels = {}  # kernel name -> level it was loaded from
        for opcode, name, params, _out in model.ops:
            if name not in cache:
                try:
                    self.kernel_levels[name], cache[name] = _kernel(name, levels)
                except ImportError:
                    raise ModelFileError("kernel %s is missing from this runtime; "
                                         "deploy the runtime again" % name)
            steps.append((cache[name], params))
        self.steps = steps

    def _io(self, tensors, index, kind):
        if not 0 <= index < len(tensors):
            raise IndexError("the model has %d %ss, not %d" % (len(tensors), kind, index + 1))
        return tensors[index]

    def set_input(self, data, index=0):
        """Copy raw int8 bytes (bytes, bytearray or array('b')) into input `index`."""
        t = self._io(self.model.inputs, index, "input")
        n = len(data)
        if n != t.nbytes:
            raise ValueError("input %d is %s (%d bytes); got %d bytes" % (index, t.describe(), t.nbytes, n))
        self.arena[t.offset:t.offset + n] = memoryview(data).cast("b") if _HAS_CAST and not isinstance(data, array) else data

    def get_output(self, index=0):
        """The raw int8 bytes of output `index` (a copy)."""
        t = self._io(self.model.outputs, index, "output")
        return bytes(self.arena[t.offset:t.offset + t.nbytes])

    def invoke(self, probe=None):
        """Run every op; `probe(i)` (if given) is called after op i, for measurements."""
        arena = self.arena
        model = self.model
        i = 0
        for ev, params in self.steps:
            ev(params, arena, model)
            if probe is not None:
                probe(i)
            i += 1


_HAS_CAST = hasattr(memoryview, "cast")
