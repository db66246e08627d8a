# Our side of the CPython comparison, also run on the MicroPython unix port (the same script):
# mpy_ocpp's ChargePoint over its own WebSocket, driven the way a firmware would call
# cp.loop(): boot, a StatusNotification per connector, then N MeterValues, each queued once
# the previous one was answered. Between loop() calls that found nothing to do, the driver
# sleeps in poll() on the socket (at most 50 ms, so timers still run) instead of spinning:
# the client's CPU time is then its own work, not busy waiting. Run from the repository root.
#   python|micropython tools/bench/cpy_ours.py WS_URL N STATE_DIR [LIB_DIR]
#     -> "SESSION <import s> <session s> <peak RSS KiB>"     (LIB_DIR: where mpy_ocpp is, default ".")
import sys
import time
import select


def now():
    return time.time_ns() / 1e9



def hwm():
    """Peak RSS of this process in KiB (VmHWM): unlike ru_maxrss it does not start from the
    parent's size at fork."""
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM"):
            return int(line.split()[1])
    return 0


t0 = now()
sys.path.insert(0, sys.argv[4] if len(sys.argv) > 4 else ".")
from mpy_ocpp import ChargePoint  # noqa: E402
from mpy_ocpp import clock  # noqa: E402
from mpy_ocpp.store import Store  # noqa: E402
from mpy_ocpp.ws import WebSocket  # noqa: E402

t1 = now()
url, n, state = sys.argv[1], int(sys.argv[2]), sys.argv[3]
ws = WebSocket(url + "/BENCH_OURS")
cp = ChargePoint("BENCH_OURS", ws, Store(state), connectors=2, vendor="mpy_ocpp", model="bench")
for c in cp.connectors[1:]:
    c.plugged = lambda: False
    c.energy = lambda: 1000
    c.error = lambda: None
deadline = now() + 30
poller = select.poll()
sock = [None]  # the socket registered with poller (the transport opens a new one per link)


def wait():
    """Sleep until the CSMS sends something (or 50 ms): nothing else can give loop() work."""
    if ws._s is not sock[0]:  # the driver's one look inside the transport
        if sock[0] is not None:
            poller.unregister(sock[0])
        sock[0] = ws._s
        if sock[0] is None:
            return
        poller.register(sock[0], select.POLLIN)
    poller.poll(50)


while not (cp.accepted and not cp.queue and cp.pending is None and cp.connectors[2].status):
    cp.loop()
    if cp.pending is not None:  # a call is out: its answer is the next event
        wait()
    if now() > deadline:
        raise SystemExit("no boot")
answered = [0]


def done(res):
    if res is None:
        raise SystemExit("MeterValues failed")
    answered[0] += 1


for i in range(n):
    cp.call("MeterValues", {"connectorId": 1, "meterValue": [{"timestamp": clock.iso(), "sampledValue": [
        {"value": str(1000 + i), "context": "Sample.Periodic",
         "measurand": "Energy.Active.Import.Register", "unit": "Wh"}]}]}, done)
    cp.loop()  # sends it
    while answered[0] <= i:
        wait()
        cp.loop()
        if now() > deadline + 120:
            raise SystemExit("too slow")
t2 = now()
ws.close()
print("SESSION %.4f %.4f %d" % (t1 - t0, t2 - t1, hwm()))
