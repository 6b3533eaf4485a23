"""TFLM's int8 reference_ops::Softmax written out on unbounded Python ints (gemmlowp's
reciprocal step by step), and the quantized parameters TFLM's Prepare derives from an
input scale: the independent reference the portable and C softmax kernels are checked
against, over rows and scales no model produces.
"""

from __future__ import annotations

import numpy as np

from edgeloop.convert.fixedpoint import exp_on_negative_values
from edgeloop.convert.ops.softmax import input_radius
from edgeloop.convert.quant import quantize_multiplier_greater_than_one
from edgeloop_fw.runtime.qmath import rdbpot, srdhm

INT32_MAX = 2**31 - 1


def sat_shl(x: int, s: int) -> int:
    limit = (1 << (31 - s)) - 1
    return INT32_MAX if x > limit else -2**31 if x < -limit else x << s


def tflm_softmax_row(row: list[int], mult: int, left_shift: int, diff_min: int) -> list[int]:
    top = max(row)
    exps = []
    for v in row:
        d = v - top
        exps.append(exp_on_negative_values(srdhm(d * (1 << left_shift), mult), 5) if d >= diff_min else None)
    total = sum(rdbpot(e, 12) for e in exps if e is not None)
    clz = 32 - total.bit_length()
    a = (total << clz) - 2**31  # shifted_sum_minus_one
    s = a + INT32_MAX  # RoundingHalfSum(a, One): (sum + 1) / 2, truncating
    half = (s + 1) // 2
    x = 1515870810 + srdhm(half, -1010580540)
    for _ in range(3):
        x = x + sat_shl(srdhm(x, (1 << 29) - srdhm(half, x)), 2)
    scale = sat_shl(x, 1)
    out = []
    for e in exps:
        if e is None:
            out.append(-128)
        else:
            out.append(max(-128, min(127, rdbpot(srdhm(scale, e), (12 - clz) + 23) - 128)))
    return out


def params_for(input_scale: float, beta: float = 1.0):
    real = min(beta * float(np.float32(input_scale)) * (1 << 26), float(INT32_MAX))
    mult, shift = quantize_multiplier_greater_than_one(real)
    return mult, shift, -input_radius(5, shift)
