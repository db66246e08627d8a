# The standard session on a frozen 32-bit unix build, over a real ws:// or wss:// link to
# tools/csms.py; tools/firmware_bench.py runs it with common.py pasted in front:
#   MICROPYPATH=.frozen micropython [-X heapsize=N] session.py URL STATE_DIR MODE [CA.der]
# 2 connectors, every profile the build has. MODE "measure": gc.collect() after every loop()
# call, for the live heap between calls; "run": the session alone (for the smallest heap).
# Prints "KEY value..." lines; after BOOTED it loops until the bench (whose CSMS sends its
# calls meanwhile) writes "go" on stdin. Exit 0 only if the session completed.
import select

URL, STATE, MODE = sys.argv[1:4]  # noqa: F821 (common.py imports sys, gc)
CA = sys.argv[4] if len(sys.argv) > 4 else None  # noqa: F821
MEASURE = MODE == "measure"
poller = select.poll()
poller.register(sys.stdin, select.POLLIN)  # noqa: F821


def go():
    if poller.poll(0):
        line = sys.stdin.readline()  # noqa: F821
        if line.strip() == "go":
            return True
        if not line:
            raise SystemExit("stdin closed")
    return False


gc.collect()  # noqa: F821
m0 = gc.mem_alloc()  # noqa: F821
import_all()  # noqa: F821
gc.collect()  # noqa: F821
out("IMPORT", gc.mem_alloc() - m0)  # noqa: F821
from mpy_ocpp import ChargePoint  # noqa: E402
from mpy_ocpp.store import Store  # noqa: E402
from mpy_ocpp.ws import WebSocket  # noqa: E402

ca = None
if CA:
    with open(CA, "rb") as f:
        ca = f.read()
cp = ChargePoint("CP_1", WebSocket(URL + "/CP_1", ca=ca), Store(STATE), connectors=2,
                 profiles=profile_mods())  # noqa: F821
wires = [Wire(c) for c in cp.connectors[1:]]  # noqa: F821
booted(cp)  # noqa: F821
out("BOOTED")  # noqa: F821
phase = "csms calls"
run(go, "the bench's go", 60000)  # noqa: F821
calm()  # noqa: F821
charge(cp, wires)  # noqa: F821
finish()  # noqa: F821
