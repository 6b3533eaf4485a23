"""Run a loaded model: one arena, the ops in order, integer kernels only.

The arena is a single signed-byte array sized by the host's memory plan;
every activation and scratch buffer is a fixed offset into it. Everything an
op needs besides it -- its params view and, for kernels that define
`bind(p, arena)`, the arena views it reads and writes (handed to `eval` as a
fourth argument) -- is made here, once, so `invoke` allocates nothing on the
heap (tests/firmware/board/test_runtime_board.py runs it under heap_lock()).

Kernel levels: for each op the first package in `levels` that has a module
for it wins; `kernel_levels` says which level each kernel came from.
"""

from array import array

from .loader import ModelFileError
from .opcodes import VERSIONS

# Kernel levels, fastest first: `native` (C natmod kernels, when a board has
# them), `viper` (machine code, needs a native emitter), `kernels` (portable,
# always present). A level that cannot load on this board is skipped: the
# package is absent (not deployed), CPython has no `micropython` module, or a
# .mpy is for another arch (ValueError) or needs an emitter the port lacks.
LEVELS = ("native", "viper", "kernels")


def _module(level, name):
    # Import only the kernels this model uses: each costs RAM on the board.
    try:
        return __import__("edgeloop_fw.runtime." + level + "." + name, None, None, ("eval",))
    except (ImportError, ValueError, SyntaxError, NotImplementedError):
        return None


def kernel(name, levels=LEVELS):
    """The module of kernel `name` at the first level this board can load, or None (imported now:
    edgeloop_fw.autostart preloads a model's kernels this way, one execution each)."""
    for level in levels:
        mod = _module(level, name)
        if mod is not None:
            return mod, level
    return None


def _bound(ev, views):
    # A closure over two values called with three arguments stays within
    # MicroPython's five on-stack slots for closure calls: no allocation.
    def run(p, arena, model):
        ev(p, arena, model, views)
    return run


class Interpreter:
    def __init__(self, model, levels=LEVELS):
        """`levels` limits the kernel levels tried (("kernels",) = portable only)."""
        self.model = model
        arena = array("b", bytes(model.arena_size)) if model.arena_size else array("b")
        self.arena = memoryview(arena)
        self.kernel_levels = {}
        found = {}
        steps = []
        for _opcode, name, params, _out in model.ops:
            if name not in found:
                got = kernel(name, levels)
                if got is None:
                    raise ModelFileError("kernel %s is missing from this runtime; "
                                         "deploy the runtime again" % name)
                mod, level = got
                found[name] = mod
                self.kernel_levels[name] = level
                ver = getattr(mod, "KERNEL_VERSION", -1)
                if ver != VERSIONS[name]:  # a stale file of another runtime: it would misread the params
                    raise ModelFileError("kernel %s (level %s) is version %d, this runtime's is %d; "
                                         "deploy the runtime again" % (name, level, ver, VERSIONS[name]))
            mod = found[name]
            bind = getattr(mod, "bind", None)
            steps.append((_bound(mod.eval, bind(params, self.arena)) if bind else mod.eval, params))
        self.steps = steps  # (eval(p, arena, model), p) per op

    def _tensor(self, tensors, index, kind):
        if not 0 <= index < len(tensors):
            raise IndexError("the model has %d %ss, not %d" % (len(tensors), kind, index + 1))
        return tensors[index]

    def input_view(self, index=0):
        """The arena bytes of input `index` (signed): fill it in place to skip set_input's copy."""
        t = self._tensor(self.model.inputs, index, "input")
        return self.arena[t.offset:t.offset + t.nbytes]

    def output_view(self, index=0):
        """The arena bytes of output `index` (signed), valid until the next invoke."""
        t = self._tensor(self.model.outputs, index, "output")
        return self.arena[t.offset:t.offset + t.nbytes]

    def set_input(self, data, index=0):
        """Copy raw bytes (bytes, bytearray or array('b')) into input `index`: int8 values, or
        little-endian int16 ones for a 16x8 model's int16 input."""
        t = self._tensor(self.model.inputs, index, "input")
        n = len(data)
        if n != t.nbytes:
            raise ValueError("input %d is %s (%d bytes); got %d bytes" % (index, t.describe(), t.nbytes, n))
        self.arena[t.offset:t.offset + n] = memoryview(data).cast("b") if _HAS_CAST and not isinstance(data, array) else data

    def get_output(self, index=0):
        """The raw bytes of output `index` (a copy): int8, or little-endian int16 in 16x8 mode."""
        t = self._tensor(self.model.outputs, index, "output")
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
