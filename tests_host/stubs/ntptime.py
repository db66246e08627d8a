"""A stand-in for MicroPython's `ntptime` on CPython: no NTP server here, so settime()
times out like an unreachable pool does (the CSMS then sets the clock)."""
host = "pool.ntp.org"
timeout = 1
calls = []


def settime():
    calls.append((host, timeout))
    raise OSError(110)  # ETIMEDOUT
