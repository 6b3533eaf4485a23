"""mul, sq, add, sub mod 2**255 - 19 in viper: the limb algorithm of ../field.py, line for line.

Same representation (22 little-endian 12-bit limbs in `array('i')`), same
carried results, so ed25519.py can take these four from here and everything
else (new, scratch, from_bytes, to_bytes) from the plain module. Arrays come
in as Python objects and become pointers inside (`ptr32(x)`), so calls
between these functions pass the arrays, never a raw address.
"""

import micropython

from edgeloop_fw.crypto.field import _TWO_P


@micropython.viper
def _carry(r, c: int):
    """Limb 21 (with its carry) is c: keep 3 bits, fold the rest * 19 into limb 0 on."""
    rp = ptr32(r)
    rp[21] = c & 7
    c = (c >> 3) * 19
    i = 0
    while c != 0 and i < 21:
        c += rp[i]
        rp[i] = c & 0xFFF
        c = c >> 12
        i += 1
    rp[21] = rp[21] + c


@micropython.viper
def _reduce(r, t: ptr32):
    c = 0
    for k in range(43):
        c += t[k]
        t[k] = c & 0xFFF
        c = c >> 12
    t[43] = c
    rp = ptr32(r)
    c = 0
    for i in range(21):
        c += t[i] + 9728 * t[i + 22]
        rp[i] = c & 0xFFF
        c = c >> 12
    _carry(r, c + t[21] + 9728 * t[43])


@micropython.viper
def add(r, a: ptr32, b: ptr32):
    rp = ptr32(r)
    c = 0
    for i in range(21):
        c += a[i] + b[i]
        rp[i] = c & 0xFFF
        c = c >> 12
    _carry(r, c + a[21] + b[21])


@micropython.viper
def sub(r, a: ptr32, b: ptr32):
    rp = ptr32(r)
    p = ptr32(_TWO_P)
    c = 0
    for i in range(21):
        c += a[i] + p[i] - b[i]
        rp[i] = c & 0xFFF
        c = c >> 12
    _carry(r, c + a[21] + p[21] - b[21])


@micropython.viper
def mul(r, a: ptr32, b: ptr32, t):
    tp = ptr32(t)
    for k in range(43):
        tp[k] = 0
    for i in range(22):
        ai = a[i]
        if ai != 0:
            for j in range(22):
                tp[i + j] += ai * b[j]
    _reduce(r, t)


@micropython.viper
def sq(r, a: ptr32, t):
    tp = ptr32(t)
    for k in range(43):
        tp[k] = 0
    for i in range(22):
        ai = a[i]
        if ai != 0:
            tp[i + i] += ai * ai
            ai += ai
            for j in range(i + 1, 22):
                tp[i + j] += ai * a[j]
    _reduce(r, t)
