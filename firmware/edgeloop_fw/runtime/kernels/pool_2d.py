"""MAX_POOL_2D / AVERAGE_POOL_2D, int8: tflite::reference_integer_ops::MaxPool/AveragePool.

The window is clipped to the input (padding is never read), the average
divides by the number of pixels actually inside and rounds half away from
zero as C's truncating division does; the clamp is the fused activation.
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
    row = in_w * depth
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
                base = xb + iy0 * row + ix0 * depth
                for c in range(depth):
                    if is_max:
                        acc = -128
                        for fy in range(fy0, fy1):
                            i = base + fy * row + fx0 * depth + c
                            for fx in range(fx0, fx1):
                                v = arena[i]
                                if v > acc:
                                    acc = v
                                i += depth
                    else:
                        acc = 0
                        for fy in range(fy0, fy1):
                            i = base + fy * row + fx0 * depth + c
                            for fx in range(fx0, fx1):
                                acc += arena[i]
                                i += depth
                        if acc > 0:
                            acc = (acc + half) // count
                        else:
                            acc = -((half - acc) // count)
                    if acc < lo:
                        acc = lo
                    elif acc > hi:
                        acc = hi
                    arena[y] = acc
                    y += 1
