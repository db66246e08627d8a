# Heap figures on the 32-bit MicroPython webassembly port (run by tools/bench.py through
# tools/wasm/run.mjs, with tools/bench/fake.py pasted in front). `#--- step` lines split the
# script: run.mjs runs gc.collect() between steps, so gc.mem_alloc() at the start of a step is
# the heap still referenced. Automatic collection is off, so the growth of gc.mem_alloc()
# within a step is everything that step allocated. Prints "KEY value..." lines.
import gc
import sys

gc.disable()
PROFILES = ("local_auth_list", "reservation", "smart_charging", "remote_trigger",
            "firmware_management")
# every global exists before the first measurement: a new name could grow __main__'s dict
m0 = m1 = m2 = m3 = r0 = 0
ChargePoint = Store = cp = link = store = mods = cables = None
peak = [0, ""]  # the highest heap at the end of a step, and where
live = [0, ""]  # the highest heap retained between steps (after gc.collect())


def out(*words):
    print(" ".join([str(w) for w in words]))


def idle_alloc(n):
    a = gc.mem_alloc()
    for _ in range(n):
        cp.loop()
    return gc.mem_alloc() - a


def note(name):
    """After a session step: the heap retained at its start, and that plus all it allocated
    (no collection runs within a step, so this bounds the step's own peak from above)."""
    a = gc.mem_alloc()
    if r0 > live[0]:
        live[0] = r0
        live[1] = name
    if a > peak[0]:
        peak[0] = a
        peak[1] = name


def fake_cost(frame):
    a = gc.mem_alloc()
    link.send(frame)
    b = gc.mem_alloc()
    link.inbox.pop()
    link.sent -= 1
    return b - a


def mv_round(c):
    """One MeterValues: sampling, sending, handling the answer (bytes each)."""
    a = gc.mem_alloc()
    c.sample("MeterValuesSampledData", "StopTxnSampledData", "Sample.Periodic")
    b = gc.mem_alloc()
    cp.loop()
    s = gc.mem_alloc()
    cp.loop()
    e = gc.mem_alloc()
    return b - a, s - b, e - s


def incoming(frame):
    """An incoming CALL handled and answered: (bytes allocated, answer length)."""
    link.push(frame)
    a = gc.mem_alloc()
    cp.loop()
    b = gc.mem_alloc()
    return b - a, link.reply


def local_list(n):
    """A SendLocalList (Full) of n entries."""
    e = ",".join(['{"idTag":"LIST%04d","idTagInfo":{"status":"Accepted"}}' % i for i in range(n)])
    return ('[2,"csms-2","SendLocalList",{"listVersion":1,"updateType":"Full",'
            '"localAuthorizationList":[%s]}]' % e)


def frozen_model():
    """What importing would still put on the heap if the package were frozen (bytecode,
    constants and names stay in flash): per module its object and globals dict, a function
    object per def, per class its type object, dict and method functions. 32-bit sizes, with
    gc blocks of 16 bytes and dict tables about 1.5x their entries. Returns (bytes, modules,
    functions, classes)."""
    def dict_bytes(n):
        return 16 + ((n * 12 + 15) // 16) * 16  # dict object + table of 8-byte slots, 1.5x
    total = nmod = nfun = ncls = 0
    for name in list(sys.modules):
        if not name.startswith("mpy_ocpp"):
            continue
        mod = sys.modules[name]
        g = mod.__dict__
        nmod += 1
        total += 16 + dict_bytes(len(g))
        for v in g.values():
            t = type(v)
            if t is type and getattr(v, "__module__", name) == name:
                ncls += 1
                attrs = [a for a in v.__dict__.values()]
                total += 64 + dict_bytes(len(attrs))
                for a in attrs:
                    if type(a).__name__ in ("function", "staticmethod", "classmethod", "property"):
                        nfun += 1
                        total += 16
            elif t.__name__ == "function" or t.__name__ == "closure":
                nfun += 1
                total += 16
            elif t is list or t is dict:  # built at import: RAM even when frozen
                total += 16 + 8 * len(v)
    return total, nmod, nfun, ncls


#--- step
m0 = gc.mem_alloc()
from mpy_ocpp import ChargePoint  # noqa: E402
from mpy_ocpp.store import Store  # noqa: E402
mods = profile_modules(PROFILES)
#--- step
m1 = gc.mem_alloc()
out("FROZEN_MODEL", *frozen_model())
out("IMPORT", m1 - m0)
out("PROFILES", ",".join([m.__name__.split(".")[-1] for m in mods]) or "-")
link = FakeCSMS()
store = Store("/state")
#--- step
m2 = gc.mem_alloc()
cp = ChargePoint("CP_1", link, store, connectors=2, profiles=mods)
cables = [Cable(c) for c in cp.connectors[1:]]
#--- step
out("INIT", gc.mem_alloc() - m2)
# @boot: tools/bench.py puts the boot here, one step per loop() call
#--- step
if not settle(cp, link):
    raise SystemExit("boot did not settle")
for _ in range(50):
    cp.loop()
#--- step
m3 = gc.mem_alloc()
out("STATE", m3 - m2)
out("IDLE_ALLOC", idle_alloc(1000), 1000)
# @session: tools/bench.py puts the session here, one step per event and per loop() call
#--- step
if not settle(cp, link):
    raise SystemExit("session did not settle")
for _ in range(50):
    cp.loop()
#--- step
out("AFTER", gc.mem_alloc() - m2)
out("LIVE_MAX", live[0] - m2, live[1])
out("PEAK", peak[0] - m2, peak[1])
out("SENT", link.sent, link.received)
