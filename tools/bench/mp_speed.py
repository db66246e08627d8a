# Speed on the MicroPython unix port (run by tools/bench.py with tools/bench/fake.py pasted
# in front):  micropython speed.py BUILD_DIR STATE_DIR [WS_URL]
# BUILD_DIR holds mpy_ocpp/*.mpy. Prints "KEY value..." lines; times in µs, each the best of
# a few runs. REF is a fixed pure-Python workload measured in the same run: figures divided by
# it compare across machines.
import gc
import sys
import time

t0 = time.ticks_us()
sys.path.insert(0, sys.argv[1])
from mpy_ocpp import ChargePoint  # noqa: E402
from mpy_ocpp.store import Store  # noqa: E402

PROFILES = ("local_auth_list", "reservation", "smart_charging", "remote_trigger",
            "firmware_management", "security")
mods = profile_modules(PROFILES)
IMPORT_US = time.ticks_diff(time.ticks_us(), t0)
STATE = sys.argv[2]


def out(*words):
    print(" ".join([str(w) for w in words]))


def ref():
    """The reference workload: 10,000 rounds of integer, dict and call work."""
    d = {}
    x = 0
    for i in range(10000):
        x = (x + i * 7) & 0xFFFF
        d[i & 31] = x
        x ^= len(d)
    return x


def best(f, runs=5):
    t = None
    for _ in range(runs):
        gc.collect()
        a = time.ticks_us()
        f()
        d = time.ticks_diff(time.ticks_us(), a)
        t = d if t is None or d < t else t
    return t


def make(link):
    cp = ChargePoint("CP_1", link, Store(STATE), connectors=2, profiles=mods)
    for c in cp.connectors[1:]:
        Cable(c)
    return cp


def booted():
    link = FakeCSMS()
    cp = make(link)
    if not settle(cp, link):
        raise SystemExit("boot did not settle")
    return cp, link


REF = best(ref, 9)
out("REF", REF)
out("IMPORT", IMPORT_US)
out("INIT", best(lambda: make(FakeCSMS())))
out("BOOT", best(booted))  # init + BootNotification and 3 StatusNotifications answered
cp, link = booted()
N = 20000


def idle():
    for _ in range(N):
        cp.loop()


out("IDLE", best(idle, 3), N)
GETCONF = '[2,"csms-1","GetConfiguration",{}]'


def getconf():
    link.push(GETCONF)
    cp.loop()


out("GETCONF", best(getconf, 20), link.reply)
c = cp.connectors[1]
c.plugged = lambda: True
cp.tag(1, "TAG0001")
settle(cp, link)


def mv():
    c.sample("MeterValuesSampledData", "StopTxnSampledData", "Sample.Periodic")
    cp.loop()
    cp.loop()


out("MV", best(mv, 20))
if len(sys.argv) > 3:  # the idle loop over a real WebSocket link
    from mpy_ocpp.ws import WebSocket
    cp = ChargePoint("BENCH_MP", WebSocket(sys.argv[3] + "/BENCH_MP"), Store(STATE + "/ws"),
                     connectors=2, profiles=mods)
    for c in cp.connectors[1:]:
        Cable(c)
    t = time.time()
    while not (cp.accepted and not cp.queue and cp.pending is None and cp.connectors[2].status):
        cp.loop()
        if time.time() - t > 10:
            raise SystemExit("no boot over the WebSocket")
    out("IDLE_WS", best(idle, 3), N)
    cp.transport.close()
