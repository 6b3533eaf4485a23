/* The slice of MicroPython's native-module ABI (.mpy 6.3) this module uses.
 *
 * Written from the format's facts (py/nativeglue.h's mp_fun_table_t order,
 * py/obj.h's object layouts), declaring only what el_module.c touches, so the
 * module builds without a MicroPython source tree. The loader resolves:
 * - `mp_fun_table`: the table itself (relocation kind 8);
 * - `mp_native_qstr_table`: this module's qstr numbers, in the order of the
 *   `.el_qstrs` section (index 0 is the file name);
 * - `mp_type_fun_builtin_var`: mp_fun_table[81] (the type of a C function
 *   taking (n_args, args)).
 * A change of this layout changes the .mpy sub-version, which the loader
 * checks before running anything, so a mismatch is refused, never executed.
 */
#ifndef EL_NATMOD_H
#define EL_NATMOD_H

#include <stddef.h>
#include <stdint.h>

typedef void *mp_obj_t;

typedef struct {
    void *buf;
    size_t len;
    int typecode;
} el_buffer_info;

#define EL_BUFFER_READ 1
#define EL_BUFFER_WRITE 2
#define EL_BUFFER_RAISE 4
#define EL_NATIVE_TYPE_INT 2

typedef struct {
    const void *const_none;                                      /* 0 */
    const void *const_false, *const_true;                        /* 1, 2 */
    uintptr_t (*native_from_obj)(mp_obj_t obj, uintptr_t type);  /* 3 */
    mp_obj_t (*native_to_obj)(uintptr_t val, uintptr_t type);    /* 4 */
    void *(*swap_globals)(void *globals);                        /* 5 */
    void *unused6;                                               /* 6 load_name */
    mp_obj_t (*load_global)(size_t qst);                         /* 7 */
    void *unused8_12[5];                                         /* 8..12 */
    void (*store_global)(size_t qst, mp_obj_t obj);              /* 13 */
    void *unused14_54[41];                                       /* 14..54 */
    void (*raise_msg)(const void *exc_type, const char *msg);    /* 55 */
    void *unused56_64[9];                                        /* 56..64 */
    _Bool (*get_buffer)(mp_obj_t obj, el_buffer_info *info, uintptr_t flags); /* 65 */
} el_fun_table;

extern const el_fun_table mp_fun_table;
extern const uint16_t mp_native_qstr_table[];

typedef struct {
    const void *type;
} el_obj_base;

/* mp_obj_fun_builtin_var_t: sig = n_args_min << 17 | n_args_max << 1 | takes_kw */
typedef struct {
    el_obj_base base;
    uint32_t sig;
    mp_obj_t (*fun)(size_t n_args, const mp_obj_t *args);
} el_fun_var;

extern const char mp_type_fun_builtin_var;  /* only its address is used */

#define EL_FUN_SIG(lo, hi) ((uint32_t)(((uint32_t)(lo) << 17) | ((uint32_t)(hi) << 1)))

/* mp_obj_fun_bc_t starts {base, context}; mp_module_context_t starts {base, globals}. */
typedef struct {
    el_obj_base base;
    void *globals;
} el_module_obj;

typedef struct {
    el_obj_base base;
    const el_module_obj *context;
} el_fun_bc;

#endif
