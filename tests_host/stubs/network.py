"""A stand-in for MicroPython's `network` (station interface only) on CPython.
The link comes up after `connect()` was polled `polls_to_connect` times; `fail = True`
keeps it down. `WLAN.last` is the interface the firmware made."""
STA_IF = 0
AP_IF = 1
STAT_GOT_IP = 3

polls_to_connect = 2
fail = False


class WLAN:
    last = None

    def __init__(self, iface=STA_IF):
        self._active = False
        self._polls = None
        self.connects = []
        WLAN.last = self

    def active(self, on=None):
        if on is None:
            return self._active
        self._active = bool(on)

    def connect(self, ssid=None, key=None, **_):
        self.connects.append((ssid, key))
        self._polls = 0

    def disconnect(self):
        self._polls = None

    def isconnected(self):
        if self._polls is None or fail:
            return False
        self._polls += 1
        return self._polls > polls_to_connect

    def status(self, *_):
        return STAT_GOT_IP if self.isconnected() else 1

    def ifconfig(self, *_):
        return ("127.0.0.1", "255.0.0.0", "127.0.0.1", "127.0.0.1")

    def config(self, *a, **k):
        return None
