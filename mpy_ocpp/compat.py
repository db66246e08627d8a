# The few names that differ between MicroPython and CPython, in one place.
import sys
import time

# const: MicroPython's parser folds every `NAME = const(n)` whatever `const` is bound to, so
# no module imports it (an import costs each module a global slot of heap); CPython gets it
# as a builtin here, and __init__.py imports this module first.
try:
    import micropython  # noqa: F401
except ImportError:
    import builtins

    builtins.const = lambda x: x

try:
    ticks_ms = time.ticks_ms
    ticks_diff = time.ticks_diff
    ticks_add = time.ticks_add
except AttributeError:  # CPython: same 30-bit wrap-around as the boards
    _TICKS_MASK = 0x3FFFFFFF
    _TICKS_HALF = 0x20000000

    def ticks_ms():
        return int(time.monotonic() * 1000) & _TICKS_MASK

    def ticks_add(t, delta):
        return (t + delta) & _TICKS_MASK

    def ticks_diff(a, b):
        return ((a - b + _TICKS_HALF) & _TICKS_MASK) - _TICKS_HALF

if sys.implementation.name == "micropython":
    mktime_utc = time.mktime  # the ports read the tuple as UTC, in their own epoch (2000 on ESP32)
else:  # CPython: calendar.timegm's arithmetic (importing calendar loads datetime and locale)

    def mktime_utc(t):
        y, m = t[0], t[1]
        if not 1 <= m <= 12:
            raise ValueError("month")
        if m < 3:  # count from March: the leap day ends the year
            y -= 1
            m += 12
        days = 365 * y + y // 4 - y // 100 + y // 400 + (153 * (m - 3) + 2) // 5 + t[2] - 719469
        return days * 86400 + t[3] * 3600 + t[4] * 60 + t[5]


def log(*args):
    print(*args, file=sys.stderr)


def url_quote(s):
    """`s` percent-encoded as one URL path segment (OCPP-J: the charge point id ends the URL);
    only RFC 3986's unreserved characters stay (no urllib on MicroPython)."""
    out = []
    for b in s.encode():
        c = chr(b)
        out.append(c if b < 128 and (c.isalpha() or c.isdigit()) or c in "-._~" else "%%%02X" % b)
    return "".join(out)
