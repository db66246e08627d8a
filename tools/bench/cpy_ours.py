# CPython side of the comparison: mpy_ocpp's ChargePoint over its own WebSocket, driven by a
# plain loop calling cp.loop() (as a firmware would): boot, a StatusNotification per
# connector, then N MeterValues, each queued once the previous one was answered.
#   python tools/bench/cpy_ours.py WS_URL N STATE_DIR   -> "SESSION <import s> <session s>"
import os
import sys
import time

t0 = time.perf_counter()
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
from mpy_ocpp import ChargePoint  # noqa: E402
from mpy_ocpp import clock  # noqa: E402
from mpy_ocpp.store import Store  # noqa: E402
from mpy_ocpp.ws import WebSocket  # noqa: E402

t1 = time.perf_counter()
url, n, state = sys.argv[1], int(sys.argv[2]), sys.argv[3]
cp = ChargePoint("BENCH_OURS", WebSocket(url + "/BENCH_OURS"), Store(state), connectors=2,
                 vendor="mpy_ocpp", model="bench")
for c in cp.connectors[1:]:
    c.plugged = lambda: False
    c.energy = lambda: 1000
    c.error = lambda: None
deadline = time.monotonic() + 30
while not (cp.accepted and not cp.queue and cp.pending is None and cp.connectors[2].status):
    cp.loop()
    if time.monotonic() > deadline:
        raise SystemExit("no boot")
answered = [0]


def done(res, tx):
    if res is None:
        raise SystemExit("MeterValues failed")
    answered[0] += 1


for i in range(n):
    cp.call("MeterValues", {"connectorId": 1, "meterValue": [{"timestamp": clock.iso(), "sampledValue": [
        {"value": str(1000 + i), "context": "Sample.Periodic",
         "measurand": "Energy.Active.Import.Register", "unit": "Wh"}]}]}, done)
    while answered[0] <= i:
        cp.loop()
        if time.monotonic() > deadline + 120:
            raise SystemExit("too slow")
t2 = time.perf_counter()
cp.transport.close()
print("SESSION %.4f %.4f" % (t1 - t0, t2 - t1))
