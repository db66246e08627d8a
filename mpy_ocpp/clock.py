# Wall-clock time. Seconds are in the port's own epoch (2000 on ESP32, 1970 elsewhere):
# gmtime()/mktime_utc() convert, so no epoch arithmetic is done here.
import time

from .compat import mktime_utc

_offset = 0  # CSMS time minus RTC time, seconds
known = time.gmtime()[0] >= 2024  # the board may have set its RTC (NTP) before us


def now():
    return int(time.time()) + _offset


def set_iso(text):
    """Set the clock from an ISO 8601 time (BootNotification/Heartbeat currentTime)."""
    global _offset, known
    t = parse(text)
    if t is not None:
        _offset = t - int(time.time())
        known = True
    return t is not None


def iso(t=None):
    g = time.gmtime(now() if t is None else t)
    return "%04d-%02d-%02dT%02d:%02d:%02dZ" % g[:6]


def _num(s, a, b):
    v = s[a:b]
    if len(v) != b - a or not v.isdigit():
        raise ValueError
    return int(v)


def parse(s):
    """YYYY-MM-DDTHH:MM:SS[.fff](Z|±HH:MM) → seconds, or None."""
    try:
        if s[4] != "-" or s[7] != "-" or s[10] not in "Tt " or s[13] != ":" or s[16] != ":":
            return None
        t = mktime_utc((_num(s, 0, 4), _num(s, 5, 7), _num(s, 8, 10),
                        _num(s, 11, 13), _num(s, 14, 16), _num(s, 17, 19), 0, 0))
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
