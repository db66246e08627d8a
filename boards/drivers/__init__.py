# Device drivers shared by the boards. Each takes ready machine objects (Pin, SPI, I2C, UART,
# PWM, ADC) from the board, never blocks longer than a few milliseconds and is driven by
# poll(now) from the main loop (now = ticks_ms()).
import time

from mpy_ocpp.compat import ticks_diff

try:
    ticks_us = time.ticks_us
    sleep_ms = time.sleep_ms
except AttributeError:  # CPython (host tests)
    def ticks_us():
        return int(time.monotonic() * 1000000) & 0x3FFFFFFF

    def sleep_ms(ms):
        time.sleep(ms / 1000)


def due(now, at):
    """True once ticks `now` has reached deadline `at` (None = never set: due)."""
    return at is None or ticks_diff(now, at) >= 0
