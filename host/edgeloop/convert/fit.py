"""Does a converted model fit a board? Checked against the board's profile, with the numbers."""

from __future__ import annotations

from edgeloop.boards.profiles import BoardProfile
from ..errors import ConversionError

# Heap the runtime itself takes on a board besides the arena and the params,
# measured on the virtual board (MicroPython 1.27) by benchmarks/bench_runtime.py
# (gc.mem_alloc() after collections; modules 2026-12-07 with every 16x8 kernel, the rest 2026-11-22):
# - its modules after import, from the .mpy files `edgeloop deploy` installs:
#   loader, interpreter, format, opcodes, qmath and every portable kernel 57,312 B
#   (int8 and 16x8; a board imports only its model's kernels, so this is
#   the most they take; tests/firmware/board/test_runtime_heap_board.py re-measures it);
# - one loaded model's objects besides arena and params (open file, I/O tensor
#   descriptions, op tuples, params and arena views, closures): 1,408 B for
#   hello_world (3 ops), 1,272 B for micro_speech (4 ops); the larger is used.
# An inference adds nothing: it allocates no heap (heap_lock-tested).
RUNTIME_MODULES_BYTES = 57_312
MODEL_OBJECTS_BYTES = 1_408
RUNTIME_HEAP_BYTES = RUNTIME_MODULES_BYTES + MODEL_OBJECTS_BYTES


def check_fit(model_bytes: int, arena_bytes: int, params_bytes: int, profile: BoardProfile) -> list[str]:
    """Raise ConversionError if it does not fit; return what was checked, for a report."""
    need_heap = arena_bytes + params_bytes + RUNTIME_HEAP_BYTES
    if model_bytes > profile.fs_bytes:
        raise ConversionError(f"the model is {model_bytes} bytes but {profile.name}'s filesystem holds "
                              f"{profile.fs_bytes}; make the model smaller")
    if need_heap > profile.heap_bytes:
        raise ConversionError(f"the model needs {need_heap} bytes of heap (arena {arena_bytes} + params "
                              f"{params_bytes} + runtime {RUNTIME_HEAP_BYTES}) but {profile.name} has "
                              f"{profile.heap_bytes}; make the model smaller or pick a bigger board")
    return [f"model {model_bytes} B of {profile.fs_bytes} B filesystem",
            f"heap {need_heap} B (arena {arena_bytes} + params {params_bytes} + runtime "
            f"{RUNTIME_HEAP_BYTES}) of {profile.heap_bytes} B"]
