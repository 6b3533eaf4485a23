"""The C kernels on the host through ctypes, with the runtime's `eval` signature.

This is the CPython face of the native level: tests and benchmarks run a
converted model with these evals in place of the portable kernels and compare
bytes with TFLM. The mapping from the runtime's params to the C arguments is
`params.py`, shared with the board binding.
"""

from __future__ import annotations

import ctypes
from pathlib import Path

from . import build
from .params import conv_args, depthwise_args, fc_args


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
        self.lib.el_mbqm.argtypes = [i32, i32, i32]
        self.lib.el_mbqm.restype = i32
        self.lib.el_mbqm_halves.argtypes = [i32, i32, i32]
        self.lib.el_mbqm_halves.restype = i32

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

    def evals(self) -> dict:
        return {"fully_connected": self.fully_connected, "conv_2d": self.conv_2d,
                "depthwise_conv_2d": self.depthwise_conv_2d}
