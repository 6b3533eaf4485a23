"""PAD / PADV2 (int8, int16): tflite::reference_ops::Pad, one output byte at a time.

Each output position takes the input byte it covers, or the pad value's byte
where it lies in the padding; the four dimensions are walked in order so the
output is written sequentially. The last dimension counts bytes, so an int16
value is two positions: its low byte at even ones (WIDTH - 1 masks the parity;
for int8 both halves are VALUE).
"""

from .. import const

# --- generated from opspec: do not edit ---
KERNEL_VERSION = const(2)
INPUT = const(0)
OUTPUT = const(1)
VALUE = const(2)
IN_DIMS = const(3)
OUT_DIMS = const(7)
BEFORE = const(11)
WIDTH = const(15)
# --- end generated ---


def eval(p, arena, model):
    x = p[INPUT]
    y = p[OUTPUT]
    value = p[VALUE]
    odd = p[WIDTH] - 1
    lo = value
    hi = value
    if odd:
        lo = ((value + 128) & 255) - 128
        hi = value >> 8
    i1 = p[IN_DIMS + 1]
    i2 = p[IN_DIMS + 2]
    i3 = p[IN_DIMS + 3]
    o1 = p[OUT_DIMS + 1]
    o2 = p[OUT_DIMS + 2]
    o3 = p[OUT_DIMS + 3]
    b0 = p[BEFORE]
    b1 = p[BEFORE + 1]
    b2 = p[BEFORE + 2]
    b3 = p[BEFORE + 3]
    n0 = p[IN_DIMS]
    for a in range(p[OUT_DIMS]):
        ia = a - b0
        in_a = 0 <= ia < n0
        for b in range(o1):
            ib = b - b1
            in_b = in_a and 0 <= ib < i1
            for c in range(o2):
                ic = c - b2
                if in_b and 0 <= ic < i2:
                    row = x + ((ia * i1 + ib) * i2 + ic) * i3 - b3
                    for d in range(o3):
                        if b3 <= d < b3 + i3:
                            arena[y] = arena[row + d]
                        elif d & odd:
                            arena[y] = hi
                        else:
                            arena[y] = lo
                        y += 1
                else:
                    for d in range(o3):
                        if d & odd:
                            arena[y] = hi
                        else:
                            arena[y] = lo
                        y += 1
