"""FULLY_CONNECTED, int8, in viper: the arithmetic of kernels/fully_connected.py.

One viper call runs the whole op; it calls `model.read_const` itself for
each weight chunk (file I/O stays Python), so nothing crosses the
Python/viper boundary per MAC. Param layout: ../opspec.py.

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
from micropython import const

# --- generated from opspec: do not edit ---
KERNEL_VERSION = const(1)
BATCHES = const(0)
DEPTH = const(1)
UNITS = const(2)
INPUT = const(3)
OUTPUT = const(4)
WEIGHTS = const(5)
SCRATCH = const(6)
CHUNK = const(7)
OUTPUT_OFFSET = const(8)
ACT_MIN = const(9)
ACT_MAX = const(10)
PER_UNIT = const(11)
PER_UNIT_STEP = const(3)
BIAS = const(0)
MULTIPLIER = const(1)
SHIFT = const(2)
# --- end generated ---


# The MAC loop in Xtensa assembler: an xtensawin board's deploy ships viper/xtensa.mpy; on
# any other port the file is absent (ImportError) or, deployed as source, not compilable
# there (SyntaxError: invalid micropython decorator), and this kernel keeps its own loop.
try:
    from .xtensa import dot0 as _dot
except (ImportError, SyntaxError, ValueError):
    _dot = None
# viper/xtensa.py's parameter block (a const inlines only in its own module;
# tests/firmware/cpython/test_xtensa_asm.py checks these against that file)
P_N = const(0)
P_RUNS = const(1)
P_XSKIP = const(2)
P_WSKIP = const(3)
P_OFF = const(4)
P_X = const(5)
P_W = const(6)
P_XSTEP = const(7)
P_NOUT = const(8)
P_XOUT = const(9)
P_NROW = const(10)
P_YSKIP = const(11)
P_A = const(12)
P_ASKIP = const(13)
P_SIZE = const(14)


@micropython.viper
def _fc(acc: int, i: int, w: ptr8, a: ptr8, p, model, wbuf, rows: int, dot, prm, accs, arena):
    # The multiplier (2**30 <= m < 2**31) read as a machine word: p[...] would box it as a
    # long int on a 32-bit port, a heap object per channel per inference. It is never
    # negative, so x64's zero-extending ptr32 load gives the same value.
    pmul = ptr32(p)
    batches = int(p[BATCHES])
    depth = int(p[DEPTH])
    units = int(p[UNITS])
    xin = int(p[INPUT])
    yout = int(p[OUTPUT])
    wofs = int(p[WEIGHTS])
    chunk = int(p[CHUNK])
    zp = int(p[OUTPUT_OFFSET])
    lo = int(p[ACT_MIN])
    hi = int(p[ACT_MAX])
    half = 0x20000000
    half += half  # 2**30, built at run time (a literal would be an object on 32-bit)
    sign = half + half  # bit 31
    wrap = sign + sign  # 2**32: 0 on a 32-bit word
    # Xtensa (rows > 0): the rows of weights the scratch holds go through `dot` together,
    # a row longer than the scratch piece by piece
    use = 0
    if rows > 0:
        use = 1
        pp = ptr32(prm)
        pa = ptr32(accs)
        pp[P_RUNS] = 1
        pp[P_XSKIP] = 0
        pp[P_WSKIP] = 0
        pp[P_OFF] = 0
        pp[P_XOUT] = 0
    b = 0
    while b < batches:
        x0 = uint(a) + xin + b * depth
        y = yout + b * units
        g0 = 0
        gend = 0
        c = 0
        while c < units:
            q = PER_UNIT + PER_UNIT_STEP * c
            acc = int(p[q + BIAS])
            mult = pmul[q + MULTIPLIER]
            shift = int(p[q + SHIFT])
            # --- generated requant setup: do not edit ---
            bh = mult >> 16
            bl = mult & 0xFFFF
            lsh = 0
            e = 0
            if shift > 0:
                lsh = shift
            else:
                e = 0 - shift
            mask = (1 << e) - 1
            # --- end generated ---
            row = wofs + c * depth
            d = 0
            if use and depth <= chunk:
                if c >= gend:  # the next rows the scratch holds, in one call
                    k = units - c
                    if k > rows:
                        k = rows
                    model.read_const(row, wbuf)  # rows c .. c + k - 1 (the whole scratch is read)
                    pp[P_N] = depth
                    pp[P_X] = xin + b * depth
                    pp[P_W] = 0
                    pp[P_NOUT] = k
                    j = 0
                    while j < k:
                        pa[j] = 0
                        j += 1
                    dot(arena, wbuf, prm, accs)
                    g0 = c
                    gend = c + k
                t = pa[c - g0]
                if t & sign:  # int32 sign on any word size (x64's ptr32 zero-extends)
                    t -= wrap
                acc += t
                d = depth
            while d < depth:
                n = depth - d
                if n > chunk:
                    n = chunk
                model.read_const(row + d, wbuf)  # whole scratch (w is its address); only n bytes are used
                if use:  # a row longer than the scratch: one call per piece
                    pp[P_N] = n
                    pp[P_X] = xin + b * depth + d
                    pp[P_W] = 0
                    pp[P_NOUT] = 1
                    pa[0] = 0
                    dot(arena, wbuf, prm, accs)
                    t = pa[0]
                    if t & sign:
                        t -= wrap
                    acc += t
                else:
                    x = ptr8(x0 + d)
                    i = 0
                    while i < n:
                        acc += ((w[i] ^ 0x80) - 0x80) * ((x[i] ^ 0x80) - 0x80)
                        i += 1
                d += n
            # --- generated requant: do not edit ---
            # MultiplyByQuantizedMultiplier(acc, mult, shift)
            if lsh:
                acc = acc << lsh
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
            if e:
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
            # --- end generated ---
            a[y + c] = v
            c += 1
        b += 1


def bind(p, arena):
    """The scratch view (a slice of the arena is a heap object) and, for the Xtensa loop,
    its parameter block and one int32 sum per row the scratch holds; made once per interpreter."""
    s = p[SCRATCH]
    w = arena[s:s + p[CHUNK]]
    if _dot is None:
        return w, 0, None, None
    from array import array

    rows = p[CHUNK] // p[DEPTH] or 1
    return w, rows, array("i", bytes(4 * P_SIZE)), array("i", bytes(4 * rows))


def eval(p, arena, model, views=None):
    w, rows, prm, accs = views or bind(p, arena)
    # model, not model.read_const: a method call from viper makes no bound-method object
    _fc(0, 0, w, arena, p, model, w, rows, _dot, prm, accs, arena)
