"""Does a converted model fit a board? Checked against the board's profile, with the numbers."""

from __future__ import annotations

from ..boards import BoardProfile
from ..errors import ConversionError

# Heap the runtime itself takes on a board besides arena and params: its
# modules' bytecode, the loaded tables and one inference's temporaries. An
# allowance, not yet a measurement: benchmarks/bench_runtime.py measures the
# tables (about 4 KB for micro_speech) but not the module code.
RUNTIME_HEAP_BYTES = 24 * 1024


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
