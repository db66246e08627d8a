# A wall clock for the qemu port (no RTC there), built in as a user C module by
# tools/firmware_bench.py: make -C ports/qemu USER_C_MODULES=<this directory's parent>.
# It gives time.time(), time_ns(), gmtime(), localtime() and mktime() (the library needs
# time/gmtime/mktime; the port leaves them out) and the mp_hal_time_ns() that littlefs's file
# times need.
QEMU_CLOCK_DIR := $(USERMOD_DIR)
SRC_USERMOD_C += $(QEMU_CLOCK_DIR)/clock.c $(TOP)/shared/timeutils/timeutils.c
CFLAGS_USERMOD += -DMICROPY_PY_TIME_TIME_TIME_NS=1 -DMICROPY_PY_TIME_GMTIME_LOCALTIME_MKTIME=1 -DMICROPY_PY_TIME_INCLUDEFILE='"$(QEMU_CLOCK_DIR)/time_hook.h"'
