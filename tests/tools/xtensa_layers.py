"""A converted single-layer model run through the Xtensa loops under qemu-xtensa.

The calls are planned as the viper kernels plan them on an xtensawin board
(firmware/edgeloop_fw/runtime/viper/*.py): FULLY_CONNECTED one `dot0` for all
units of a batch row; CONV_2D (dilation_w 1) one `dot` per channel and run of
output pixels of a row whose windows are clipped alike (the runs are the
window's rows, (fx1 - fx0) * IN_C contiguous bytes each); DEPTHWISE_CONV_2D the
same with `dots`, taps IN_C * dilation_w bytes apart. All calls of a layer run in one qemu process on
the model's own input and weight bytes; the int32 sums are then requantized
with the runtime's `qmath.mbqm_wide`, so the result can be compared with TFLM's
output bytes.
"""

from __future__ import annotations

import io
import struct

from tests.tools.native_params import conv_args, depthwise_args, fc_args, names
from tests.tools.xtensa_qemu import Buf, Runner

P_SIZE = 10  # viper/xtensa.py's prm: N, RUNS, XSKIP, WSKIP, OFF, X, W, XSTEP, NOUT, XOUT


def _clip(o: int, f: int, d: int, size: int) -> tuple[int, int]:
    """The taps [f0, f1) of a window starting at input index o that fall inside the input."""
    f0 = 0
    while f0 < f and o + f0 * d < 0:
        f0 += 1
    f1 = f
    while f1 > f0 and o + (f1 - 1) * d >= size:
        f1 -= 1
    return f0, f1


def plan(kind: str, a: dict):
    """[(function, [output index], per-channel row, prm)]: one call per run of outputs
    whose windows are clipped alike; outputs with an empty window get no call."""
    calls = []
    if kind == "fully_connected":
        d = a["depth"]
        for b in range(a["batches"]):
            calls.append(("dot0", [b * a["units"] + u for u in range(a["units"])], 0,
                          [d, 1, 0, 0, 0, b * d, 0, 1, a["units"], 0]))
        return calls
    g = a["geom"]
    ih, iw, ic, oh, ow, oc = (g[k] for k in ("in_h", "in_w", "in_c", "out_h", "out_w", "out_c"))
    fh, fw, sh, sw, dh, dw, ph, pw = (g[k] for k in ("filter_h", "filter_w", "stride_h", "stride_w",
                                                     "dilation_h", "dilation_w", "pad_h", "pad_w"))
    row = iw * ic
    off = a["input_offset"]
    for b in range(g["batches"]):
        for oy in range(oh):
            y0 = oy * sh - ph
            fy0, fy1 = _clip(y0, fh, dh, ih)
            spans, ox = [], 0  # (first ox, count, fx0, fx1)
            while ox < ow:
                fx0, fx1 = _clip(ox * sw - pw, fw, dw, iw)
                if spans and tuple(spans[-1][2:]) == (fx0, fx1):
                    spans[-1][1] += 1
                else:
                    spans.append([ox, 1, fx0, fx1])
                ox += 1
            for c in range(oc):
                for ox, count, fx0, fx1 in spans:
                    outs = [((b * oh + oy) * ow + ox + j) * oc + c for j in range(count)]
                    runs = fy1 - fy0
                    if runs == 0 or fx1 == fx0:
                        continue
                    xo = b * ih * row + (y0 + fy0 * dh) * row + (ox * sw - pw + fx0 * dw) * ic
                    if kind == "conv_2d":
                        assert dw == 1, "CONV_2D with dilation_w > 1 keeps viper's own loop"
                        n = (fx1 - fx0) * ic
                        w = c * fh * fw * ic + (fy0 * fw + fx0) * ic
                        calls.append(("dot", outs, c, [n, runs, row * dh - n, fw * ic - n, off, xo, w, 1,
                                                       count, sw * ic]))
                    else:
                        n = fx1 - fx0
                        st = dw * ic
                        w = c * fh * fw + fy0 * fw + fx0
                        fn = "dw3" if (fh, fw, runs, n) == (3, 3, 3, 3) else "dots"  # a whole 3x3 window
                        calls.append((fn, outs, c, [n, runs, row * dh - n * st, fw - n, off,
                                                        xo + c // g["depth_multiplier"], w, st, count, sw * ic]))
    return calls


def run_layer(blob: bytes, x: bytes, codes: dict, runner: Runner | None = None, count: bool = False):
    """(output bytes, instructions of all the MAC calls or None, calls) of the model's one heavy op."""
    from edgeloop_fw.runtime.loader import Model
    from edgeloop_fw.runtime.qmath import mbqm_wide

    model = Model(io.BytesIO(blob))
    ops = [(n, p) for _o, n, p, _t in model.ops if n in ("fully_connected", "conv_2d", "depthwise_conv_2d")]
    assert len(ops) == 1, [n for n, _ in ops]
    kind, p = ops[0]
    a = {"fully_connected": fc_args, "conv_2d": conv_args, "depthwise_conv_2d": depthwise_args}[kind](p)
    nw = a["units"] * a["depth"] if kind == "fully_connected" else a["weight_bytes"]
    w = bytearray(nw)
    model.read_const(a["weights"], w)
    ix = names(kind)
    step = ix.get("PER_UNIT_STEP", ix.get("PER_CHANNEL_STEP"))
    pc = a["per_channel"]

    def channel(out):
        return out % (a["units"] if kind == "fully_connected" else a["geom"]["out_c"])

    acc = {}  # output -> int32 sum; an output no call covers keeps its bias
    n_out = model.outputs[0].nbytes
    for out in range(n_out):
        acc[out] = p[pc + step * channel(out) + ix["BIAS"]]
    runner = runner or Runner()
    calls = plan(kind, a)
    total = 0
    for fn in sorted({c[0] for c in calls}):
        mine = [c for c in calls if c[0] == fn]
        bufs = [bytes(x), bytes(w)]
        for _fn, outs, _ch, prm in mine:
            bufs.append(struct.pack(f"<{P_SIZE}i", *prm))
            bufs.append(struct.pack(f"<{len(outs)}i", *(acc[o] for o in outs)))
        args = [[Buf(0), Buf(1), Buf(2 + 2 * i), Buf(3 + 2 * i)] for i in range(len(mine))]
        _rets, got, counts = runner.run(codes[fn], bufs, args, count=count)
        for i, (_fn, outs, _ch, _prm) in enumerate(mine):
            for o, v in zip(outs, struct.unpack(f"<{len(outs)}i", got[3 + 2 * i])):
                acc[o] = v
        total += sum(counts) if count else 0
    y = bytearray(n_out)
    for out in range(n_out):
        q = pc + step * channel(out)
        v = mbqm_wide(acc[out], p[q + ix["MULTIPLIER"]], p[q + ix["SHIFT"]]) + a["output_offset"]
        y[out] = min(max(v, a["act_min"]), a["act_max"]) & 0xFF
    return bytes(y), (total if count else None), len(calls)


def layer_macs(blob: bytes) -> int:
    """The nominal MACs of the model's one heavy op (every tap, padding included, as the
    Cortex-M benchmarks count them)."""
    from edgeloop_fw.runtime.loader import Model

    model = Model(io.BytesIO(blob))
    kind, p = next((n, p) for _o, n, p, _t in model.ops
                   if n in ("fully_connected", "conv_2d", "depthwise_conv_2d"))
    if kind == "fully_connected":
        a = fc_args(p)
        return a["batches"] * a["depth"] * a["units"]
    g = (conv_args if kind == "conv_2d" else depthwise_args)(p)["geom"]
    k = g["filter_h"] * g["filter_w"] * (g["in_c"] if kind == "conv_2d" else 1)
    return g["batches"] * g["out_h"] * g["out_w"] * g["out_c"] * k
