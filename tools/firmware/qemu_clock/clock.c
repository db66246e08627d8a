// The wall clock of the qemu firmware that tools/firmware_bench.py runs: a fixed start
// (2026-12-01T00:00:00Z) plus the port's millisecond ticks. Enough for a session that the
// in-memory CSMS sets the time of anyway.
#include "py/mphal.h"

#define QEMU_CLOCK_START_S (1796083200ULL)

static uint64_t elapsed_ms;
static mp_uint_t last_ticks;

// the ticks wrap: add up the differences
static uint64_t qemu_clock_ms(void) {
    mp_uint_t now = mp_hal_ticks_ms();
    elapsed_ms += (mp_uint_t)(now - last_ticks);
    last_ticks = now;
    return elapsed_ms;
}

uint64_t mp_hal_time_ns(void) {
    return (QEMU_CLOCK_START_S * 1000ULL + qemu_clock_ms()) * 1000000ULL;
}
