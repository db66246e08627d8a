# Contactor on a GPIO with optional feedback. The feedback says whether the car side is live
# (mains sensed behind the contactor, or an auxiliary mirror contact). Once the contacts had
# `settle_ms` to move, a mismatch is a fault:
#   commanded off, car side live  -> welded contacts (stays while they are welded)
#   commanded on, car side dead   -> the contactor did not close (latched until clear())
# Both are reported as PowerSwitchFailure ("failure to control power switch", OCPP 1.6),
# told apart by info and vendorErrorCode; the 3-tuple form makes the connector Faulted.
from mpy_ocpp.compat import ticks_add, ticks_diff, ticks_ms

WELDED = ("PowerSwitchFailure", "welded contacts", "RELAY_WELDED")
NOT_CLOSED = ("PowerSwitchFailure", "contactor did not close", "RELAY_OPEN")


class LevelSense:
    """Feedback on a digital input (aux contact or a filtered mains optocoupler)."""

    def __init__(self, pin, active=1):
        self.pin = pin
        self.active = active

    def live(self, now):
        return self.pin.value() == self.active


class MainsSense:
    """Feedback from a raw mains optocoupler: live while 50/60 Hz edges keep arriving.
    Edges are counted in the pin interrupt (no allocation there)."""

    def __init__(self, pin, window_ms=100, min_edges=3):
        self.count = 0
        self.window = window_ms
        self.min = min_edges
        self._at = ticks_ms()
        self._live = False
        pin.irq(self._edge, pin.IRQ_RISING)

    def _edge(self, _):
        self.count += 1

    def live(self, now):
        if ticks_diff(now, self._at) >= self.window:
            self._live = self.count >= self.min
            self.count = 0
            self._at = now
        return self._live


class Relay:
    def __init__(self, pin, feedback=None, active=1, settle_ms=300):
        self.pin = pin
        self.active = active
        pin.value(1 - active)  # off first: the board calls this before networking starts
        self.on = False
        self.feedback = feedback
        self.settle = settle_ms
        self.fault = None
        self._at = ticks_ms()

    def set(self, on):
        on = bool(on)
        if on != self.on:
            self.on = on
            self.pin.value(self.active if on else 1 - self.active)
            self._at = ticks_add(ticks_ms(), self.settle)

    def poll(self, now):
        if self.feedback is None:
            return
        live = self.feedback.live(now)
        if ticks_diff(now, self._at) < 0:
            return  # contacts still moving
        if not self.on and live:
            self.fault = WELDED
        elif self.fault is WELDED and not live:
            self.fault = None  # the contacts opened after all
        elif self.on and not live and self.fault is None:
            self.fault = NOT_CLOSED
            self.set(False)

    def clear(self):
        if self.fault is NOT_CLOSED:
            self.fault = None

    def error(self):
        return self.fault
