"""The Xtensa MAC loops (firmware/edgeloop_fw/runtime/viper/xtensa.py), run as the exact
machine code mpy-cross writes for xtensawin, under qemu-xtensa (tests/tools/xtensa_qemu.py).

No MicroPython runs on an emulated Xtensa, so CPython drives the proof: the int32 sums
are compared with TFLM's reference formula (sum of (x + input_offset) * w on exact
integers) over edge cases, and whole layers (the calls planned as the viper kernels plan
them, requantized by the runtime's qmath) with TFLM's own output bytes.
"""

from __future__ import annotations

import io
import struct

import numpy as np
import pytest

from tests.tools import xtensa_qemu as xq
from tests.tools.paths import REPO

SRC = REPO / "firmware" / "edgeloop_fw" / "runtime" / "viper" / "xtensa.py"
pytestmark = pytest.mark.skipif(xq.unavailable() is not None, reason=xq.unavailable() or "")


@pytest.fixture(scope="module")
def codes():
    return xq.compile_asm(SRC.read_text(), "edgeloop_fw/runtime/viper/xtensa.py")


@pytest.fixture(scope="module")
def runner(tmp_path_factory):
    return xq.Runner(tmp_path_factory.mktemp("xtensa"))


def _reference(x, w, prm, bias, fn):
    """The contract of viper/xtensa.py's docstring, on exact integers."""
    n, runs, xskip, wskip, off, x0, w0, xstep, nout, xout = prm
    if fn != "dots":
        xstep = 1
    out, wrow = [], w0
    for j in range(nout):
        xi, wi, acc = x0 + j * xout, (wrow if fn == "dot0" else w0), bias[j]
        for _ in range(runs):
            for i in range(n):
                acc += int(w[wi + i]) * (int(x[xi + i * xstep]) + off)
            xi += n * xstep + xskip
            wi += n + wskip
        wrow = wi
        out.append((acc + 2**31) % 2**32 - 2**31)  # TFLM's int32 accumulator
    return out


def _cases(fn, rng):
    """(x, w, prm, bias): lengths 0..large and odd, both extreme input zero points
    (offset 128 for zero point -128, -127 for 127), extreme bytes, several runs and outputs."""
    out = []
    for n in (0, 1, 2, 3, 4, 5, 7, 8, 9, 15, 16, 17, 63, 64, 65, 255, 1001):
        for off in ((0,) if fn == "dot0" else (0, 128, -127, int(rng.integers(-127, 129)))):
            runs, nout = int(rng.integers(1, 4)), int(rng.integers(1, 4))
            xstep = int(rng.integers(1, 9)) if fn == "dots" else 1
            xskip, wskip, xout = int(rng.integers(0, 5)), int(rng.integers(0, 3)), int(rng.integers(0, 7))
            span = runs * (n * xstep + xskip) + nout * xout + 8
            wspan = (nout if fn == "dot0" else 1) * runs * (n + wskip) + 8
            x = rng.integers(-128, 128, span, dtype=np.int8)
            w = rng.integers(-128, 128, wspan, dtype=np.int8)
            prm = [n, runs, xskip, wskip, off, 3, 2, xstep, nout, xout]
            out.append((x, w, prm, [int(b) for b in rng.integers(-2**20, 2**20, nout)]))
    for xv, wv, off in ((-128, -128, -127), (127, -128, -127), (-128, 127, 128), (127, 127, 128), (-128, -128, 128)):
        n = 4001  # the largest sums: |x + off| <= 255, |w| <= 128 over a 4001-long row
        prm = [n, 1, 0, 0, 0 if fn == "dot0" else off, 0, 0, 1, 1, 0]
        out.append((np.full(n, xv, np.int8), np.full(n, wv, np.int8), prm, [2**31 - 2**24]))
    return out


@pytest.mark.parametrize("fn", ["dot", "dot0", "dots"])
def test_sums_equal_tflm_reference(codes, runner, fn):
    rng = np.random.default_rng(sum(map(ord, fn)))
    cases = [c for c in _cases(fn, rng)]
    bufs, calls = [], []
    for x, w, prm, bias in cases:
        i = len(bufs)
        bufs += [x.tobytes(), w.tobytes(), struct.pack("<14i", *prm, 1, 0, 0, 0), struct.pack(f"<{len(bias)}i", *bias)]
        calls.append([xq.Buf(i), xq.Buf(i + 1), xq.Buf(i + 2), xq.Buf(i + 3)])
    rets, outs, _ = runner.run(codes[fn], bufs, calls)
    assert rets == [0] * len(cases)  # a small int: the call allocates nothing on the board
    for k, (x, w, prm, bias) in enumerate(cases):
        got = list(struct.unpack(f"<{len(bias)}i", outs[4 * k + 3]))
        assert got == _reference(x, w, prm, bias, fn), (fn, prm)
        assert outs[4 * k] == x.tobytes() and outs[4 * k + 1] == w.tobytes()  # inputs untouched


def _reference_dw3(x, w, prm, acc):
    """dw3's contract (viper/xtensa.py's docstring) on exact integers: the block's sums
    written (no bias) at A, rows ASKIP bytes apart; every other word untouched."""
    _n, _runs, xskip, _wskip, off, x0, w0, s, nout, xout, nrow, yskip, a, askip = prm
    acc, k = list(acc), a // 4
    for r in range(nrow):
        for j in range(nout):
            xi = x0 + r * (nout * xout + yskip) + j * xout
            v = sum(int(w[w0 + 3 * i + t]) * (int(x[xi + i * (3 * s + xskip) + t * s]) + off)
                    for i in range(3) for t in range(3))
            acc[k] = (v + 2**31) % 2**32 - 2**31
            k += 1
        k += askip // 4
    return acc


def test_dw3_sums_equal_tflm_reference(codes, runner):
    """Random blocks (1..5 outputs by 1..4 rows, any tap step, row skip, output and row
    steps, both extreme zero points) and the extreme bytes; the sums land at A, rows
    ASKIP apart, and nothing else in acc changes."""
    rng = np.random.default_rng(3)
    bufs, calls, cases = [], [], []
    for k in range(60):
        off = int(rng.choice([0, 128, -127, int(rng.integers(-127, 129))]))
        nout, nrow = int(rng.integers(1, 6)), int(rng.integers(1, 5))
        s, xskip, xout, yskip = (int(rng.integers(lo, hi)) for lo, hi in ((1, 70), (0, 200), (0, 130), (0, 100)))
        a, askip = 4 * int(rng.integers(0, 3)), 4 * int(rng.integers(0, 3))
        prm = [int(rng.integers(0, 9)), int(rng.integers(0, 9)), xskip, int(rng.integers(0, 9)), off, 3, 2, s,
               nout, xout, nrow, yskip, a, askip]  # N, RUNS, WSKIP: ignored
        x = rng.integers(-128, 128, 3 * (3 * s + xskip) + nrow * (nout * xout + yskip) + 8, dtype=np.int8)
        w = rng.integers(-128, 128, 12, dtype=np.int8)
        if k < 5:
            x[:], w[:], prm[4] = ((-128, -128, -127), (127, -128, -127), (-128, 127, 128), (127, 127, 128),
                                  (-128, -128, 128))[k]
        acc = [int(b) for b in rng.integers(-2**31, 2**31, a // 4 + nrow * (nout + askip // 4) + 2)]
        i = len(bufs)
        bufs += [x.tobytes(), w.tobytes(), struct.pack("<14i", *prm), struct.pack(f"<{len(acc)}i", *acc)]
        calls.append([xq.Buf(i), xq.Buf(i + 1), xq.Buf(i + 2), xq.Buf(i + 3)])
        cases.append((x, w, prm, acc))
    rets, outs, _ = runner.run(codes["dw3"], bufs, calls)
    assert rets == [0] * len(cases)
    for k, (x, w, prm, acc) in enumerate(cases):
        assert list(struct.unpack(f"<{len(acc)}i", outs[4 * k + 3])) == _reference_dw3(x, w, prm, acc), prm
        assert outs[4 * k] == x.tobytes() and outs[4 * k + 1] == w.tobytes()


def test_the_reader_takes_the_bytes_mpy_cross_wrote(codes):
    """Each function is the .mpy's own machine code: it starts with the jump over its
    literal pool and ENTRY (windowed ABI), and ends with RETW.N."""
    from edgeloop.deploy.mpy import compile_source

    mpy = compile_source(SRC.read_bytes(), "edgeloop_fw/runtime/viper/xtensa.py", arch="xtensawin")
    assert set(codes) == {"dot", "dot0", "dots", "dw3"}
    for code in codes.values():
        assert code in mpy
        assert code[0] & 0x3F == 0x06  # J over the literal pool ...
        target = 4 + (int.from_bytes(code[:3], "little") >> 6)
        assert code[target] == 0x36  # ... to ENTRY a1, frame
        assert code.endswith(b"\x1d\xf0")  # RETW.N


def test_plugin_counts_equal_the_execution_log(codes, runner):
    """The counting method: QEMU's plugin count (what the benchmark uses) equals the sum
    of the executed blocks' sizes in `-d in_asm,exec,nochain`, call by call, and one more
    block of four MACs costs what its instructions say."""
    x = bytes(range(200))
    calls, bufs = [], [x, x]
    for n in (1, 4, 8, 64, 4):
        bufs += [struct.pack("<14i", n, 1, 0, 0, 0, 0, 0, 1, 1, 0, 1, 0, 0, 0), struct.pack("<i", 0)]
        calls.append([xq.Buf(0), xq.Buf(1), xq.Buf(len(bufs) - 2), xq.Buf(len(bufs) - 1)])
    plugin = runner.run(codes["dot0"], bufs, calls, count=True)[2]
    log = runner.run(codes["dot0"], bufs, calls, log=True)[2]
    assert plugin == log
    assert plugin[2] - plugin[1] == 22  # 4 more MACs: one more pass of the 22-instruction block
    assert plugin[1] == plugin[4]


def test_viper_kernels_use_the_same_parameter_block():
    """Each viper kernel copies the P_* indices (a const inlines only in its own module)."""
    import re

    want = dict(re.findall(r"^(P_\w+) = const\((\d+)\)", SRC.read_text(), re.M))
    assert len(want) == 15
    for name in ("fully_connected", "conv_2d", "depthwise_conv_2d"):
        text = (SRC.parent / f"{name}.py").read_text()
        assert dict(re.findall(r"^(P_\w+) = const\((\d+)\)", text, re.M)) == want, name
        assert "from .xtensa import" in text


LAYERS = ("speech_fc", "anchor_fc", "odd_fc", "anchor_conv", "odd_conv", "speech_dw", "odd_dw", "odd_dw4",
          "dw1_dscnn", "dw1_same_s2_zpmin_spread", "dw1_valid_zpmax", "dw1_dilated_valid", "odd_dw4_dilated",
          "dw3_narrow", "dw3_s2_m3")
DW3 = ("dw1_dscnn", "dw1_same_s2_zpmin_spread", "dw1_dilated_valid", "dw3_narrow", "dw3_s2_m3")


@pytest.mark.parametrize("case", LAYERS)
def test_layers_give_tflm_bytes(codes, runner, case):
    """Whole layers: padding, strides, dilation, depth multipliers 1/3/4/8, zero points -128
    and 127, per-channel multipliers across 8 decades; TFLM's output bytes."""
    pytest.importorskip("tensorflow")
    from edgeloop.convert.int8 import convert_tflite_bytes
    from edgeloop_fw.runtime.loader import Model
    from tests.tools import cortexm_layers, xtensa_layers
    from tests.tools.native_params import depthwise_args

    tflite, x, want = cortexm_layers.build(case)
    blob = convert_tflite_bytes(tflite, case).data
    y, _, calls = xtensa_layers.run_layer(blob, x, codes, runner)
    assert calls > 0
    assert y == want
    if case in DW3:  # the 3x3 layers went through dw3 (dw3_narrow: and the outputs it cannot take)
        p = next(p for _o, n, p, _t in Model(io.BytesIO(blob)).ops if n == "depthwise_conv_2d")
        fns = [c[0] for c in xtensa_layers.plan("depthwise_conv_2d", depthwise_args(p), bytes(4096))]
        assert "dw3" in fns and (("dots" in fns) == (case == "dw3_narrow")), fns
