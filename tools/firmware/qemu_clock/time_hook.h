// Included into MicroPython's extmod/modtime.c (MICROPY_PY_TIME_INCLUDEFILE): time.time() and
// the current time for gmtime()/localtime() without an argument, from the clock in clock.c.
#include "shared/timeutils/timeutils.h"

static mp_obj_t mp_time_time_get(void) {
    return mp_obj_new_int_from_ull(mp_hal_time_ns() / 1000000000ULL);
}

static void mp_time_localtime_get(timeutils_struct_time_t *tm) {
    timeutils_seconds_since_epoch_to_struct_time(mp_hal_time_ns() / 1000000000ULL, tm);
}
