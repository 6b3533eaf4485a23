/* The keyword-spotting audio front end in C, bit-exact with TFLM's audio
 * preprocessor (audio_preprocessor_int8.tflite: window, FFT auto-scale, KissFFT
 * int16 real FFT, energy, mel filterbank, square root, spectral subtraction,
 * PCAN, log, int8 tail). The arithmetic of every stage is documented in
 * docs/audio-frontend.md; the portable Python in firmware/edgeloop_fw/audio/ is
 * the same computation with limbs where C has uint64.
 *
 * The parameters arrive as they leave the converter: an int32 header (the
 * scalars, then (offset, count) of each table inside one int16 table blob) in
 * the order of the EL_AU_* indices below, which the board's packer
 * (edgeloop_fw/audio/native.py) writes by the same names. el_audio_bind()
 * checks every count and index once per call, so no table lookup can leave
 * its table, whatever the header says.
 *
 * No heap and no state: the noise estimate (the front end's only state) and
 * a scratch area are the caller's.
 */
#ifndef EL_AUDIO_H
#define EL_AUDIO_H

#include <stddef.h>
#include <stdint.h>

#define EL_AUDIO_VERSION 1

/* header indices: scalars (names as in the generated parameter module) */
enum {
    EL_AU_VERSION,
    EL_AU_FRAME_LENGTH,
    EL_AU_WINDOW_SHIFT,
    EL_AU_FFT_LENGTH,
    EL_AU_ENERGY_START,
    EL_AU_ENERGY_END,
    EL_AU_NUM_CHANNELS,
    EL_AU_SS_SMOOTHING,
    EL_AU_SS_ONE_MINUS_SMOOTHING,
    EL_AU_SS_ALTERNATE_SMOOTHING,
    EL_AU_SS_ALTERNATE_ONE_MINUS_SMOOTHING,
    EL_AU_SS_SMOOTHING_BITS,
    EL_AU_SS_SPECTRAL_SUBTRACTION_BITS,
    EL_AU_SS_MIN_SIGNAL_REMAINING,
    EL_AU_SS_CLAMPING,
    EL_AU_PCAN_SNR_SHIFT,
    EL_AU_LOG_CORRECTION_BITS,
    EL_AU_LOG_OUTPUT_SCALE,
    EL_AU_OUT_MUL,
    EL_AU_OUT_ADD,
    EL_AU_OUT_DIV,
    EL_AU_OUT_OFFSET,
    EL_AU_OUT_MIN,
    EL_AU_OUT_MAX,
    EL_AU_TABLES /* then (offset, count) in int16 units per table, in this order: */
};
enum {
    EL_AT_WINDOW,
    EL_AT_FB_WEIGHTS,
    EL_AT_FB_UNWEIGHTS,
    EL_AT_FB_FREQ_STARTS,
    EL_AT_FB_WEIGHT_STARTS,
    EL_AT_FB_WIDTHS,
    EL_AT_PCAN_LUT,
    EL_AT_FFT_TW_RE,
    EL_AT_FFT_TW_IM,
    EL_AT_FFT_SUPER_RE,
    EL_AT_FFT_SUPER_IM,
    EL_AT_LOG_LUT,
    EL_AT_COUNT
};
#define EL_AU_HEADER (EL_AU_TABLES + 2 * EL_AT_COUNT)

typedef struct {
    const int32_t *h; /* the header */
    int32_t frame_length, fft_length, n; /* n = fft_length / 2 complex points */
    int32_t num_channels, n_weights;
    const int16_t *window, *weights, *unweights, *freq_starts, *weight_starts, *widths, *pcan_lut;
    const int16_t *tw_re, *tw_im, *super_re, *super_im;
    const uint16_t *log_lut;
} el_audio;

/* NULL when header and tables make a front end this code runs exactly; else why not. */
const char *el_audio_bind(el_audio *a, const int32_t *header, size_t header_len, const int16_t *tables,
                          size_t tables_len);
/* Scratch bytes el_audio_frame needs (besides the noise estimate, num_channels uint32). */
size_t el_audio_scratch_bytes(const el_audio *a);

/* One 20 ms hop: samples[0 .. frame_length) -> out[0 .. num_channels), noise updated.
 * scratch: el_audio_scratch_bytes() bytes, 8-byte aligned. */
void el_audio_frame(const el_audio *a, const int16_t *samples, uint32_t *noise, void *scratch, int8_t *out);

/* The stages one by one (the host test compares each with TFLM's tensor). */
int32_t el_audio_window(const el_audio *a, const int16_t *samples, int16_t *out); /* out: fft_length; returns the auto-scale shift */
void el_audio_rfft(const el_audio *a, const int16_t *x, int32_t *work, int16_t *out); /* work 2n int16 values held in int32 (ARMv6-M loads them with an offset), out 2(n+1) (re, im) */
void el_audio_energy(const el_audio *a, const int16_t *spectrum, uint32_t *energy); /* energy: n + 1 */
void el_audio_filterbank(const el_audio *a, const uint32_t *energy, uint64_t *out); /* out: num_channels */
void el_audio_sqrt(const el_audio *a, const uint64_t *in, int32_t scale_bits, uint32_t *out);
void el_audio_spectral_subtraction(const el_audio *a, const uint32_t *in, uint32_t *noise, uint32_t *out);
void el_audio_pcan(const el_audio *a, const uint32_t *noise, const uint32_t *in, uint32_t *out);
void el_audio_log(const el_audio *a, const uint32_t *in, int16_t *out);
void el_audio_int8(const el_audio *a, const int16_t *in, int8_t *out);

#endif
