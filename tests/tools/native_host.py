"""The C kernels on the host through ctypes, with the runtime's `eval` signature.

This is the CPython face of the native level: tests and benchmarks run a
converted model with these evals in place of the portable kernels and compare
bytes with TFLM. The mapping from the runtime's params to the C arguments is
`params.py`, shared with the board binding.
"""

from __future__ import annotations

import ctypes
from pathlib import Path

from edgeloop.native import build
from tests.tools.native_params import ADD, BMM, CONCAT, LUT8, MEAN, POOL, SOFTMAX, conv_args, depthwise_args, fc_args, tconv_args


class Requant(ctypes.Structure):
    _fields_ = [("bias", ctypes.c_void_p), ("multiplier", ctypes.c_void_p), ("shift", ctypes.c_void_p),
                ("stride", ctypes.c_int32), ("input_offset", ctypes.c_int32),
                ("output_offset", ctypes.c_int32), ("act_min", ctypes.c_int32), ("act_max", ctypes.c_int32)]


class Geom(ctypes.Structure):
    _fields_ = [(n, ctypes.c_int32) for n in (
        "batches", "in_h", "in_w", "in_c", "out_h", "out_w", "out_c", "filter_h", "filter_w",
        "stride_h", "stride_w", "dilation_h", "dilation_w", "pad_h", "pad_w", "depth_multiplier")]


def _addr(buf) -> int:
    """Address of a writable buffer (array, bytearray, memoryview of one, numpy array)."""
    mv = memoryview(buf)
    return ctypes.addressof(ctypes.c_char.from_buffer(mv.cast("B")))


class HostKernels:
    """The shared library plus evals shaped like `edgeloop_fw.runtime.kernels.<op>.eval`."""

    def __init__(self, build_dir: Path):
        self.lib = ctypes.CDLL(str(build.host_library(Path(build_dir))))
        v, i32 = ctypes.c_void_p, ctypes.c_int32
        self.lib.el_fully_connected_s8.argtypes = [v, v, v, i32, i32, i32, v]
        self.lib.el_conv_2d_s8.argtypes = [v, v, v, v, v, v]
        self.lib.el_depthwise_conv_2d_s8.argtypes = self.lib.el_conv_2d_s8.argtypes
        self.lib.el_conv_2d_scratch_size.argtypes = [v]
        self.lib.el_depthwise_conv_2d_scratch_size.argtypes = [v]
        self.lib.el_transpose_conv_s8_range.argtypes = [v, v, v, v, v, v, i32, i32]
        self.lib.el_transpose_conv_scratch_bytes.argtypes = [v, i32]
        self.lib.el_batch_matmul_s8.argtypes = [v, v, v]
        self.lib.el_batch_matmul_scratch_bytes.argtypes = [v]
        self.lib.el_mat_vec_s8.argtypes = [v, i32, i32, v, i32, v]
        self.lib.el_mbqm.argtypes = [i32, i32, i32]
        self.lib.el_mbqm.restype = i32
        self.lib.el_mbqm_halves.argtypes = [i32, i32, i32]
        self.lib.el_mbqm_halves.restype = i32
        self.lib.el_pool_2d_s8.argtypes = [v, ctypes.c_int, v, v]
        self.lib.el_add_s8.argtypes = [v, i32, ctypes.c_int, v, v, v]
        self.lib.el_mean_s8.argtypes = [v, v, v]
        self.lib.el_lut8_s8.argtypes = [v, v, v, i32]
        self.lib.el_concat_s8.argtypes = [i32, i32, v, v, v]
        self.lib.el_softmax_s8.argtypes = [i32, i32, v, i32, v, v]

    def mbqm(self, x: int, multiplier: int, shift: int) -> int:
        return self.lib.el_mbqm(x, multiplier, shift)

    def mbqm_halves(self, x: int, multiplier: int, shift: int) -> int:
        """The ARMv6-M formula (four 16x16 products), compiled for the host."""
        return self.lib.el_mbqm_halves(x, multiplier, shift)

    @staticmethod
    def _requant(p, base: int, r: dict) -> Requant:
        at = _addr(p) + 4 * r["per_channel"]
        return Requant(at, at + 4, at + 8, 3, r["input_offset"], r["output_offset"], r["act_min"], r["act_max"])

    def fully_connected(self, p, arena, model) -> None:
        a = fc_args(p)
        w = bytearray(a["units"] * a["depth"])
        model.read_const(a["weights"], w)
        base = _addr(arena)
        q = self._requant(p, base, a)
        self.lib.el_fully_connected_s8(base + a["input"], _addr(w), base + a["output"],
                                       a["batches"], a["depth"], a["units"], ctypes.byref(q))

    def _conv(self, p, arena, model, args, fn, size_fn) -> None:
        a = args(p)
        g = Geom(**a["geom"])
        w = bytearray(a["weight_bytes"])
        model.read_const(a["weights"], w)
        scratch = (ctypes.c_int32 * ((size_fn(ctypes.byref(g)) + 3) // 4))()
        base = _addr(arena)
        q = self._requant(p, base, a)
        fn(ctypes.byref(g), base + a["input"], _addr(w), base + a["output"], ctypes.byref(q), scratch)

    def conv_2d(self, p, arena, model) -> None:
        self._conv(p, arena, model, conv_args, self.lib.el_conv_2d_s8, self.lib.el_conv_2d_scratch_size)

    def depthwise_conv_2d(self, p, arena, model) -> None:
        self._conv(p, arena, model, depthwise_args, self.lib.el_depthwise_conv_2d_s8,
                   self.lib.el_depthwise_conv_2d_scratch_size)

    def transpose_conv(self, p, arena, model) -> None:
        """Every output channel in one call (the board streams groups; test_native_module covers those)."""
        a = tconv_args(p)
        g = Geom(**a["geom"])
        oc = g.out_c
        w = bytearray(a["weight_bytes"])
        model.read_const(a["weights"], w)
        scratch = (ctypes.c_int32 * ((self.lib.el_transpose_conv_scratch_bytes(ctypes.byref(g), oc) + 3) // 4))()
        base = _addr(arena)
        q = self._requant(p, base, a)
        self.lib.el_transpose_conv_s8_range(ctypes.byref(g), base + a["input"], _addr(w), base + a["output"],
                                            ctypes.byref(q), scratch, 0, oc)

    def batch_matmul(self, p, arena, model) -> None:
        m = _addr(p) + 4 * BMM["block"]
        scratch = (ctypes.c_int32 * ((self.lib.el_batch_matmul_scratch_bytes(m) + 3) // 4 + 1))()
        self.lib.el_batch_matmul_s8(m, _addr(arena), scratch)

    def lstm(self, p, arena, model) -> None:
        """kernels/lstm.py's time loop and gate arithmetic with the gate sums from el_mat_vec_s8,
        as native/lstm.py calls it (rows FEATURES + UNITS apart, input half then recurrent)."""
        from array import array

        from edgeloop_fw.runtime.kernels import lstm as k

        f, u = p[k.FEATURES], p[k.UNITS]
        w = bytearray(4 * u * (f + u))
        model.read_const(p[k.WEIGHTS], w)
        views = k.bind(p, arena) + (array("i", bytes(32 * u)),)

        def dots(views, arena, x):
            out = _addr(views[4])
            self.lib.el_mat_vec_s8(_addr(w), f + u, 4 * u, _addr(arena) + x, f, out)
            self.lib.el_mat_vec_s8(_addr(w) + f, f + u, 4 * u, _addr(views[1]), u, out + 16 * u)

        k.eval(p, arena, model, views, dots)

    # --- light ops: the C structs are runs of the params, passed by address

    def pool_2d(self, p, arena, model) -> None:
        base, pa = _addr(arena), _addr(p)
        self.lib.el_pool_2d_s8(pa + 4 * POOL["geom"], int(p[POOL["mode"]] == POOL["max_mode"]),
                               base + p[POOL["input"]], base + p[POOL["output"]])

    def add(self, p, arena, model) -> None:
        base = _addr(arena)
        self.lib.el_add_s8(_addr(p) + 4 * ADD["block"], p[ADD["n"]], p[ADD["broadcast"]],
                           base + p[ADD["input1"]], base + p[ADD["input2"]], base + p[ADD["output"]])

    def mean(self, p, arena, model) -> None:
        base = _addr(arena)
        self.lib.el_mean_s8(_addr(p) + 4 * MEAN["block"], base + p[MEAN["input"]], base + p[MEAN["output"]])

    def lut8(self, p, arena, model) -> None:
        table = bytearray(256)
        model.read_const(p[LUT8["table"]], table)
        base = _addr(arena)
        self.lib.el_lut8_s8(_addr(table), base + p[LUT8["input"]], base + p[LUT8["output"]], p[LUT8["n"]])

    def concatenation(self, p, arena, model) -> None:
        k, base = p[CONCAT["n_inputs"]], _addr(arena)
        units = [CONCAT["inputs"] + CONCAT["inputs_step"] * i for i in range(k)]
        xs = (ctypes.c_void_p * k)(*[base + p[q + CONCAT["input"]] for q in units])
        sizes = (ctypes.c_int32 * k)(*[p[q + CONCAT["size"]] for q in units])
        self.lib.el_concat_s8(p[CONCAT["outer"]], k, xs, sizes, base + p[CONCAT["output"]])

    def softmax(self, p, arena, model) -> None:
        table = bytearray(4 * p[SOFTMAX["count"]])
        model.read_const(p[SOFTMAX["table"]], table)
        base = _addr(arena)
        self.lib.el_softmax_s8(p[SOFTMAX["outer"]], p[SOFTMAX["depth"]], _addr(table), p[SOFTMAX["count"]],
                               base + p[SOFTMAX["input"]], base + p[SOFTMAX["output"]])

    def evals(self) -> dict:
        return {"fully_connected": self.fully_connected, "conv_2d": self.conv_2d,
                "depthwise_conv_2d": self.depthwise_conv_2d, "pool_2d": self.pool_2d, "add": self.add,
                "mean": self.mean, "lut8": self.lut8, "concatenation": self.concatenation,
                "softmax": self.softmax, "transpose_conv": self.transpose_conv,
                "batch_matmul": self.batch_matmul, "lstm": self.lstm}
