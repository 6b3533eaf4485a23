"""Every op's int32 params, written down once: names, order, variable tails, version.

An op's params are written by the host (edgeloop/convert/ops/*.py, through
`pack`) and read by three kernel levels (kernels/, viper/, native/ and the C
glue natmod/el_module.c). Each of those reads them through names; the names
and their indices come from here by generation
(`python -m tests.tools.opspec_gen`), never by hand:
- the board's files get a block of `NAME = const(i)` lines, because
  MicroPython inlines a const only inside the module that defines it (an
  imported name would be a dict lookup per use, and viper needs literals);
- the C glue gets natmod/el_params.h;
- the host imports this module.
tests/host/test_opspec.py fails when a generated block differs from this file.

This module is plain data (MicroPython can import it too), but the runtime on
the board never does: it would cost RAM for names the generated consts
already inlined.

OPS[name] = (version, fields, repeat, limbs), name as in opcodes.KERNELS:
- fields: the fixed fields in order; ("name", n) is a run of n values whose
  first index is NAME;
- repeat: None or (tail, count_field, items): after the fixed fields, the
  `items` tuple once per unit of the fixed field `count_field`;
- limbs: True when quant.limb_tail follows (STEP, then the multipliers'
  qmath.split limbs once when STEP is 0, per unit when it is 3).
The version is the op's entry in the op table's kernel-version field: raise
it whenever a field moves or changes meaning, so a board refuses a model
converted for another layout instead of misreading it.
"""

OPS = {
    "fully_connected": (1, (
        "batches", "depth", "units", "input", "output",
        "weights",        # file: int8 [UNITS, DEPTH]
        "scratch",        # arena, CHUNK bytes
        "chunk",          # bytes per weight read, <= DEPTH
        "output_offset", "act_min", "act_max",
    ), ("per_unit", "units", ("bias", "multiplier", "shift")), True),  # bias has input_offset folded in
    "conv_2d": (1, (
        "batches", "in_h", "in_w", "in_c", "out_h", "out_w", "out_c",
        "filter_h", "filter_w", "stride_h", "stride_w", "dilation_h", "dilation_w", "pad_h", "pad_w",
        "input", "output",
        "weights",        # file: int8 [OUT_C, FILTER_H, FILTER_W, IN_C]
        "scratch",        # arena, FILTER_H * FILTER_W * IN_C bytes: one output channel's filter
        "input_offset", "output_offset", "act_min", "act_max",
    ), ("per_channel", "out_c", ("bias", "multiplier", "shift")), True),
    "depthwise_conv_2d": (1, (
        "batches", "in_h", "in_w", "in_c", "out_h", "out_w", "out_c", "depth_multiplier",
        "filter_h", "filter_w", "stride_h", "stride_w", "dilation_h", "dilation_w", "pad_h", "pad_w",
        "input", "output",
        "weights",        # file: int8 [OUT_C, FILTER_H, FILTER_W], one channel contiguous
        "scratch",        # arena, FILTER_H * FILTER_W bytes
        "input_offset", "output_offset", "act_min", "act_max",
    ), ("per_channel", "out_c", ("bias", "multiplier", "shift")), True),
    "pool_2d": (1, (
        "mode",           # 0 average, 1 max
        "batches", "in_h", "in_w", "depth", "out_h", "out_w",  # from BATCHES to ACT_MAX: C's el_pool
        "stride_h", "stride_w", "filter_h", "filter_w", "pad_h", "pad_w", "act_min", "act_max",
        "input", "output",
    ), None, False),
    "add": (1, (
        "n", "broadcast", "input1", "input2", "output",
        "input1_offset", "input2_offset", "output_offset", "left_shift",  # from here to STRIDES2: C's el_add
        "input1_multiplier", "input1_shift", "input2_multiplier", "input2_shift",
        "output_multiplier", "output_shift", "act_min", "act_max",
        ("dims", 4),      # the 4-D output shape
        ("strides1", 4),  # per dimension, 0 where INPUT1 repeats
        ("strides2", 4),
        ("limbs", 9),     # qmath.split of INPUT1, INPUT2, OUTPUT multipliers
    ), None, False),
    "mean": (1, (
        "outer", "count", "inner", "input", "output",  # from OUTER to OUTPUT_ZP: C's el_mean
        "bias",           # -zero_point_in * COUNT
        "multiplier", "shift", "output_zp",
        ("limbs", 3),     # qmath.split(MULTIPLIER)
    ), None, False),
    "lut8": (1, (
        "n", "input", "output",
        "table",          # file: 256 int8, indexed by x + 128
        "scratch",        # arena, 256 bytes
    ), None, False),
    "concatenation": (1, (
        "outer", "output", "n_inputs",
    ), ("inputs", "n_inputs", ("input", "size")), False),
    "softmax": (1, (
        "outer", "depth", "input", "output",
        "table",          # file: COUNT little-endian int32 exp values
        "count",          # 1 - diff_min, at most 256
        "scratch",        # arena, 4 * COUNT bytes
        ("regs", 6),      # what the kernel computes in (zero in the file)
        "input_multiplier", "input_left_shift", "diff_min",  # TFLM's SoftmaxParams, for tools
    ), None, False),
    "reshape": (1, (), None, False),
    "transpose": (1, (
        "input", "output",
        ("dims", 4),      # the output's extents, rank padded to 4 with leading 1s
        ("strides", 4),   # per output axis: its step in the input, in bytes
    ), None, False),
    # --- ops1: two-input element-wise ops (ops/binary.py); keep new entries below ---
    "sub": (1, (
        "n", "broadcast", "input1", "input2", "output",
        "const", "const_size", "const_to",  # a constant input: file offset, bytes, its arena copy (scratch)
        "input1_offset", "input2_offset", "output_offset", "left_shift",
        "input1_multiplier", "input1_shift", "input2_multiplier", "input2_shift",
        "output_multiplier", "output_shift", "act_min", "act_max",
        ("dims", 4),      # the 4-D output shape
        ("strides1", 4),  # per dimension, 0 where INPUT1 repeats
        ("strides2", 4),
        ("limbs", 9),     # qmath.split of INPUT1, INPUT2, OUTPUT multipliers
    ), None, False),
    "mul": (1, (
        "n", "broadcast", "input1", "input2", "output",
        "const", "const_size", "const_to",  # as in "sub"
        "input1_offset", "input2_offset", "output_offset",
        "output_multiplier", "output_shift", "act_min", "act_max",
        ("dims", 4), ("strides1", 4), ("strides2", 4),  # as in "sub"
        ("limbs", 3),     # qmath.split(OUTPUT_MULTIPLIER)
    ), None, False),
    "maximum_minimum": (2, (
        "n", "broadcast", "input1", "input2", "output",
        "const", "const_size", "const_to",  # as in "sub"
        "mode",           # 0 MAXIMUM, 1 MINIMUM
        ("dims", 4), ("strides1", 4), ("strides2", 4),  # as in "sub" (strides count values)
        "width",          # bytes per value: 1 int8, 2 int16 (then BROADCAST is 1: the strided walk)
    ), None, False),
    "prelu": (1, (
        "n", "broadcast", "input1", "input2", "output",  # INPUT2 is alpha
        "const", "const_size", "const_to",  # as in "sub"
        "input_offset", "alpha_offset", "output_offset",
        "output_multiplier_1", "output_shift_1", "output_multiplier_2", "output_shift_2",
        ("dims", 4), ("strides1", 4), ("strides2", 4),  # as in "sub"
        ("limbs", 6),     # qmath.split of OUTPUT_MULTIPLIER_1, OUTPUT_MULTIPLIER_2
    ), None, False),
    "dequantize": (1, (
        "n", "input", "output",  # OUTPUT: N float32 values, 4 * N bytes
        "table",          # file: 256 little-endian float32, indexed by x + 128
        "scratch",        # arena, 1024 bytes
    ), None, False),
    # --- ops2: data movement, TRANSPOSE_CONV, BATCH_MATMUL ---
    "pad": (2, (      # PAD, PADV2; shapes right-aligned to 4-D, the last dimension in bytes
        "input", "output",
        "value",          # the pad value: the output zero point (PAD) or PADV2's constant
        ("in_dims", 4), ("out_dims", 4),
        ("before", 4),    # padding before each dimension
        "width",          # bytes per value: 1 int8, 2 int16 (VALUE's low byte first)
    ), None, False),
    "strided_slice": (1, (  # SLICE, STRIDED_SLICE; shapes right-aligned to 4-D
        "input",
        "start",          # byte offset of the first element read, inside INPUT
        "output",
        ("counts", 4),    # output size per dimension
        ("steps", 4),     # input bytes between neighbours per dimension (negative: backwards)
    ), None, False),
    "split": (1, (    # SPLIT, SPLIT_V, UNPACK: CONCATENATION's inverse
        "outer", "input", "n_outputs",
    ), ("outputs", "n_outputs", ("output", "size")), False),
    "gather": (1, (   # GATHER with constant indices
        "outer", "axis_size", "inner", "input", "output", "n_indices",
    ), ("indices", "n_indices", ("index",)), False),
    "transpose_conv": (1, (
        "batches", "in_h", "in_w", "in_c", "out_h", "out_w", "out_c",
        "filter_h", "filter_w", "stride_h", "stride_w", "pad_h", "pad_w",
        "input", "output",
        "weights",        # file: int8 [OUT_C, FILTER_H, FILTER_W, IN_C]
        "scratch",        # arena, FILTER_H * FILTER_W * IN_C bytes: one output channel's filter
        "input_offset", "output_offset", "act_min", "act_max",
    ), ("per_channel", "out_c", ("bias", "multiplier", "shift")), True),
    "batch_matmul": (1, (
        ("batches", 2),   # the output's two leading (broadcast) dimensions, 1 when absent
        "rows", "cols", "depth",
        "lhs", ("lhs_batch", 2),  # arena; bytes per step of each batch dimension, 0 where broadcast
        "lhs_row", "lhs_k",       # bytes per row / per depth step (adj_x swaps them)
        "rhs", ("rhs_batch", 2),
        "rhs_k", "rhs_col",
        "output", "lhs_offset", "rhs_offset", "output_offset",
        "multiplier", "shift",
        ("limbs", 3),     # qmath.split(MULTIPLIER)
    ), None, False),
    "lstm": (1, (
        "batches", "steps", "features", "units", "input", "output",
        "weights",        # file: int8 [4 gates (input, forget, cell, output)][UNITS][FEATURES + UNITS]:
                          # per unit, its input-weight row, then its recurrent-weight row
        "scratch",        # arena, FEATURES + UNITS bytes: one unit's two rows
        "hidden_zp",      # the hidden state's (= the output's) zero point
        "cell_clip",      # quantized cell clip, 0 = none
        "cell_tanh_mult", "cell_tanh_shift",  # tanh(cell) input rescale: (c * MULT + round) >> SHIFT
        ("gate_q", 32),   # per gate: input FC (m0, m1, m2, shift), recurrent FC (m0, m1, m2, shift)
        ("mul_q", 12),    # forget*cell, input*cell gate, output*tanh(cell): (m0, m1, m2, shift)
        ("sigmoid", 256),  # 65536 * sigmoid(k / 24), the int16 sigmoid/tanh interpolation table
    ), ("per_unit", "units", ("in_i", "rec_i", "in_f", "rec_f", "in_c", "rec_c", "in_o", "rec_o")),
        False),  # per gate: input FC bias (input offset folded), recurrent FC bias (hidden offset folded)
    # TFLM's 16x8 mode (opcodes.KERNELS_16X8): int16 activations (zero point 0),
    # int8 weights, int64 bias as BIAS_HI * 2**32 + BIAS_LO (both int32). The
    # accumulator is int64 and TFLM requantizes it with the int64
    # MultiplyByQuantizedMultiplier: (acc * REDUCED + 2**(TOTAL_SHIFT-1)) >> TOTAL_SHIFT,
    # REDUCED the multiplier rounded to 16 bits, TOTAL_SHIFT = 15 - SHIFT
    # (MULTIPLIER and SHIFT are TFLM's, kept for tools). Arena offsets are bytes.
    "fully_connected_16x8": (1, (
        "batches", "depth", "units", "input", "output",
        "weights",        # file: int8 [UNITS, DEPTH]
        "scratch",        # arena, CHUNK bytes
        "chunk",          # bytes per weight read, <= DEPTH
        "act_min", "act_max",
    ), ("per_unit", "units", ("bias_hi", "bias_lo", "multiplier", "shift", "reduced", "total_shift")), False),
    "conv_2d_16x8": (1, (
        "batches", "in_h", "in_w", "in_c", "out_h", "out_w", "out_c",
        "filter_h", "filter_w", "stride_h", "stride_w", "dilation_h", "dilation_w", "pad_h", "pad_w",
        "input", "output",
        "weights",        # file: int8 [OUT_C, FILTER_H, FILTER_W, IN_C]
        "scratch",        # arena, FILTER_H * FILTER_W * IN_C bytes
        "act_min", "act_max",
    ), ("per_channel", "out_c", ("bias_hi", "bias_lo", "multiplier", "shift", "reduced", "total_shift")), False),
    "depthwise_conv_2d_16x8": (1, (
        "batches", "in_h", "in_w", "in_c", "out_h", "out_w", "out_c", "depth_multiplier",
        "filter_h", "filter_w", "stride_h", "stride_w", "dilation_h", "dilation_w", "pad_h", "pad_w",
        "input", "output",
        "weights",        # file: int8 [OUT_C, FILTER_H, FILTER_W]
        "scratch",        # arena, FILTER_H * FILTER_W bytes
        "act_min", "act_max",
    ), ("per_channel", "out_c", ("bias_hi", "bias_lo", "multiplier", "shift", "reduced", "total_shift")), False),
    "pool_2d_16x8": (1, (
        "mode",           # 0 average, 1 max
        "batches", "in_h", "in_w", "depth", "out_h", "out_w",
        "stride_h", "stride_w", "filter_h", "filter_w", "pad_h", "pad_w", "act_min", "act_max",
        "input", "output",
    ), None, False),
    "add_16x8": (1, (     # as "add", with LEFT_SHIFT 15 (TFLM's for int16)
        "n", "broadcast", "input1", "input2", "output",
        "input1_offset", "input2_offset", "output_offset", "left_shift",
        "input1_multiplier", "input1_shift", "input2_multiplier", "input2_shift",
        "output_multiplier", "output_shift", "act_min", "act_max",
        ("dims", 4), ("strides1", 4), ("strides2", 4),
        ("limbs", 9),     # qmath.split of INPUT1, INPUT2, OUTPUT multipliers
    ), None, False),
    "mean_16x8": (1, (    # as "mean", over int16 values with an int16 clamp
        "outer", "count", "inner", "input", "output",
        "bias",           # -zero_point_in * COUNT
        "multiplier", "shift", "output_zp",
        ("limbs", 3),     # qmath.split(MULTIPLIER)
    ), None, False),
    "quantize_16x8": (1, (  # QUANTIZE with an int16 end: int16 -> int16, int8 -> int16, int16 -> int8
        "n", "input", "output",
        "in_bytes", "out_bytes",  # 1 (int8) or 2 (int16) a value
        "input_zp", "shift", "output_zp",
        ("limbs", 3),     # qmath.split of the s_in / s_out multiplier
    ), None, False),
    "softmax_16x8": (1, (  # int16 -> int16, TFLM's SoftmaxInt16
        "outer", "depth", "input", "output",
        "luts",           # file: 513 exp then 513 1/(1+x) little-endian int16 (TFLM's gen_lut)
        "scratch",        # arena, 2052 bytes the LUTs are read into
        "shift",          # of the input_diff rescale (multiplier: LIMBS)
        ("limbs", 3),     # qmath.split(input multiplier)
    ), None, False),
    "relu_16x8": (1, (    # RELU (rescaled, then clamped) and RELU6 (clamped only), int16
        "n", "input", "output",
        "rescale",        # 1: OUTPUT_ZP + mbqm(x - INPUT_ZP); 0: x as it is (TFLM's Relu6Quantized)
        "input_zp", "shift", "output_zp", "lo", "hi",
        ("limbs", 3),     # qmath.split of the s_in / s_out multiplier
    ), None, False),
    "dequantize_16x8": (1, (  # int16 -> float32: TFLM's float(double(scale) * (x - zero_point))
        "n", "input", "output",  # OUTPUT: N float32 values, 4 * N bytes
        "zero_point",
        "mant_hi", "mant_lo",  # the scale's 24-bit mantissa as two 12-bit halves
        "bias",           # the float32 exponent field of mantissa * |x - zero_point| before any rounding shift
    ), None, False),
    "logistic_16x8": (1, (  # LOGISTIC and TANH, int16 -> int16 Q0.15: TFLM's table interpolation
        "n", "input", "output",
        "tanh",           # 1: TANH (a 2**-8 table step, output 2 sigmoid(2x) - 1); 0: LOGISTIC (2**-9)
        "multiplier",     # the input rescale to the table's 1/(3 * 4096) scale: (x * MULT + round) >> SHIFT
        "shift",
        "table",          # file: 256 little-endian uint16, 65536 sigmoid(k / 24) (TFLM's sigmoid_table_uint16)
        "scratch",        # arena, 512 bytes the table is read into
    ), None, False),
    "sub_16x8": (1, (     # as "sub" over int16 values: LEFT_SHIFT 15, offsets 0, CONST_SIZE in bytes
        "n", "broadcast", "input1", "input2", "output",
        "const", "const_size", "const_to",
        "input1_offset", "input2_offset", "output_offset", "left_shift",
        "input1_multiplier", "input1_shift", "input2_multiplier", "input2_shift",
        "output_multiplier", "output_shift", "act_min", "act_max",
        ("dims", 4), ("strides1", 4), ("strides2", 4),  # strides in elements
        ("limbs", 9),     # qmath.split of INPUT1, INPUT2, OUTPUT multipliers
    ), None, False),
    "mul_16x8": (1, (     # as "mul" over int16 values: offsets 0, CONST_SIZE in bytes
        "n", "broadcast", "input1", "input2", "output",
        "const", "const_size", "const_to",
        "input1_offset", "input2_offset", "output_offset",
        "output_multiplier", "output_shift", "act_min", "act_max",
        ("dims", 4), ("strides1", 4), ("strides2", 4),  # strides in elements
        ("limbs", 3),     # qmath.split(OUTPUT_MULTIPLIER)
    ), None, False),
    "leaky_relu_16x8": (1, (  # int16, zero points 0: x >= 0 rescaled by s_in / s_out, x < 0 by s_in alpha / s_out
        "n", "input", "output", "identity_shift", "alpha_shift",
        ("limbs", 6),     # qmath.split of the identity, then the alpha multiplier
    ), None, False),
    "transpose_conv_16x8": (1, (  # "transpose_conv"'s geometry, conv_2d_16x8's int64 bias and requantization
        "batches", "in_h", "in_w", "in_c", "out_h", "out_w", "out_c",
        "filter_h", "filter_w", "stride_h", "stride_w", "pad_h", "pad_w",
        "input", "output",
        "weights",        # file: int8 [OUT_C, FILTER_H, FILTER_W, IN_C]
        "scratch",        # arena, FILTER_H * FILTER_W * IN_C bytes: one output channel's filter
        "act_min", "act_max",
    ), ("per_channel", "out_c", ("bias_hi", "bias_lo", "multiplier", "shift", "reduced", "total_shift")), False),
    "batch_matmul_16x8": (1, (  # "batch_matmul"'s geometry over int16 values (strides in bytes), zero points 0
        ("batches", 2),
        "rows", "cols", "depth",
        "lhs", ("lhs_batch", 2),
        "lhs_row", "lhs_k",
        "rhs", ("rhs_batch", 2),
        "rhs_k", "rhs_col",
        "output",
        "reduced", "total_shift",  # TFLM's int64 requantization (qmath.mbqm64)
    ), None, False),
    "prelu_16x8": (1, (   # as "prelu": int16 input and output (offsets 0), int8 alpha (INPUT2)
        "n", "broadcast", "input1", "input2", "output",
        "const", "const_size", "const_to",  # a constant alpha: int8, CONST_SIZE bytes
        "input_offset", "alpha_offset", "output_offset",
        "output_multiplier_1", "output_shift_1", "output_multiplier_2", "output_shift_2",
        ("dims", 4), ("strides1", 4), ("strides2", 4),  # strides in elements
        ("limbs", 6),     # qmath.split of OUTPUT_MULTIPLIER_1, OUTPUT_MULTIPLIER_2
    ), None, False),
    # TFLM's integer LSTM with int16 input, hidden state and output (zero point 0), int8
    # weights, int64 biases: "lstm"'s layout up to SIGMOID (the kernel calls kernels/lstm.py's
    # sigmoid and tanh, which read the table at lstm's SIGMOID), int64 gate FCs.
    "lstm_16x8": (1, (
        "batches", "steps", "features", "units", "input", "output",
        "weights",        # file: int8, "lstm"'s rows: [4 gates][UNITS][FEATURES + UNITS]
        "scratch",        # arena, FEATURES + UNITS bytes: one unit's two rows
        "hidden_zp",      # 0: TFLM's int16 state is symmetric (kept so SIGMOID is lstm's index)
        "cell_clip",      # quantized cell clip, 0 = none
        "cell_tanh_mult", "cell_tanh_shift",  # tanh(cell) input rescale: (c * MULT + round) >> SHIFT
        ("gate_q", 32),   # per gate: input FC (multiplier, shift, reduced, total_shift), recurrent FC (same)
        ("mul_q", 12),    # forget*cell, input*cell gate, output*tanh(cell): (m0, m1, m2, shift)
        ("sigmoid", 256),  # 65536 * sigmoid(k / 24), the int16 sigmoid/tanh interpolation table
    ), ("per_unit", "units", ("hi_i", "lo_i", "hi_f", "lo_f", "hi_c", "lo_c", "hi_o", "lo_o")),
        False),  # per gate: the int64 input FC bias as HI * 2**32 + LO (TFLM's recurrent FC has none)
}


def version(op):
    return OPS[op][0]


def names(op):
    """{CONST_NAME: index} of every name the op's kernels may use (tail item names
    are offsets inside one repeated unit; TAIL_STEP is the unit's length)."""
    _v, fields, repeat, _limbs = OPS[op]
    out = {}
    i = 0
    for f in fields:
        name, n = (f, 1) if isinstance(f, str) else f
        out[name.upper()] = i
        i += n
    if repeat:
        tail, _count, items = repeat
        out[tail.upper()] = i
        out[tail.upper() + "_STEP"] = len(items)
        for k, item in enumerate(items):
            if item.upper() in out:
                raise ValueError("%s: tail item %s shadows a field" % (op, item))
            out[item.upper()] = k
    return out


def pack(op, **values):
    """The op's params as a positional list, from every field by name.

    Runs of n values and the repeated tail (one tuple per unit, as many as
    the count field says) are sequences; `limbs=` takes quant.limb_tail's
    list when the op has one. Anything missing, extra or of the wrong length
    is a ValueError: a layout change shows at the writer, not on a board.
    """
    _v, fields, repeat, limbs = OPS[op]
    out = []
    given = dict(values)
    for f in fields:
        name, n = (f, None) if isinstance(f, str) else f
        if name not in given:
            raise ValueError("%s: field %r is missing" % (op, name))
        v = given.pop(name)
        if n is None:
            out.append(v)
        else:
            v = list(v)
            if len(v) != n:
                raise ValueError("%s: %r has %d values, not %d" % (op, name, len(v), n))
            out += v
    if repeat:
        tail, count, items = repeat
        units = given.pop(tail, None)
        if units is None:
            raise ValueError("%s: tail %r is missing" % (op, tail))
        units = list(units)
        if len(units) != values[count]:
            raise ValueError("%s: %d %s for %s = %d" % (op, len(units), tail, count, values[count]))
        for u in units:
            if len(u) != len(items):
                raise ValueError("%s: a unit of %r has %d values, not %d" % (op, tail, len(u), len(items)))
            out += list(u)
    if limbs:
        tail = given.pop("limbs", None)
        if tail is None:
            raise ValueError("%s: the limb tail is missing" % op)
        n = values[repeat[1]]
        if not (tail and (tail[0] == 0 and len(tail) == 4 or tail[0] == 3 and len(tail) == 1 + 3 * n)):
            raise ValueError("%s: a limb tail of %d values does not fit %d units" % (op, len(tail), n))
        out += list(tail)
    if given:
        raise ValueError("%s: no field %s" % (op, ", ".join(sorted(given))))
    return out
