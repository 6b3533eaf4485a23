/* Bare-metal start for the QEMU proof: a vector table, a reset handler that
 * zeroes .bss, and semihosting (BKPT 0xAB) for output and exit. There is no
 * .data: every initialised object is const and stays in flash. */
#include <stdint.h>

extern uint32_t __stack_top, __bss_start, __bss_end;
int main(void);
void el_reset(void);
void el_fault(void);

__attribute__((section(".vectors"), used)) const void *const el_vectors[16] = {
    &__stack_top, (void *)el_reset, (void *)el_fault, (void *)el_fault,
    (void *)el_fault, (void *)el_fault, (void *)el_fault,
};

static int semihost(int op, const void *arg) {
    register int r0 __asm__("r0") = op;
    register const void *r1 __asm__("r1") = arg;
    __asm__ volatile("bkpt 0xAB" : "+r"(r0) : "r"(r1) : "memory");
    return r0;
}

void el_puts(const char *s) {
    semihost(0x04, s); /* SYS_WRITE0 */
}

void el_exit(int ok) {
    /* SYS_EXIT: ADP_Stopped_ApplicationExit (QEMU exits 0) or RunTimeErrorUnknown (1) */
    semihost(0x18, (const void *)(ok ? 0x20026 : 0x20023));
    for (;;) {
    }
}

void el_fault(void) {
    el_puts("FAULT\n");
    el_exit(0);
}

void el_reset(void) {
    for (uint32_t *p = &__bss_start; p < &__bss_end; p++)
        *p = 0;
    el_exit(main() == 0);
}

/* Markers for the instruction counter: it counts what runs between the
 * first instruction of el_bench_begin and that of el_bench_end. */
__attribute__((noinline)) void el_bench_begin(void) {
    __asm__ volatile("" ::: "memory");
}
__attribute__((noinline)) void el_bench_end(void) {
    __asm__ volatile("" ::: "memory");
}

/* Calibration: a SUBS/BNE loop of known length (2n + 1 instructions with the BX). */
__attribute__((naked, noinline)) void el_calib_loop(uint32_t n) {
    __asm__ volatile(
        ".syntax unified\n"
        "1: subs r0, r0, #1\n"
        "   bne 1b\n"
        "   bx lr\n");
}
