"""The front end's C level: elnative.mpy's audio_frame, when the board has the module.

The C (host/edgeloop/native/kernels/el_audio.c) takes the parameters as one
int32 header and one int16 table blob; this module packs them from the loaded
parameters, by the names of the header indices in el_audio.h (a host test
checks the two orders are the same). The front end (audio/frontend.py) imports
it only once it has found elnative.audio_frame; without it the front end runs
the portable Python.
"""

from array import array

VERSION = 1  # EL_AUDIO_VERSION
SCALARS = ("FRAME_LENGTH", "WINDOW_SHIFT", "FFT_LENGTH", "ENERGY_START", "ENERGY_END", "NUM_CHANNELS",
           "SS_SMOOTHING", "SS_ONE_MINUS_SMOOTHING", "SS_ALTERNATE_SMOOTHING",
           "SS_ALTERNATE_ONE_MINUS_SMOOTHING", "SS_SMOOTHING_BITS", "SS_SPECTRAL_SUBTRACTION_BITS",
           "SS_MIN_SIGNAL_REMAINING", "SS_CLAMPING", "PCAN_SNR_SHIFT", "LOG_CORRECTION_BITS",
           "LOG_OUTPUT_SCALE", "OUT_MUL", "OUT_ADD", "OUT_DIV", "OUT_OFFSET", "OUT_MIN", "OUT_MAX")
TABLES = ("WINDOW", "FB_WEIGHTS", "FB_UNWEIGHTS", "FB_FREQ_STARTS", "FB_WEIGHT_STARTS", "FB_WIDTHS",
          "PCAN_LUT", "FFT_TW_RE", "FFT_TW_IM", "FFT_SUPER_RE", "FFT_SUPER_IM", "LOG_LUT")


def work_size(header, tables):
    """Bytes of the work buffer (scratch, then the noise estimate) the C needs."""
    from ..runtime.native import elnative
    return elnative.audio_work_size(header, tables)


def pack(p):
    """(header, tables): array('i') of VERSION, the scalars and each table's (offset, count)
    in int16 units, and one array('h') holding the tables back to back (LOG_LUT's uint16
    values stored as their int16 bit patterns)."""
    total = 0
    for name in TABLES:
        total += len(getattr(p, name))
    header = array("i", [0] * (1 + len(SCALARS) + 2 * len(TABLES)))
    tables = array("h", bytes(2 * total))
    header[0] = VERSION
    k = 1
    for name in SCALARS:
        header[k] = getattr(p, name)
        k += 1
    at = 0
    for name in TABLES:
        a = getattr(p, name)
        header[k] = at
        header[k + 1] = len(a)
        k += 2
        for v in a:
            tables[at] = v - 65536 if v > 32767 else v
            at += 1
    return header, tables
