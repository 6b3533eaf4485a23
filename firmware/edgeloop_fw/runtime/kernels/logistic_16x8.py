"""LOGISTIC and TANH, int16 -> int16 Q0.15: TFLM's reference_integer_ops Logistic / Tanh, exactly.

The input is rescaled to the table's 1/(3 * 4096) scale ((x * MULTIPLIER + round) >> SHIFT,
both from TFLM's prepare, done on the host), its magnitude splits into a table index and a
fraction (9 fraction bits for LOGISTIC, 8 for TANH: tanh(x) = 2 sigmoid(2x) - 1), the two
neighbouring entries of TFLM's 256-entry sigmoid table are interpolated, and the sign folds
the result back. The table is computed on the host (edgeloop/convert/ops/lstm.sigmoid_table)
and read from the file into scratch, so no op holds it in its params.

Small ints on a 32-bit port: |x * MULTIPLIER| < 2**30, so the rounding term (up to 2**30
when SHIFT is 31) is added after a first one-bit shift, which gives the same floor.
"""

from .. import const

# --- generated from opspec: do not edit ---
KERNEL_VERSION = const(1)
N = const(0)
INPUT = const(1)
OUTPUT = const(2)
TANH = const(3)
MULTIPLIER = const(4)
SHIFT = const(5)
TABLE = const(6)
SCRATCH = const(7)
# --- end generated ---


def bind(p, arena):
    """The scratch view the table is read into, made once at load."""
    s = p[SCRATCH]
    return arena[s:s + 512]


def eval(p, arena, model, t=None):
    if t is None:
        t = bind(p, arena)
    model.read_const(p[TABLE], t)
    mult = p[MULTIPLIER]
    shift = p[SHIFT]
    pre = 1 if shift >= 2 else 0  # ((v * m >> 1) + 2**(s-2)) >> (s-1) == (v * m + 2**(s-1)) >> s
    rnd = (1 << (shift - 1 - pre)) if shift else 0
    post = shift - pre
    if p[TANH]:
        bits = 8
        top = 0xFFFF << 8
    else:
        bits = 9
        top = 0x7FFF << 10
    frac = (1 << bits) - 1
    x = p[INPUT]
    y = p[OUTPUT]
    for _ in range(p[N]):
        v = ((((arena[x + 1] << 8) | (arena[x] & 255)) * mult >> pre) + rnd) >> post
        x += 2
        a = -v if v < 0 else v
        h = a >> bits
        if h >= 255:
            r = top
        else:
            j = 2 * h
            lo = ((t[j + 1] & 255) << 8) | (t[j] & 255)
            r = (lo << bits) + (a & frac) * ((((t[j + 3] & 255) << 8) | (t[j + 2] & 255)) - lo)
        if bits == 8:
            if v >= 0:
                r = (r - 8388608 + 128) >> 8
            else:
                r = (8388608 - r + 127) >> 8
        elif v >= 0:
            r = (r + 512) >> 10
        else:
            r = (33554432 - r + 511) >> 10
        arena[y] = ((r + 128) & 255) - 128
        arena[y + 1] = r >> 8
        y += 2
