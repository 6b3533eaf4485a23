/* Shared between el_ops.c and el_dw.c; not part of the kernels' API. */
#ifndef EL_INTERNAL_H
#define EL_INTERNAL_H

#include "el_kernels.h"

/* One output channel's constants, prepared once per call: the folded bias
 * and the multiplier split the way the requantization uses it.
 * el_requant_v6m.S (from bl), el_requant_v7em.S (from lshift) and
 * el_pw4_v6m.S (fold) read this layout (8 words). */
typedef struct {
    int32_t fold;          /* bias + input_offset * sum(w), wrapping like TFLM's int32 sum */
    int32_t bl, bh;        /* mult's low (unsigned) and high (signed) 16 bits; on ARMv7E-M bh is the
                            * short requantization's 2^(rshift-1) + output offset 2^rshift (el_ops.c) */
    int32_t lshift, rshift;
    int32_t mask, half;    /* 2^rshift - 1 and 2^(rshift - 1) (0 when rshift is 0) */
    int32_t mult;
} el_chan;

/* Channel c's constants from q and its k weights; returns 1 when the channel
 * needs the slow requantization (INT32_MIN multiplier), on ARMv7E-M 2 when it
 * needs the long one (el_ops.c's sat_ok). */
int el_prep_chan(el_chan *ch, const el_requant *q, const int8_t *w, int32_t k, int32_t c);
/* out[c] = requantized acc[c], c < n */
void el_requant_out(const int32_t *acc, const el_chan *chan, int32_t n, int slow, const el_requant *q,
                    int8_t *out);

/* el_dw.c: depthwise with a depth multiplier that is a multiple of 4 and no
 * horizontal dilation, on a transposed row strip. */
int el_dw_strip_ok(const el_geom *g);
int32_t el_dw_strip_scratch(const el_geom *g);
void el_dw_strip(const el_geom *g, const int8_t *x, const int8_t *w, int8_t *y, const el_requant *q,
                 void *scratch, int32_t i0, int32_t in);

/* el_dw1.c: depthwise with depth multiplier 1, channels innermost. */
int32_t el_dw1_scratch(const el_geom *g, int32_t in);
void el_dw1(const el_geom *g, const int8_t *x, const int8_t *w, int8_t *y, const el_requant *q,
            void *scratch, int32_t i0, int32_t in);

#endif
