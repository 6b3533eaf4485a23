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

P_SIZE = 14  # viper/xtensa.py's prm: N, RUNS, XSKIP, WSKIP, OFF, X, W, XSTEP, NOUT, XOUT, NROW, YSKIP, A, ASKIP
ACC_CAP = 256  # viper/depthwise_conv_2d.py's sums per dw3 chunk: max(OUT_W, min(OUT_H * OUT_W, ACC_CAP))


def _clip(o: int, f: int, d: int, size: int) -> tuple[int, int]:
    """The taps [f0, f1) of a window starting at input index o that fall inside the input."""
    f0 = 0
    while f0 < f and o + f0 * d < 0:
        f0 += 1
    f1 = f
    while f1 > f0 and o + (f1 - 1) * d >= size:
        f1 -= 1
    return f0, f1


def pat3(o: int, d: int, size: int) -> tuple[int, int, int, bool]:
    """A 3-tap window starting at o: its unclipped taps [f0, f1), the tap s its three
    in-bounds slots start at (s = f0 unless that runs past the end, then f1 - 3), and
    whether those slots fit the input (viper/depthwise_conv_2d.py's _pat3)."""
    f0, f1 = _clip(o, 3, d, size)
    s = f0 if o + (f0 + 2) * d <= size - 1 else f1 - 3
    return f0, f1, s, f1 > f0 and o + s * d >= 0 and o + (s + 2) * d <= size - 1


def _runs(n: int, pat) -> list[tuple[int, int, tuple]]:
    """[(first, end, pattern)]: the indices 0..n-1 grouped into runs of equal pattern."""
    out = []
    for i in range(n):
        q = pat(i)
        if out and out[-1][2] == q:
            out[-1][1] = i + 1
        else:
            out.append([i, i + 1, q])
    return [tuple(r) for r in out]


def _within(spans, keep):
    """The spans (first ox, count, fx0, fx1) cut down to the runs of outputs `keep` takes."""
    for ox, count, fx0, fx1 in spans:
        j = 0
        while j < count:
            if not keep(ox + j):
                j += 1
                continue
            k = j
            while k < count and keep(ox + k):
                k += 1
            yield ox + j, k - j, fx0, fx1
            j = k


def plan_dw3(a: dict, w: bytes):
    """The dw3 calls of a 3x3 DEPTHWISE_CONV_2D, as viper/depthwise_conv_2d.py makes them:
    per batch, channel and chunk of output rows (ACC_CAP), one call per block of outputs
    whose row and column windows are clipped and shifted alike, the clipped taps as zero
    weights; plus the outputs no block covers (the kernel's viper loop; here `dots`)."""
    g = a["geom"]
    ih, iw, ic, oh, ow, oc = (g[k] for k in ("in_h", "in_w", "in_c", "out_h", "out_w", "out_c"))
    sh, sw, dh, dw, ph, pw = (g[k] for k in ("stride_h", "stride_w", "dilation_h", "dilation_w", "pad_h", "pad_w"))
    row, st = iw * ic, dw * ic
    rpc = max(ow, min(oh * ow, ACC_CAP)) // ow
    rows = lambda r0, r1: _runs(r1 - r0, lambda i: pat3((r0 + i) * sh - ph, dh, ih))
    cols = _runs(ow, lambda i: pat3(i * sw - pw, dw, iw))
    calls, rest = [], []
    for b in range(g["batches"]):
        for c in range(oc):
            for r0 in range(0, oh, rpc):
                r1 = min(r0 + rpc, oh)
                for ya, yb, (fy0, fy1, by, yok) in rows(r0, r1):
                    for xa, xb, (fx0, fx1, bx, xok) in cols:
                        outs = [((b * oh + r0 + oy) * ow + ox) * oc + c for oy in range(ya, yb) for ox in range(xa, xb)]
                        if not (yok and xok):
                            rest += outs
                            continue
                        taps = bytes(w[c * 9 + (by + i) * 3 + bx + k] if fy0 <= by + i < fy1 and fx0 <= bx + k < fx1
                                     else 0 for i in range(3) for k in range(3))
                        y0, x0 = (r0 + ya) * sh - ph + by * dh, xa * sw - pw + bx * dw
                        nout = xb - xa
                        xo = b * ih * row + y0 * row + x0 * ic + c // g["depth_multiplier"]
                        prm = [3, 3, row * dh - 3 * st, 0, a["input_offset"], xo, 0, st, nout, sw * ic,
                               yb - ya, sh * row - nout * sw * ic, 4 * (ya * ow + xa), 4 * (ow - nout)]
                        calls.append(("dw3", outs, c, prm, taps))
    return calls, set(rest)


def plan(kind: str, a: dict, w: bytes = b""):
    """[(function, [output index], per-channel row, prm, own weights or None)]: one call per
    run of outputs whose windows are clipped alike; outputs with an empty window get no call.
    A 3x3 DEPTHWISE_CONV_2D goes to `dw3` (plan_dw3)."""
    calls = []
    only = None
    if kind == "depthwise_conv_2d" and (a["geom"]["filter_h"], a["geom"]["filter_w"]) == (3, 3):
        calls, only = plan_dw3(a, w)
    if kind == "fully_connected":
        d = a["depth"]
        for b in range(a["batches"]):
            calls.append(("dot0", [b * a["units"] + u for u in range(a["units"])], 0,
                          [d, 1, 0, 0, 0, b * d, 0, 1, a["units"], 0, 1, 0, 0, 0], None))
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
                for ox, count, fx0, fx1 in _within(spans, lambda ox: only is None or
                                                   ((b * oh + oy) * ow + ox) * oc + c in only):
                    outs = [((b * oh + oy) * ow + ox + j) * oc + c for j in range(count)]
                    runs = fy1 - fy0
                    if runs == 0 or fx1 == fx0:
                        continue
                    xo = b * ih * row + (y0 + fy0 * dh) * row + (ox * sw - pw + fx0 * dw) * ic
                    if kind == "conv_2d":
                        assert dw == 1, "CONV_2D with dilation_w > 1 keeps viper's own loop"
                        n = (fx1 - fx0) * ic
                        wo = c * fh * fw * ic + (fy0 * fw + fx0) * ic
                        calls.append(("dot", outs, c, [n, runs, row * dh - n, fw * ic - n, off, xo, wo, 1,
                                                       count, sw * ic, 1, 0, 0, 0], None))
                    else:
                        n = fx1 - fx0
                        st = dw * ic
                        wo = c * fh * fw + fy0 * fw + fx0
                        calls.append(("dots", outs, c, [n, runs, row * dh - n * st, fw - n, off,
                                                        xo + c // g["depth_multiplier"], wo, st, count, sw * ic,
                                                        1, 0, 0, 0], None))
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
    calls = plan(kind, a, bytes(w))
    total = 0
    for fn in sorted({c[0] for c in calls}):
        mine = [c for c in calls if c[0] == fn]
        bufs, args = [bytes(x), bytes(w)], []
        for _fn, outs, _ch, prm, taps in mine:
            if fn == "dw3":  # the kernel's A and ASKIP place the block in its chunk's sums
                n = prm[12] // 4 + prm[10] * (prm[8] + prm[13] // 4)
                bufs += [taps, struct.pack(f"<{P_SIZE}i", *prm), bytes(4 * n)]
                args.append([Buf(0), Buf(len(bufs) - 3), Buf(len(bufs) - 2), Buf(len(bufs) - 1)])
            else:
                bufs += [struct.pack(f"<{P_SIZE}i", *prm), struct.pack(f"<{len(outs)}i", *(acc[o] for o in outs))]
                args.append([Buf(0), Buf(1), Buf(len(bufs) - 2), Buf(len(bufs) - 1)])
        _rets, got, counts = runner.run(codes[fn], bufs, args, count=count)
        for (_fn, outs, _ch, prm, _taps), arg in zip(mine, args):
            sums = struct.unpack(f"<{len(got[arg[3].index]) // 4}i", got[arg[3].index])
            if fn == "dw3":  # written, not added: the bias is the caller's; rows ASKIP apart from A
                k, at = 0, prm[12] // 4
                for _r in range(prm[10]):
                    for _j in range(prm[8]):
                        acc[outs[k]] += sums[at]
                        k, at = k + 1, at + 1
                    at += prm[13] // 4
            else:
                for o, v in zip(outs, sums):
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
