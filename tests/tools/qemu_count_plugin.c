/* A QEMU TCG plugin (Debian's QEMU 7.2 loads them with -plugin): counts executed guest
 * instructions with an inline per-block add, and appends to out=FILE the instructions of
 * each region from the execution of pc begin= to that of pc end=, counted as
 * tests/tools/cortexm.parse_log counts them from a -d in_asm,exec,nochain log (the blocks
 * after the begin block, up to but not including the end block), without the log: runs
 * of 10^10 instructions take minutes instead of hours. Declares only the plugin API
 * calls it uses (API version 1, QEMU 7.2). Built by tests/tools/qemu_mpy.py. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef uint64_t qemu_plugin_id_t;
struct qemu_plugin_tb;
struct qemu_plugin_insn;
typedef struct qemu_info_t qemu_info_t;
enum qemu_plugin_op { QEMU_PLUGIN_INLINE_ADD_U64 };
enum qemu_plugin_cb_flags { QEMU_PLUGIN_CB_NO_REGS };

size_t qemu_plugin_tb_n_insns(const struct qemu_plugin_tb *tb);
struct qemu_plugin_insn *qemu_plugin_tb_get_insn(const struct qemu_plugin_tb *tb, size_t idx);
uint64_t qemu_plugin_insn_vaddr(const struct qemu_plugin_insn *insn);
void qemu_plugin_register_vcpu_tb_trans_cb(qemu_plugin_id_t id,
        void (*cb)(qemu_plugin_id_t id, struct qemu_plugin_tb *tb));
void qemu_plugin_register_vcpu_tb_exec_inline(struct qemu_plugin_tb *tb, enum qemu_plugin_op op,
        void *ptr, uint64_t imm);
void qemu_plugin_register_vcpu_insn_exec_cb(struct qemu_plugin_insn *insn,
        void (*cb)(unsigned int vcpu_index, void *userdata), enum qemu_plugin_cb_flags flags, void *userdata);

__attribute__((visibility("default"))) int qemu_plugin_version = 1;

static uint64_t count, start;
static uint64_t begin_pc, end_pc;
static FILE *out;

static void on_begin(unsigned int vcpu, void *u) { start = count; }
static void on_end(unsigned int vcpu, void *u) {
    /* the end block's own instructions were added when it began: not the region's */
    fprintf(out, "%llu\n", (unsigned long long)(count - start - (uintptr_t)u));
    fflush(out);
}

static void on_trans(qemu_plugin_id_t id, struct qemu_plugin_tb *tb) {
    size_t n = qemu_plugin_tb_n_insns(tb);
    qemu_plugin_register_vcpu_tb_exec_inline(tb, QEMU_PLUGIN_INLINE_ADD_U64, &count, n);
    for (size_t i = 0; i < n; i++) {
        struct qemu_plugin_insn *insn = qemu_plugin_tb_get_insn(tb, i);
        uint64_t pc = qemu_plugin_insn_vaddr(insn);
        if (pc == begin_pc) qemu_plugin_register_vcpu_insn_exec_cb(insn, on_begin, QEMU_PLUGIN_CB_NO_REGS, NULL);
        if (pc == end_pc)
            qemu_plugin_register_vcpu_insn_exec_cb(insn, on_end, QEMU_PLUGIN_CB_NO_REGS,
                                                   (void *)(uintptr_t)(i == 0 ? n : 0));
    }
}

__attribute__((visibility("default")))
int qemu_plugin_install(qemu_plugin_id_t id, const qemu_info_t *info, int argc, char **argv) {
    for (int i = 0; i < argc; i++) {
        if (!strncmp(argv[i], "begin=", 6)) begin_pc = strtoull(argv[i] + 6, NULL, 0) & ~1ull;
        else if (!strncmp(argv[i], "end=", 4)) end_pc = strtoull(argv[i] + 4, NULL, 0) & ~1ull;
        else if (!strncmp(argv[i], "out=", 4)) out = fopen(argv[i] + 4, "w");
    }
    if (!out || !begin_pc || !end_pc) return -1;
    qemu_plugin_register_vcpu_tb_trans_cb(id, on_trans);
    return 0;
}
