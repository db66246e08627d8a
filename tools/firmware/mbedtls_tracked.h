// mbedTLS configuration for the 32-bit unix build that tools/firmware_bench.py measures
// wss:// with: mbedTLS takes its memory from the MicroPython heap through m_tracked_calloc
// and m_tracked_free (build with -DMICROPY_TRACKED_ALLOC=1), as it does on rp2, instead of
// the C library's malloc as on the unix port and ESP32. Passed as
// MBEDTLS_CONFIG_FILE='"/abs/path/mbedtls_tracked.h"'.
#ifndef MPY_OCPP_MBEDTLS_TRACKED_H
#define MPY_OCPP_MBEDTLS_TRACKED_H

#define MBEDTLS_CIPHER_MODE_CTR // the unix port's cryptolib needs it
#define MBEDTLS_TIMING_C

// MicroPython's common configuration routes calloc/free to the tracked allocator in its
// bare-metal mode; the unix port keeps its own entropy source.
#define MICROPY_MBEDTLS_CONFIG_BARE_METAL (1)
#include "extmod/mbedtls/mbedtls_config_common.h"
#undef MBEDTLS_ENTROPY_HARDWARE_ALT
#undef MBEDTLS_NO_PLATFORM_ENTROPY

#endif
