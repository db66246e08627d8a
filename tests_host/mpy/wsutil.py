# What the WebSocket tests share (tests_host/test_ws.py, and the scripts ws_client.py and
# ws_faults.py, which run on MicroPython and CPython alike).
import time

from mpy_ocpp.compat import ticks_diff, ticks_ms


class Log(list):
    def __call__(self, *args):
        self.append(" ".join(str(a) for a in args))


def pump(ws, cond, ms=5000):
    """poll() until cond(the messages so far) is true; -> the messages. A long message, which
    the transport hands over as a bytearray of its UTF-8 text or a list of such blocks, is
    decoded."""
    out = []
    t = ticks_ms()
    while ticks_diff(ticks_ms(), t) < ms:
        m = ws.poll()
        if type(m) is list:  # MicroPython's b"".join takes no bytearray
            b = bytearray()
            for x in m:
                b.extend(x)
            m = b
        if type(m) is bytearray:
            m = m.decode()
        if m is not None:
            out.append(m)
        if cond(out):
            return out
        time.sleep(0.001)
    raise AssertionError("timeout: %r, error %r" % (out, ws.error))
