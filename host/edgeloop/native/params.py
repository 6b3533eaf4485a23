"""The one place that knows the runtime's param layout for the native kernels.

The runtime's params (docs/model-format.md, the host op files' docstrings)
are being reworked; the C kernels take plain shapes, pointers and a
requantization block instead, so a layout change touches only this file.
Works on any int sequence (array('i'), memoryview, list). The limb tail the
runtime appends after the per-channel triples (quant.limb_tail) is for the
portable level; the C reads the full multiplier from its TFLM-named slot.
The board-side glue (natmod/el_module.c) reads the same indices.
"""

from __future__ import annotations

GEOM = ("batches", "in_h", "in_w", "in_c", "out_h", "out_w", "out_c")
WINDOW = ("filter_h", "filter_w", "stride_h", "stride_w", "dilation_h", "dilation_w", "pad_h", "pad_w")


def fc_args(p) -> dict:
    """edgeloop/convert/ops/fully_connected.py: input_offset is folded into the bias."""
    return dict(batches=p[0], depth=p[1], units=p[2], input=p[3], output=p[4], weights=p[5],
                input_offset=0, output_offset=p[8], act_min=p[9], act_max=p[10], per_channel=11)


def conv_args(p) -> dict:
    geom = dict(zip(GEOM + WINDOW, p[0:15]), depth_multiplier=1)
    return dict(geom=geom, input=p[15], output=p[16], weights=p[17],
                weight_bytes=p[6] * p[7] * p[8] * p[3],
                input_offset=p[19], output_offset=p[20], act_min=p[21], act_max=p[22], per_channel=23)


def depthwise_args(p) -> dict:
    geom = dict(zip(GEOM, p[0:7]), depth_multiplier=p[7], **dict(zip(WINDOW, p[8:16])))
    return dict(geom=geom, input=p[16], output=p[17], weights=p[18],
                weight_bytes=p[6] * p[8] * p[9],
                input_offset=p[20], output_offset=p[21], act_min=p[22], act_max=p[23], per_channel=24)


# The light ops (el_misc.c): the C structs are runs of the runtime's params,
# so these are the indices where each run starts (edgeloop/convert/ops/*.py).
POOL = dict(mode=0, geom=1, input=15, output=16, max_mode=1)  # el_pool = p[1..14]
ADD = dict(n=0, broadcast=1, input1=2, input2=3, output=4, block=5, block_len=24)  # el_add = p[5..28]
MEAN = dict(input=3, output=4, block=0, block_len=9)  # el_mean = p[0..8]
LUT8 = dict(n=0, input=1, output=2, table=3, scratch=4)
CONCAT = dict(outer=0, output=1, n_inputs=2, first=3)  # then (offset, size) per input
SOFTMAX = dict(outer=0, depth=1, input=2, output=3, table=4, count=5, scratch=6)  # table read into scratch
