"""The runtime's params as the C kernels' arguments, for the host build (hostlib).

The C kernels take plain shapes, pointers and a requantization block; this
maps an op's params onto them by the names of edgeloop_fw/runtime/opspec.py
(the board's glue, natmod/el_module.c, reads the same indices from the
generated el_params.h). Works on any int sequence (array('i'), memoryview,
list). The limb tail after the per-channel triples is for the portable
level; the C reads the full multiplier from its triple.
"""

from __future__ import annotations

from edgeloop_fw.runtime.opspec import names

GEOM = ("batches", "in_h", "in_w", "in_c", "out_h", "out_w", "out_c")
WINDOW = ("filter_h", "filter_w", "stride_h", "stride_w", "dilation_h", "dilation_w", "pad_h", "pad_w")

FC = names("fully_connected")
CONV = names("conv_2d")
DW = names("depthwise_conv_2d")


def _pick(p, ix: dict, fields) -> dict:
    return {f: p[ix[f.upper()]] for f in fields}


def fc_args(p) -> dict:
    """input_offset is folded into the bias on the host."""
    return dict(_pick(p, FC, ("batches", "depth", "units", "input", "output", "weights", "output_offset",
                              "act_min", "act_max")), input_offset=0, per_channel=FC["PER_UNIT"])


def _conv_like(p, ix: dict, depth_multiplier: int, weight_bytes: int) -> dict:
    geom = dict(_pick(p, ix, GEOM + WINDOW), depth_multiplier=depth_multiplier)
    return dict(geom=geom, weight_bytes=weight_bytes, per_channel=ix["PER_CHANNEL"],
                **_pick(p, ix, ("input", "output", "weights", "input_offset", "output_offset", "act_min",
                                "act_max")))


def conv_args(p) -> dict:
    return _conv_like(p, CONV, 1, p[CONV["OUT_C"]] * p[CONV["FILTER_H"]] * p[CONV["FILTER_W"]] * p[CONV["IN_C"]])


def depthwise_args(p) -> dict:
    return _conv_like(p, DW, p[DW["DEPTH_MULTIPLIER"]], p[DW["OUT_C"]] * p[DW["FILTER_H"]] * p[DW["FILTER_W"]])


# The light ops (el_misc.c): the C structs are runs of the runtime's params
# (el_kernels.h says which), so these are the indices where each run starts.
_POOL, _ADD, _MEAN = names("pool_2d"), names("add"), names("mean")
POOL = dict(mode=_POOL["MODE"], geom=_POOL["BATCHES"], input=_POOL["INPUT"], output=_POOL["OUTPUT"],
            max_mode=1)  # el_pool = BATCHES..ACT_MAX
ADD = dict(n=_ADD["N"], broadcast=_ADD["BROADCAST"], input1=_ADD["INPUT1"], input2=_ADD["INPUT2"],
           output=_ADD["OUTPUT"], block=_ADD["INPUT1_OFFSET"],
           block_len=_ADD["LIMBS"] - _ADD["INPUT1_OFFSET"])  # el_add = INPUT1_OFFSET..STRIDES2
MEAN = dict(input=_MEAN["INPUT"], output=_MEAN["OUTPUT"], block=_MEAN["OUTER"],
            block_len=_MEAN["LIMBS"])  # el_mean = OUTER..OUTPUT_ZP
LUT8 = {k.lower(): v for k, v in names("lut8").items()}
CONCAT = {k.lower(): v for k, v in names("concatenation").items()}  # INPUTS: (INPUT, SIZE) per input
SOFTMAX = {k.lower(): v for k, v in names("softmax").items() if k in ("OUTER", "DEPTH", "INPUT", "OUTPUT", "TABLE",
                                                                       "COUNT", "SCRATCH")}

TCONV = names("transpose_conv")


def tconv_args(p) -> dict:
    """TRANSPOSE_CONV's geometry (no dilation) and requantization block."""
    geom = dict(_pick(p, TCONV, GEOM + ("filter_h", "filter_w", "stride_h", "stride_w", "pad_h", "pad_w")),
                dilation_h=1, dilation_w=1, depth_multiplier=1)
    return dict(geom=geom, per_channel=TCONV["PER_CHANNEL"],
                weight_bytes=p[TCONV["OUT_C"]] * p[TCONV["FILTER_H"]] * p[TCONV["FILTER_W"]] * p[TCONV["IN_C"]],
                **_pick(p, TCONV, ("input", "output", "weights", "input_offset", "output_offset", "act_min",
                                   "act_max")))
BMM = dict(block=names("batch_matmul")["BATCHES"])  # el_bmm = BATCHES..SHIFT
