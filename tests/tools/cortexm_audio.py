"""The C audio front end bare-metal on Cortex-M0/M7 under QEMU: one program that runs
el_audio_frame over whole clips (noise state carried from hop to hop, reset per clip),
prints every hop's features and brackets each hop with the instruction counter's markers.

The parameters are the board's packing (edgeloop_fw.audio.native.pack) compiled in as
const arrays; the clips' samples likewise. The expected bytes are TFLM's (the tests
run audio_preprocessor_int8.tflite on the same clips).
"""

from __future__ import annotations

import numpy as np

from edgeloop_fw.audio import native, params
from tests.tools.cortexm import Case

HOP, FRAME = 320, 480


def frames_of(x: np.ndarray) -> int:
    return 1 + (len(x) - FRAME) // HOP if len(x) >= FRAME else 0


def case(clips: dict[str, np.ndarray]) -> tuple[Case, list[tuple[str, int]]]:
    """One Case running every clip; returns it and (clip, frames) in output order."""
    hdr, tables = native.pack(params.load())
    nch = hdr[1 + native.SCALARS.index("NUM_CHANNELS")]
    samples = np.concatenate(list(clips.values())).astype(np.int16)
    starts, order, at = [], [], 0
    for name, x in clips.items():
        starts.append((at, frames_of(x)))
        order.append((name, frames_of(x)))
        at += len(x)
    total = sum(n for _, n in order)
    runs = ",".join(f"{s},{n}" for s, n in starts)
    call = (f"static el_audio a; static uint32_t noise[{nch}]; static const int32_t runs[] = {{{runs}}};\n"
            f"    if (el_audio_bind(&a, au_hdr, {len(hdr)}, au_tab, {len(tables)}) || "
            f"el_audio_scratch_bytes(&a) > sizeof(scratch)) {{ el_puts(\"BIND FAILED\\n\"); return 1; }}\n"
            f"    int8_t *o = au_out;\n"
            f"    for (int r = 0; r < {len(starts)}; r++) {{\n"
            f"      for (int i = 0; i < {nch}; i++) noise[i] = 0;\n"
            f"      for (int f = 0; f < runs[2 * r + 1]; f++, o += {nch}) {{\n"
            f"        el_bench_begin();\n"
            f"        el_audio_frame(&a, au_samples + runs[2 * r] + {HOP} * f, noise, scratch, o);\n"
            f"        el_bench_end();\n"
            f"      }}\n"
            f"    }}")
    arrays = {"au_hdr": ("int32_t", list(hdr), True), "au_tab": ("int16_t", list(tables), True),
              "au_samples": ("int16_t", samples.tolist(), True), "au_out": ("int8_t", [0] * (total * nch), False)}
    return Case("audio_frontend", call, arrays, out="au_out", out_len=total * nch), order


def source(c: Case) -> str:
    from tests.tools import cortexm
    return '#include "el_audio.h"\n' + cortexm.program([c], scratch_bytes=8192)
