/* Board glue of the audio front end (el_audio.c), included by el_module.c
 * after its helpers (fail, get_buf, get_int):
 *   audio_work_size(header, tables)   bytes of `work`: scratch, then the noise estimate
 *   audio_frame(header, tables, work, samples, offset, out)
 *       one 20 ms hop: samples[offset : offset + frame_length] (int16) -> out (int8),
 *       the noise estimate (work's last 4 * num_channels bytes) updated.
 * header: int32 array, tables: int16 array, as edgeloop_fw/audio/native.py packs them.
 * Nothing is allocated; every size is checked before a byte is written.
 */
#include "el_audio.h"

static void audio_bind(const mp_obj_t *args, el_audio *a) {
    size_t nh, nt;
    const int32_t *h = get_buf(args[0], &nh, EL_BUFFER_READ);
    const int16_t *t = get_buf(args[1], &nt, EL_BUFFER_READ);
    if (((uintptr_t)h & 3) || ((uintptr_t)t & 1))
        fail("audio: header or tables not aligned");
    const char *why = el_audio_bind(a, h, nh / 4, t, nt / 2);
    if (why)
        fail(why);
}

static mp_obj_t audio_work_size(size_t n_args, const mp_obj_t *args) {
    (void)n_args;
    el_audio a;
    audio_bind(args, &a);
    size_t need = el_audio_scratch_bytes(&a) + 4 * (size_t)a.num_channels;
    return mp_fun_table.native_to_obj((uintptr_t)need, EL_NATIVE_TYPE_INT);
}

static mp_obj_t audio_frame(size_t n_args, const mp_obj_t *args) {
    (void)n_args;
    el_audio a;
    audio_bind(args, &a);
    size_t nw, ns, no;
    char *work = get_buf(args[2], &nw, EL_BUFFER_WRITE);
    const int16_t *s = get_buf(args[3], &ns, EL_BUFFER_READ);
    int32_t offset = get_int(args[4]);
    int8_t *out = get_buf(args[5], &no, EL_BUFFER_WRITE);
    size_t scratch = el_audio_scratch_bytes(&a);
    if (nw < scratch + 4 * (size_t)a.num_channels || ((uintptr_t)work & 7) || ((uintptr_t)s & 1) ||
        !inside(offset, a.frame_length, ns / 2) || no < (size_t)a.num_channels)
        fail("audio: work, samples or out too small (or not aligned)");
    el_audio_frame(&a, s + offset, (uint32_t *)(work + scratch), work, out);
    return (mp_obj_t)mp_fun_table.const_none;
}

static const el_fun_var audio_work_size_obj = {{&mp_type_fun_builtin_var}, EL_FUN_SIG(2, 2), audio_work_size};
static const el_fun_var audio_frame_obj = {{&mp_type_fun_builtin_var}, EL_FUN_SIG(6, 6), audio_frame};
