"""FULLY_CONNECTED, int8, in viper: the arithmetic of kernels/fully_connected.py.

One viper call runs the whole op; it calls `model.read_const` itself for
each weight chunk (file I/O stays Python), so nothing crosses the
Python/viper boundary per MAC. Param layout: edgeloop/convert/ops/fully_connected.py.

The first three locals of a viper function live in registers on every arch
(REG_LOCAL_NUM is 3), so the MAC loop's `acc`, `i` and weight pointer are
the function's first three parameters; the caller passes 0 for the first two.

Requantization (MultiplyByQuantizedMultiplier = rounding divide by 2**-shift
of SaturatingRoundingDoublingHighMul(acc << shift, mult)), without a 64-bit
product: with u = |a| = uh*2**16 + ul (uh <= 2**15) and
mult = bh*2**16 + bl (0 <= mult < 2**31, so bh < 2**15), u*mult is
    (uh*bh) << 32  +  (uh*bl + ul*bh) << 16  +  ul*bl.
gemmlowp rounds the doubled high half with a nudge of 2**30 (a*b >= 0) or
1 - 2**30 (truncating toward zero when a*b < 0), i.e. for the magnitude
    r = floor((u*mult + c) / 2**31),  c = 2**30 or 2**30 - 1.
With ma = uh*bl, mb = ul*bh (each < 2**31), lo = ul*bl (< 2**32, only read
through & 0xFFFF masks, which give the same bits from a wrapped 32-bit or an
exact 64-bit product) and s = (ma & 0x7FFF) + (mb & 0x7FFF) + (lo >> 16):
    r = 2*uh*bh + (ma >> 15) + (mb >> 15) + (s >> 15)
        + [((s & 0x7FFF) << 16) + (lo & 0xFFFF) + c >= 2**31].
Every term is a non-negative int below 2**31, so 32- and 64-bit words agree.
The rounding right shift is gemmlowp's RoundingDivideByPOT.
"""

import micropython


@micropython.viper
def _fc(acc: int, i: int, w: ptr8, a: ptr8, p, read, wbuf):
    batches = int(p[0])
    depth = int(p[1])
    units = int(p[2])
    xin = int(p[3])
    yout = int(p[4])
    wofs = int(p[5])
    chunk = int(p[7])
    zp = int(p[8])
    lo = int(p[9])
    hi = int(p[10])
    half = 0x20000000
    half += half  # 2**30, built at run time (a literal would be an object on 32-bit)
    b = 0
    while b < batches:
        x0 = uint(a) + xin + b * depth
        y = yout + b * units
        c = 0
        while c < units:
            q = 11 + 3 * c
            acc = int(p[q])
            mult = int(p[q + 1])
            shift = int(p[q + 2])
            row = wofs + c * depth
            d = 0
            while d < depth:
                n = depth - d
                if n > chunk:
                    n = chunk
                read(row + d, wbuf)  # whole scratch (w is its address); only n bytes are used
                x = ptr8(x0 + d)
                i = 0
                while i < n:
                    acc += ((w[i] ^ 0x80) - 0x80) * ((x[i] ^ 0x80) - 0x80)
                    i += 1
                d += n
            # MultiplyByQuantizedMultiplier(acc, mult, shift), see the docstring
            if shift > 0:
                acc = acc << shift
                shift = 0
            bh = mult >> 16
            bl = mult & 0xFFFF
            if acc < 0:
                ul = acc & 0xFFFF
                uh = 0 - (acc >> 16)
                if ul:
                    uh -= 1
                    ul = 0x10000 - ul
                thr = half + 1
            else:
                uh = acc >> 16
                ul = acc & 0xFFFF
                thr = half
            m = ul * bl
            ma = uh * bl
            mb = ul * bh
            s = (ma & 0x7FFF) + (mb & 0x7FFF) + ((m >> 16) & 0xFFFF)
            v = ((uh * bh) << 1) + (ma >> 15) + (mb >> 15) + (s >> 15)
            if ((s & 0x7FFF) << 16) + (m & 0xFFFF) >= thr:
                v += 1
            if acc < 0:
                v = 0 - v
            if shift < 0:
                e = 0 - shift
                mask = (1 << e) - 1
                t = mask >> 1
                if v < 0:
                    t += 1
                r = v & mask
                v = v >> e
                if r > t:
                    v += 1
            v += zp
            if v < lo:
                v = lo
            elif v > hi:
                v = hi
            a[y + c] = v
            c += 1
        b += 1


def eval(p, arena, model):
    s = p[6]
    w = arena[s:s + p[7]]
    _fc(0, 0, w, arena, p, model.read_const, w)
