"""Gesture features: the one copy of the arithmetic between a sensor window and a model.

The host trains on exactly what the board will compute, because both run this
file: `edgeloop train gesture` imports it under CPython to build its training
windows, and the board imports it to feed the model. Only integers are used
(no floats, no numpy), so CPython, MicroPython and CircuitPython give the
same bytes, and nothing here allocates per sample.

Three steps, each used by both ends:

- `to_units`: a recorded value (g, or degree/s) -> the board's int16 units
  (milli-g, 0.1 degree/s; see sensors/imu.py). The host applies it to
  recordings; on the board the IMU driver already delivers these units.
- `input_multiplier` + `quantize_window`: an int16 window -> the int8 input of
  a CNN. The float model reads units / 1000 (g for acceleration); the int8
  model's input quantum is its input tensor's scale, so q = round(w * 0.001 /
  scale) + zero_point, done in fixed point with a multiplier computed
  exactly from the float32 scale (so a board with single-precision floats
  gets the same multiplier as the host).
- `window_features`: an int16 window -> int16 summary features for a tree
  ensemble (emlearn compares int16 features with int16 thresholds).
"""

import struct

from .port import const

INT16_MIN = const(-32768)
INT16_MAX = const(32767)
SHIFT = const(15)
_HALF = const(1 << 14)
UNITS_PER_INPUT = const(1000)  # the float model reads board units / 1000

# Recorded units -> board units per recorded unit (sensors/imu.py fixes the board's units).
PER_UNIT = {"g": 1000, "mg": 1, "dps": 10, "ddps": 1}

STATS = ("mean", "min", "max", "mad", "diff")  # per channel, in this order
MAGNITUDE_STATS = ("mag_mean", "mag_mad")  # |x|+|y|+|z| of the first three channels


def to_units(value, per_unit):
    """value * per_unit rounded half away from zero and saturated to int16."""
    v = value * per_unit
    q = int(v + 0.5) if v >= 0 else -int(0.5 - v)
    return INT16_MAX if q > INT16_MAX else INT16_MIN if q < INT16_MIN else q


def input_multiplier(scale):
    """round(2**15 * 0.001 / scale) from the float32 bits of `scale`, with integers only.

    Computing it in floats would depend on the port's float width (RP2040
    MicroPython uses single precision, the host double) and could differ by
    one, which changes input bytes; this cannot.
    """
    bits = struct.unpack("<I", struct.pack("<f", scale))[0]
    exponent = (bits >> 23) & 0xFF
    if bits >> 31 or exponent in (0, 255):
        raise ValueError("input scale %r is not a positive normal float32" % scale)
    mantissa = (bits & 0x7FFFFF) | 0x800000  # scale = mantissa * 2**(exponent - 150)
    num = 1 << SHIFT
    den = UNITS_PER_INPUT * mantissa
    sh = 150 - exponent
    if sh >= 0:
        num <<= sh
    else:
        den <<= -sh
    mul = (2 * num + den) // (2 * den)
    if not 0 < mul < (1 << SHIFT):
        raise ValueError("input scale %r gives multiplier %d, outside 1..32767" % (scale, mul))
    return mul


def quantize_window(window, out, mul, zero_point):
    """Fill `out` (bytearray, the model's int8 input as bytes) from an int16 window.

    Items past the end of the window are the zero point (a model whose input is
    longer than the window sees silence there). Returns `out`.
    """
    n = len(window)
    for i in range(len(out)):
        q = ((window[i] * mul + _HALF) >> SHIFT) + zero_point if i < n else zero_point
        out[i] = (127 if q > 127 else -128 if q < -128 else q) & 0xFF
    return out


def n_window_features(channels):
    return len(STATS) * channels + (len(MAGNITUDE_STATS) if channels >= 3 else 0)


def feature_names(channel_names):
    names = ["%s_%s" % (c, s) for c in channel_names for s in STATS]
    if len(channel_names) >= 3:
        names += list(MAGNITUDE_STATS)
    return names


def _clamp16(v):
    return INT16_MAX if v > INT16_MAX else INT16_MIN if v < INT16_MIN else v


def window_features(window, channels, out):
    """Fill `out` (array('h') of n_window_features(channels)) from an interleaved int16 window.

    Per channel: mean, min, max, mean absolute deviation from the mean, mean
    absolute first difference (how much it moves). Then, with three or more
    channels, mean and mean absolute deviation of |x|+|y|+|z| (orientation-free
    motion). Integer division floors on every port; sums stay small ints for
    windows up to 16,000 frames.
    """
    n = len(window) // channels
    if n < 2:
        raise ValueError("a window needs at least 2 frames, got %d" % n)
    if len(out) != n_window_features(channels):
        raise ValueError("out holds %d features; %d channels give %d" % (len(out), channels,
                                                                        n_window_features(channels)))
    k = 0
    for c in range(channels):
        s = 0
        lo = INT16_MAX
        hi = INT16_MIN
        d = 0
        prev = window[c]
        i = c
        end = n * channels
        while i < end:
            v = window[i]
            s += v
            if v < lo:
                lo = v
            if v > hi:
                hi = v
            dv = v - prev
            d += dv if dv >= 0 else -dv
            prev = v
            i += channels
        mean = (2 * s + n) // (2 * n)
        dev = 0
        i = c
        while i < end:
            dv = window[i] - mean
            dev += dv if dv >= 0 else -dv
            i += channels
        out[k] = mean
        out[k + 1] = lo
        out[k + 2] = hi
        out[k + 3] = _clamp16(dev // n)
        out[k + 4] = _clamp16(d // (n - 1))
        k += len(STATS)
    if channels >= 3:
        s = 0
        i = 0
        end = n * channels
        while i < end:
            s += _l1(window, i)
            i += channels
        mean = (2 * s + n) // (2 * n)
        dev = 0
        i = 0
        while i < end:
            dv = _l1(window, i) - mean
            dev += dv if dv >= 0 else -dv
            i += channels
        out[k] = _clamp16(mean)
        out[k + 1] = _clamp16(dev // n)
    return out


def _l1(w, i):
    a = w[i]
    b = w[i + 1]
    c = w[i + 2]
    return (a if a >= 0 else -a) + (b if b >= 0 else -b) + (c if c >= 0 else -c)
