# Wall-clock time. Seconds are in the port's own epoch (2000 on ESP32, 1970 elsewhere):
# gmtime()/mktime_utc() convert, so no epoch arithmetic is done here.
import random
import time

from .compat import log, mktime_utc, ticks_diff, ticks_ms

# The sane window: this library was not built before 2025, and 2100 is where 32-bit ports stop
# agreeing (their mktime/gmtime wrap at 2106, or 2136 on ESP32). A time outside it never sets
# the clock, and dates beyond it read as _HI.
_LO = mktime_utc((2025, 1, 1, 0, 0, 0, 0, 0))
_HI = mktime_utc((2100, 1, 1, 0, 0, 0, 0, 0))
offset = 0  # CSMS time minus RTC time, seconds (read by profiles that follow clock changes)
known = _LO <= time.time() < _HI  # the board may have set its RTC (NTP) before us
marked = False  # a timestamp was taken before the clock was known: see fix()
_boot = "%x" % random.getrandbits(24)  # tells this power cycle's markers from older ones


def now():
    return int(time.time()) + offset


def set_iso(text):
    """Set the clock from an ISO 8601 time (BootNotification/Heartbeat currentTime); False if
    it is refused (outside the sane window: every later timestamp would be wrong)."""
    global offset, known
    t = parse(text)
    if t is None or not _LO <= t < _HI:
        log("clock: %s refused, not between 2025 and 2099" % text)
        return False
    offset = t - int(time.time())
    known = True
    return True


def iso(t=None):
    """ISO 8601 UTC; the current time, until the clock is known, as a marker that fix() resolves."""
    global marked
    if t is None and not known:
        marked = True
        return "?%s:%d" % (_boot, ticks_ms())
    g = time.gmtime(now() if t is None else t)
    return "%04d-%02d-%02dT%02d:%02d:%02dZ" % g[:6]


def _resolve(s):
    boot, _, t = s[1:].partition(":")
    if boot != _boot:  # taken before a reboot: the time is lost, the best we know is now
        return iso()
    return iso(now() - ticks_diff(ticks_ms(), int(t)) // 1000)


def fix(obj):
    """Replace the markers in a payload (dicts and lists, in place) once the clock is known."""
    if type(obj) is dict:
        for k, v in obj.items():
            if type(v) is str:
                if v[:1] == "?":
                    obj[k] = _resolve(v)
            elif type(v) in (dict, list):
                fix(v)
    elif type(obj) is list:
        for v in obj:
            fix(v)
    return obj


def _num(s, a, b):
    v = s[a:b]
    if len(v) != b - a or not v.isdigit():
        raise ValueError
    return int(v)


def parse(s):
    """YYYY-MM-DDTHH:MM:SS[.fff](Z|±HH:MM) → seconds (years from 2100 on: _HI), or None."""
    try:
        if s[4] != "-" or s[7] != "-" or s[10] not in "Tt " or s[13] != ":" or s[16] != ":":
            return None
        f = (_num(s, 0, 4), _num(s, 5, 7), _num(s, 8, 10), _num(s, 11, 13), _num(s, 14, 16),
             _num(s, 17, 19), 0, 0)
        if f[0] >= 2100:  # e.g. 9999 for "never": beyond what 32-bit ports can count
            return _HI
        t = mktime_utc(f)
        i = 19
        if i < len(s) and s[i] == ".":
            i += 1
            while i < len(s) and s[i].isdigit():
                i += 1
        z = s[i:]
        if z in ("Z", "z", ""):
            return t
        if len(z) == 6 and z[0] in "+-" and z[3] == ":":
            off = _num(z, 1, 3) * 3600 + _num(z, 4, 6) * 60
            return t - off if z[0] == "+" else t + off
    except (ValueError, IndexError, TypeError, OverflowError):
        pass
    return None
