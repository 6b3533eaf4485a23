"""MAX_POOL_2D / AVERAGE_POOL_2D, int16: reference_integer_ops::MaxPool/AveragePool on int16.

The int8 kernel's arithmetic (window clipped to the input, average rounded
half away from zero over the pixels inside) on little-endian int16 values.
"""

from .. import const

# --- generated from opspec: do not edit ---
KERNEL_VERSION = const(1)
MODE = const(0)
BATCHES = const(1)
IN_H = const(2)
IN_W = const(3)
DEPTH = const(4)
OUT_H = const(5)
OUT_W = const(6)
STRIDE_H = const(7)
STRIDE_W = const(8)
FILTER_H = const(9)
FILTER_W = const(10)
PAD_H = const(11)
PAD_W = const(12)
ACT_MIN = const(13)
ACT_MAX = const(14)
INPUT = const(15)
OUTPUT = const(16)
# --- end generated ---


def eval(p, arena, model):
    in_h = p[IN_H]
    in_w = p[IN_W]
    depth = p[DEPTH]
    out_h = p[OUT_H]
    out_w = p[OUT_W]
    fh = p[FILTER_H]
    fw = p[FILTER_W]
    lo = p[ACT_MIN]
    hi = p[ACT_MAX]
    is_max = p[MODE] == 1
    row = 2 * in_w * depth  # bytes
    step = 2 * depth
    x0 = p[INPUT]
    y = p[OUTPUT]
    for b in range(p[BATCHES]):
        xb = x0 + b * in_h * row
        for oy in range(out_h):
            iy0 = oy * p[STRIDE_H] - p[PAD_H]
            fy0 = -iy0 if iy0 < 0 else 0
            fy1 = in_h - iy0 if in_h - iy0 < fh else fh
            for ox in range(out_w):
                ix0 = ox * p[STRIDE_W] - p[PAD_W]
                fx0 = -ix0 if ix0 < 0 else 0
                fx1 = in_w - ix0 if in_w - ix0 < fw else fw
                count = (fy1 - fy0) * (fx1 - fx0)
                half = count >> 1
                base = xb + iy0 * row + ix0 * step
                for c in range(depth):
                    acc = -32768 if is_max else 0
                    for fy in range(fy0, fy1):
                        i = base + fy * row + fx0 * step + 2 * c
                        for fx in range(fx0, fx1):
                            v = (arena[i + 1] << 8) | (arena[i] & 255)
                            if not is_max:
                                acc += v
                            elif v > acc:
                                acc = v
                            i += step
                    if not is_max:
                        if acc > 0:
                            acc = (acc + half) // count
                        else:
                            acc = -((half - acc) // count)
                    if acc < lo:
                        acc = lo
                    elif acc > hi:
                        acc = hi
                    arena[y] = ((acc + 128) & 255) - 128
                    arena[y + 1] = acc >> 8
                    y += 2
