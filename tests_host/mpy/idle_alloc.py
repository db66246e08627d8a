# Run on MicroPython: a charge point booted over a real WebSocket, then the bytes that
# 2000 idle loop() calls allocate (gc.mem_alloc()). Prints "IDLE_ALLOC <bytes>".
#   micropython idle_alloc.py URL ROOT STATE_DIR [2.0.1]   (2.0.1: offered first, then 1.6)
import gc
import sys
import time

sys.path.insert(0, sys.argv[2] if len(sys.argv) > 2 else ".")
from mpy_ocpp import ChargePoint, ocpp16  # noqa: E402
from mpy_ocpp.store import Store  # noqa: E402
from mpy_ocpp.ws import WebSocket  # noqa: E402

versions = (ocpp16,)
if sys.argv[4:] == ["2.0.1"]:
    from mpy_ocpp import ocpp201
    versions = (ocpp201, ocpp16)
cp = ChargePoint("CP_1", WebSocket(sys.argv[1] + "/CP_1", [v.SUBPROTOCOL for v in versions]),
                 Store(sys.argv[3]), connectors=2, versions=versions)
for c in cp.connectors[1:]:
    c.plugged = lambda: False
    c.ev_ready = lambda: True
    c.energy = lambda: 1234
    c.power = lambda: 0
    c.error = lambda: None
    c.on_permission = lambda on: None
t0 = time.time()
while not (cp.accepted and not cp.queue and cp.pending is None and cp.connectors[2].status):
    cp.loop()
    if time.time() - t0 > 10:
        raise SystemExit("never booted")
for _ in range(100):
    cp.loop()


def measure(n):  # in a function: a new global would grow the module's dict mid-measure
    gc.collect()
    before = gc.mem_alloc()
    for _ in range(n):
        cp.loop()
    return gc.mem_alloc() - before


print("VERSION", cp.version)
print("IDLE_ALLOC", measure(2000))
