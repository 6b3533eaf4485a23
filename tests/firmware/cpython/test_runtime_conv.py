"""CONV_2D and DEPTHWISE_CONV_2D kernels on hand-built params against TFLM's
ConvPerChannel / DepthwiseConvPerChannel written out here (loops over every
tap with TFLM's bounds test, per-channel MultiplyByQuantizedMultiplier on
unbounded ints), over random shapes, strides, dilations and padding amounts --
including dilated SAME padding, which the Keras zoo does not produce.

The kernels clip each window to the image instead of testing every tap; this
is where that could go wrong.
"""

from array import array

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from edgeloop.convert.quant import limb_tail
from edgeloop_fw.runtime.kernels import conv_2d, depthwise_conv_2d
from edgeloop_fw.runtime.opspec import pack
from test_runtime_qmath import tflm_mbqm


class Consts:
    def __init__(self, data: bytes):
        self.data = data

    def read_const(self, offset, buf):
        buf[:] = array("b", self.data[offset:offset + len(buf)])


def reference(x, w, bias, mults, in_off, zp, lo, hi, stride, dil, pad, out_hw, depthwise, dm=1):
    n, ih, iw, ic = x.shape
    oh, ow = out_hw
    oc = len(bias)
    y = np.zeros((n, oh, ow, oc), np.int8)
    for b in range(n):
        for oy in range(oh):
            for ox in range(ow):
                for c in range(oc):
                    acc = int(bias[c])
                    fh, fw = w.shape[1], w.shape[2]
                    for fy in range(fh):
                        for fx in range(fw):
                            iy = oy * stride[0] - pad[0] + fy * dil[0]
                            ix = ox * stride[1] - pad[1] + fx * dil[1]
                            if not (0 <= iy < ih and 0 <= ix < iw):
                                continue
                            if depthwise:
                                acc += int(w[c, fy, fx, 0]) * (int(x[b, iy, ix, c // dm]) + in_off)
                            else:
                                for i in range(ic):
                                    acc += int(w[c, fy, fx, i]) * (int(x[b, iy, ix, i]) + in_off)
                    v = tflm_mbqm(acc, *mults[c]) + zp
                    y[b, oy, ox, c] = min(max(v, lo), hi)
    return y


@st.composite
def layers(draw):
    depthwise = draw(st.booleans())
    n = draw(st.integers(1, 2))
    ih, iw = draw(st.integers(1, 7)), draw(st.integers(1, 7))
    ic = draw(st.integers(1, 3))
    fh, fw = draw(st.integers(1, 4)), draw(st.integers(1, 4))
    sh, sw = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    dh, dw = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    ph, pw = draw(st.integers(0, 3)), draw(st.integers(0, 3))
    oh = (ih + 2 * ph - (fh - 1) * dh - 1) // sh + 1
    ow = (iw + 2 * pw - (fw - 1) * dw - 1) // sw + 1
    dm = draw(st.integers(1, 3)) if depthwise else 1
    oc = ic * dm if depthwise else draw(st.integers(1, 4))
    seed = draw(st.integers(0, 2**32 - 1))
    return depthwise, (n, ih, iw, ic), (fh, fw), (sh, sw), (dh, dw), (ph, pw), (max(oh, 1), max(ow, 1)), dm, oc, seed


@settings(max_examples=150, deadline=None)
@given(layers())
def test_clipped_windows_equal_tflm_loops(layer):
    depthwise, xs, (fh, fw), stride, dil, pad, (oh, ow), dm, oc, seed = layer
    rng = np.random.default_rng(seed)
    n, ih, iw, ic = xs
    x = rng.integers(-128, 128, xs).astype(np.int8)
    w = rng.integers(-127, 128, (oc, fh, fw, 1 if depthwise else ic)).astype(np.int8)
    bias = rng.integers(-5000, 5000, oc)
    mults = [(int(rng.integers(2**30, 2**31)), int(rng.integers(-12, 1))) for _ in range(oc)]
    in_off, zp, lo, hi = int(rng.integers(-128, 128)), int(rng.integers(-20, 20)), -128, 127
    want = reference(x, w, bias, mults, in_off, zp, lo, hi, stride, dil, pad, (oh, ow), depthwise, dm)
    xin, yout = 0, x.size
    scratch = yout + n * oh * ow * oc
    fields = dict(batches=n, in_h=ih, in_w=iw, in_c=ic, out_h=oh, out_w=ow, out_c=oc, filter_h=fh, filter_w=fw,
                  stride_h=stride[0], stride_w=stride[1], dilation_h=dil[0], dilation_w=dil[1], pad_h=pad[0],
                  pad_w=pad[1], input=xin, output=yout, weights=0, scratch=scratch, input_offset=in_off,
                  output_offset=zp, act_min=lo, act_max=hi,
                  per_channel=[(int(bias[c]), *mults[c]) for c in range(oc)], limbs=limb_tail(mults))
    if depthwise:
        params = pack("depthwise_conv_2d", depth_multiplier=dm, **fields)
        kernel, taps = depthwise_conv_2d, fh * fw
    else:
        params = pack("conv_2d", **fields)
        kernel, taps = conv_2d, fh * fw * ic
    arena = array("b", x.tobytes() + bytes(n * oh * ow * oc + taps))
    kernel.eval(memoryview(array("i", params)), memoryview(arena), Consts(w.tobytes()))
    got = np.frombuffer(bytes(arena[yout:scratch]), np.int8).reshape(want.shape)
    assert np.array_equal(got, want)
