# The few names that differ between MicroPython and CPython, in one place.
import sys
import time

try:
    from micropython import const
except ImportError:
    def const(x):
        return x

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
else:
    from calendar import timegm as mktime_utc


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
