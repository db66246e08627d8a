# IEC 61851 control pilot and proximity pilot.
# Output: 1 kHz PWM whose duty cycle offers a current (steady +12 V = no offer).
# Input: a burst of ADC reads spread over a whole period (no phase sync from Python), split at
# the midpoint of its extremes: the mean of the upper part is the high level, of the lower part
# the low level; a part of only a few samples is spikes on a steady level. The high level gives the
# state A-F, with hysteresis around the thresholds and N-of-M debouncing; a low level above
# -10.5 V while PWM runs means the EV's diode is missing.
# Proximity: the cable's resistor against a pull-up gives the cable rating.
from array import array

from mpy_ocpp.compat import ticks_add, ticks_diff

from . import due, ticks_us

# lower bound (V) of each state's high level, top down
_BANDS = (("A", 10.5), ("B", 7.5), ("C", 4.5), ("D", 1.5), ("E", -10.5), ("F", -99.0))
_DIODE_V = -10.5  # the low half must reach -12 V
FULL = 65535
_SAMPLES = const(128)  # per burst, at most (a board's ADC read takes 10-40 us)


def duty_percent(amps):
    """Duty cycle (%) offering `amps`: A = duty x 0.6 up to 51 A, A = (duty - 64) x 2.5 above."""
    return amps / 0.6 if amps <= 51 else amps / 2.5 + 64


def amps_for(duty):
    """The current a duty cycle (%) offers (the EV's reading)."""
    return duty * 0.6 if duty <= 85 else (duty - 64) * 2.5


def cable_amps(ohms):
    """Proximity resistor -> cable rating (A); 0 = no cable."""
    if ohms > 10000:
        return 0
    return 13 if ohms >= 1000 else 20 if ohms >= 330 else 32 if ohms >= 150 else 63


def _band(state):
    for i in range(len(_BANDS)):
        if _BANDS[i][0] == state:
            return _BANDS[i][1], _BANDS[i - 1][1] if i else 99.0
    return None


class Pilot:
    def __init__(self, pwm, adc, pp=None, zero=32768, scale=24.0 / FULL, pp_pullup=1000,
                 max_amps=32, cable=None, ventilation=False, hysteresis=0.4, n=4, m=5,
                 period_ms=20, burst_us=1100):
        self.pwm = pwm
        self.adc = adc
        self.pp = pp
        self.zero = zero
        self.scale = scale  # volts per ADC count of the front-end
        self.pullup = pp_pullup
        self.max_amps = max_amps  # installation maximum
        self.cable = cable  # fixed rating of a tethered cable (no proximity pilot)
        self.ventilation = ventilation  # may charge in state D
        self.hyst = hysteresis
        self.n = n
        self.hist = bytearray(b"?" * m)
        self._i = 0
        self.period = period_ms
        self.burst = burst_us
        self.state = "?"
        self._buf = array("H", [0] * _SAMPLES)
        self.high = self.low = 0.0
        self.diode_fault = False
        self._diode = 0
        self.limit = None  # from smart charging (A)
        self.enabled = False  # PWM allowed (the connector's permission)
        self.duty = -1
        self._due = None
        pwm.freq(1000)
        self._set(100)

    # output

    def _set(self, duty):
        if duty != self.duty:
            self.duty = duty
            self.pwm.duty_u16(FULL if duty >= 100 else int(duty * FULL / 100))

    def cable_rating(self):
        if self.cable is not None or self.pp is None:
            return self.cable if self.cable is not None else self.max_amps
        r = self.pp.read_u16()
        return 0 if r >= FULL - 64 else cable_amps(self.pullup * r / (FULL - r))

    def offered(self):
        """min(cable rating, installation maximum, charging limit), 0 if under 6 A."""
        a = min(self.cable_rating(), self.max_amps)
        if self.limit is not None:
            a = min(a, self.limit)
        return a if a >= 6 else 0

    def current_offered(self):
        return self.offered() if self.duty < 100 else 0

    def set_limit(self, limit):
        self.limit = limit

    # input

    def sample(self):
        """One burst over a whole PWM period -> (high, low) in volts."""
        adc, buf = self.adc, self._buf
        pace = self.burst // _SAMPLES  # spread the samples if the ADC is fast
        k = at = 0
        t0 = ticks_us()
        while k < _SAMPLES:
            t = ticks_diff(ticks_us(), t0)
            if t >= self.burst and k >= 8:
                break
            if t >= at:
                buf[k] = adc.read_u16()
                k += 1
                at = t + pace
        hi, lo = 0, FULL
        for i in range(k):
            r = buf[i]
            hi = r if r > hi else hi
            lo = r if r < lo else lo
        mid = (hi + lo) >> 1
        sh = nh = sl = nl = 0
        for i in range(k):
            r = buf[i]
            if r > mid:
                sh += r
                nh += 1
            else:
                sl += r
                nl += 1
        few = max(2, k >> 4)  # a part this small is spikes on a steady level, not a PWM half
        if nh < few:
            sh, nh = sl, nl
        elif nl < few:
            sl, nl = sh, nh
        self.high = (sh / nh - self.zero) * self.scale
        self.low = (sl / nl - self.zero) * self.scale
        return self.high, self.low

    def classify(self, v):
        """The state for a high level `v`, staying in the current one within the hysteresis."""
        b = _band(self.state)
        if b and b[0] - self.hyst <= v < b[1] + self.hyst:
            return self.state
        for s, lower in _BANDS:
            if v >= lower:
                return s
        return "F"

    def _debounce(self, s):
        h, c = self.hist, ord(s)
        h[self._i] = c
        self._i = (self._i + 1) % len(h)
        k = 0
        for x in h:
            k += x == c
        if k >= self.n:  # N of the last M bursts agree
            self.state = s

    def poll(self, now):
        if not due(now, self._due):
            return
        self._due = ticks_add(now, self.period)
        high, low = self.sample()
        self._debounce(self.classify(high))
        st = self.state
        if st == "A":
            self.diode_fault = False  # latched until the EV is gone
        elif self.duty < 100 and st in "BCD":
            self._diode = self._diode + 1 if low > _DIODE_V else 0
            if self._diode >= self.n:
                self.diode_fault = True
        a = self.offered()
        self._set(duty_percent(a) if self.enabled and a and not self.diode_fault and st in "BCD" else 100)

    # the library's inputs

    def plugged(self):
        return self.state in ("B", "C", "D")

    def ev_ready(self):
        return self.state in ("C", "D")

    def evse_ready(self):
        return (not self.diode_fault and self.offered() > 0
                and (self.state != "D" or self.ventilation))

    def error(self):
        # EVCommunicationError: OCPP 1.6 says not a fault (SuspendedEVSE), hence the False
        if self.diode_fault:
            return ("EVCommunicationError", "EV diode missing", "CP_DIODE", False)
        if self.state == "E":
            return ("EVCommunicationError", "pilot state E (CP shorted)", "CP_E", False)
        if self.state == "F":
            return ("EVCommunicationError", "pilot state F", "CP_F", False)
        return None
