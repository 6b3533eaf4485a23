/* The runtime's param indices for el_module.c. GENERATED from
 * firmware/edgeloop_fw/runtime/opspec.py by `python -m tests.tools.opspec_gen`:
 * do not edit. */
#ifndef EL_PARAMS_H
#define EL_PARAMS_H

/* fully_connected */
#define EL_FC_VERSION 1
#define EL_FC_BATCHES 0
#define EL_FC_DEPTH 1
#define EL_FC_UNITS 2
#define EL_FC_INPUT 3
#define EL_FC_OUTPUT 4
#define EL_FC_WEIGHTS 5
#define EL_FC_SCRATCH 6
#define EL_FC_CHUNK 7
#define EL_FC_OUTPUT_OFFSET 8
#define EL_FC_ACT_MIN 9
#define EL_FC_ACT_MAX 10
#define EL_FC_PER_UNIT 11
#define EL_FC_PER_UNIT_STEP 3
#define EL_FC_BIAS 0
#define EL_FC_MULTIPLIER 1
#define EL_FC_SHIFT 2

/* conv_2d */
#define EL_CONV_VERSION 1
#define EL_CONV_BATCHES 0
#define EL_CONV_IN_H 1
#define EL_CONV_IN_W 2
#define EL_CONV_IN_C 3
#define EL_CONV_OUT_H 4
#define EL_CONV_OUT_W 5
#define EL_CONV_OUT_C 6
#define EL_CONV_FILTER_H 7
#define EL_CONV_FILTER_W 8
#define EL_CONV_STRIDE_H 9
#define EL_CONV_STRIDE_W 10
#define EL_CONV_DILATION_H 11
#define EL_CONV_DILATION_W 12
#define EL_CONV_PAD_H 13
#define EL_CONV_PAD_W 14
#define EL_CONV_INPUT 15
#define EL_CONV_OUTPUT 16
#define EL_CONV_WEIGHTS 17
#define EL_CONV_SCRATCH 18
#define EL_CONV_INPUT_OFFSET 19
#define EL_CONV_OUTPUT_OFFSET 20
#define EL_CONV_ACT_MIN 21
#define EL_CONV_ACT_MAX 22
#define EL_CONV_PER_CHANNEL 23
#define EL_CONV_PER_CHANNEL_STEP 3
#define EL_CONV_BIAS 0
#define EL_CONV_MULTIPLIER 1
#define EL_CONV_SHIFT 2

/* depthwise_conv_2d */
#define EL_DW_VERSION 1
#define EL_DW_BATCHES 0
#define EL_DW_IN_H 1
#define EL_DW_IN_W 2
#define EL_DW_IN_C 3
#define EL_DW_OUT_H 4
#define EL_DW_OUT_W 5
#define EL_DW_OUT_C 6
#define EL_DW_DEPTH_MULTIPLIER 7
#define EL_DW_FILTER_H 8
#define EL_DW_FILTER_W 9
#define EL_DW_STRIDE_H 10
#define EL_DW_STRIDE_W 11
#define EL_DW_DILATION_H 12
#define EL_DW_DILATION_W 13
#define EL_DW_PAD_H 14
#define EL_DW_PAD_W 15
#define EL_DW_INPUT 16
#define EL_DW_OUTPUT 17
#define EL_DW_WEIGHTS 18
#define EL_DW_SCRATCH 19
#define EL_DW_INPUT_OFFSET 20
#define EL_DW_OUTPUT_OFFSET 21
#define EL_DW_ACT_MIN 22
#define EL_DW_ACT_MAX 23
#define EL_DW_PER_CHANNEL 24
#define EL_DW_PER_CHANNEL_STEP 3
#define EL_DW_BIAS 0
#define EL_DW_MULTIPLIER 1
#define EL_DW_SHIFT 2

/* pool_2d */
#define EL_POOL_VERSION 1
#define EL_POOL_MODE 0
#define EL_POOL_BATCHES 1
#define EL_POOL_IN_H 2
#define EL_POOL_IN_W 3
#define EL_POOL_DEPTH 4
#define EL_POOL_OUT_H 5
#define EL_POOL_OUT_W 6
#define EL_POOL_STRIDE_H 7
#define EL_POOL_STRIDE_W 8
#define EL_POOL_FILTER_H 9
#define EL_POOL_FILTER_W 10
#define EL_POOL_PAD_H 11
#define EL_POOL_PAD_W 12
#define EL_POOL_ACT_MIN 13
#define EL_POOL_ACT_MAX 14
#define EL_POOL_INPUT 15
#define EL_POOL_OUTPUT 16

/* add */
#define EL_ADD_VERSION 1
#define EL_ADD_N 0
#define EL_ADD_BROADCAST 1
#define EL_ADD_INPUT1 2
#define EL_ADD_INPUT2 3
#define EL_ADD_OUTPUT 4
#define EL_ADD_INPUT1_OFFSET 5
#define EL_ADD_INPUT2_OFFSET 6
#define EL_ADD_OUTPUT_OFFSET 7
#define EL_ADD_LEFT_SHIFT 8
#define EL_ADD_INPUT1_MULTIPLIER 9
#define EL_ADD_INPUT1_SHIFT 10
#define EL_ADD_INPUT2_MULTIPLIER 11
#define EL_ADD_INPUT2_SHIFT 12
#define EL_ADD_OUTPUT_MULTIPLIER 13
#define EL_ADD_OUTPUT_SHIFT 14
#define EL_ADD_ACT_MIN 15
#define EL_ADD_ACT_MAX 16
#define EL_ADD_DIMS 17
#define EL_ADD_STRIDES1 21
#define EL_ADD_STRIDES2 25
#define EL_ADD_LIMBS 29

/* mean */
#define EL_MEAN_VERSION 1
#define EL_MEAN_OUTER 0
#define EL_MEAN_COUNT 1
#define EL_MEAN_INNER 2
#define EL_MEAN_INPUT 3
#define EL_MEAN_OUTPUT 4
#define EL_MEAN_BIAS 5
#define EL_MEAN_MULTIPLIER 6
#define EL_MEAN_SHIFT 7
#define EL_MEAN_OUTPUT_ZP 8
#define EL_MEAN_LIMBS 9

/* lut8 */
#define EL_LUT8_VERSION 1
#define EL_LUT8_N 0
#define EL_LUT8_INPUT 1
#define EL_LUT8_OUTPUT 2
#define EL_LUT8_TABLE 3
#define EL_LUT8_SCRATCH 4

/* concatenation */
#define EL_CONCAT_VERSION 1
#define EL_CONCAT_OUTER 0
#define EL_CONCAT_OUTPUT 1
#define EL_CONCAT_N_INPUTS 2
#define EL_CONCAT_INPUTS 3
#define EL_CONCAT_INPUTS_STEP 2
#define EL_CONCAT_INPUT 0
#define EL_CONCAT_SIZE 1

/* softmax */
#define EL_SOFTMAX_VERSION 1
#define EL_SOFTMAX_OUTER 0
#define EL_SOFTMAX_DEPTH 1
#define EL_SOFTMAX_INPUT 2
#define EL_SOFTMAX_OUTPUT 3
#define EL_SOFTMAX_TABLE 4
#define EL_SOFTMAX_COUNT 5
#define EL_SOFTMAX_SCRATCH 6
#define EL_SOFTMAX_REGS 7
#define EL_SOFTMAX_INPUT_MULTIPLIER 13
#define EL_SOFTMAX_INPUT_LEFT_SHIFT 14
#define EL_SOFTMAX_DIFF_MIN 15

/* reshape */
#define EL_RESHAPE_VERSION 1

/* transpose */
#define EL_TRANSPOSE_VERSION 1
#define EL_TRANSPOSE_INPUT 0
#define EL_TRANSPOSE_OUTPUT 1
#define EL_TRANSPOSE_DIMS 2
#define EL_TRANSPOSE_STRIDES 6

#endif
