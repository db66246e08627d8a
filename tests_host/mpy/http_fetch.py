# mpy_ocpp.http on the MicroPython unix port, driven by tests_host/test_firmware_management.py:
#   micropython http_fetch.py GET_URL FILE PUT_URL [CA_FILE]
# Downloads GET_URL into FILE, then PUTs FILE to PUT_URL; prints one line per transfer:
# "GET|PUT <True|False> <HTTP status> <bytes> <error>".
import sys

from mpy_ocpp.compat import ticks_diff, ticks_ms
from mpy_ocpp.http import Transfer


def run(t):
    t0 = ticks_ms()
    while t.step() is None:
        if ticks_diff(ticks_ms(), t0) > 20000:
            t.close()
    print("GET" if not t.put else "PUT", t.result, t.status, t.done, t.error)
    return t.result


get_url, path, put_url = sys.argv[1:4]
ca = None
if len(sys.argv) > 4:
    with open(sys.argv[4], "rb") as f:
        ca = f.read()
if run(Transfer(get_url, path, ca=ca)):
    run(Transfer(put_url, path, put=True, ca=ca))
