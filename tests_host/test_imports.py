"""What importing the library loads besides itself: a ws:// charge point needs neither TLS nor
OpenSSL. On CPython `ssl` and `hashlib` load OpenSSL (VmHWM of a bare python 8.7 MB, with
hashlib 12.5 MB, with ssl 14.9 MB); on MicroPython the unix port's `ssl` is a frozen Python
wrapper that costs heap. mpy_ocpp.ws imports ssl when a wss:// WebSocket is made, and takes
sha1 from CPython's builtin `_sha1` (hashlib on MicroPython) at the handshake. On CPython,
compat.mktime_utc does calendar.timegm's arithmetic itself (calendar loads datetime and
locale: 0.9 MB)."""
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
MICROPYTHON = Path(sys.executable).parent / "micropython"
CODE = """import sys
from mpy_ocpp import ChargePoint, clock, local_auth_list, reservation, smart_charging
from mpy_ocpp import remote_trigger, firmware_management
from mpy_ocpp.store import Store
from mpy_ocpp.ws import WebSocket
ws = WebSocket("ws://127.0.0.1:1/ocpp/CP_1")
print("LOADED", " ".join(sorted(m for m in ("ssl", "hashlib", "_hashlib", "_ssl", "tls", "calendar")
                                if m in sys.modules)) or "-")
WebSocket("wss://127.0.0.1:1/ocpp/CP_1", verify=False)
print("TLS", "ssl" in sys.modules)
"""


def _run(cmd, env=None):
    p = subprocess.run(cmd + ["-c", CODE], cwd=ROOT, capture_output=True, text=True, timeout=60,
                       env=env, stdin=subprocess.DEVNULL)
    assert p.returncode == 0, p.stderr
    return p.stdout.split("\n")


def test_cpython_ws_loads_no_ssl_nor_hashlib():
    assert _run([sys.executable]) == ["LOADED -", "TLS True", ""]


@pytest.mark.skipif(not MICROPYTHON.exists(), reason="no micropython next to python")
def test_micropython_ws_loads_no_ssl():
    env = dict(os.environ, MICROPYPATH=".frozen:" + str(ROOT))
    assert _run([str(MICROPYTHON)], env) == ["LOADED -", "TLS True", ""]


def test_cpython_mktime_utc_is_timegm():
    import calendar
    import random

    from mpy_ocpp.compat import mktime_utc

    r = random.Random(3)
    for _ in range(20000):
        t = (r.randint(1, 2200), r.randint(1, 12), r.randint(1, 31), r.randint(0, 23),
             r.randint(0, 59), r.randint(0, 59), 0, 0)
        assert mktime_utc(t) == calendar.timegm(t), t
    for t in ((2024, 2, 29, 0, 0, 0, 0, 0), (2100, 3, 1, 0, 0, 0, 0, 0), (1970, 1, 1, 0, 0, 0, 0, 0)):
        assert mktime_utc(t) == calendar.timegm(t), t
    with pytest.raises(ValueError):
        mktime_utc((2026, 13, 1, 0, 0, 0, 0, 0))
