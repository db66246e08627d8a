# Heap figures on the 32-bit MicroPython webassembly port (run by tools/bench.py through
# tools/wasm/run.mjs, with tools/bench/fake.py pasted in front). `#--- step` lines split the
# script: run.mjs runs gc.collect() between steps, so gc.mem_alloc() at the start of a step is
# the heap still referenced. Automatic collection is off, so the growth of gc.mem_alloc()
# within a step is everything that step allocated. Prints "KEY value..." lines.
import gc
import sys

gc.disable()
PROFILES = ("local_auth_list", "reservation", "smart_charging", "remote_trigger",
            "firmware_management", "security", "signed_meter_values", "plug_and_charge")
# every global exists before the first measurement: a new name could grow __main__'s dict
m0 = m1 = m2 = m3 = r0 = 0
ChargePoint = Store = cp = link = store = mods = cables = VERSIONS = None
V201 = False  # tools/bench.py sets it for the 2.0.1-only build
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


def _table_curve(d, n=100):
    """Bytes of d's hash table after each of n insertions (int keys: no key objects). A
    rehash frees the old table at once, so mem_alloc() follows the current table."""
    curve = [0] * (n + 1)
    a = gc.mem_alloc()
    for k in range(n):
        d[k] = None
        curve[k + 1] = gc.mem_alloc() - a
    return curve


def _fn():
    def f(x):
        return x
    return f


def _fn_pos():
    def f(x, y=1):
        return x
    return f


def _gen():  # a generator function is another type of the same size
    yield


def _cls():
    class C:
        pass
    return C


# The 32-bit sizes of what a frozen import creates, measured on this port: a bytecode
# function (without / with positional defaults), a class (type object and its dict), a dict,
# a list, an instance. N of each are made and kept, then each kind is dropped in a step of
# its own: what the collection between steps frees is the retained size (making some of them
# leaves garbage, e.g. a class body's function, which must not count).
KINDS = ("fn", "fn_pos", "cls", "dict", "list", "inst")
N = 32
made = [[None] * N for _ in KINDS]
U = {"_r": 0, "t0": 0, "t1": 0, "type": 0}  # every key exists: a new one could grow U
for k in KINDS:
    U[k] = 0


def calibrate(j):
    """Step j: the size of kind j - 1 (freed at the end of the step before), then free kind j."""
    r = gc.mem_alloc()
    if j:
        U[KINDS[j - 1]] = ((U["_r"] - r) // N + 8) // 16 * 16  # whole 16-byte gc blocks
    U["_r"] = r
    if j < len(KINDS):
        for i in range(N):
            made[j][i] = None


class _Bare:
    pass


def _table(curve, n):
    return curve[min(n, len(curve) - 1)]


def _const(v):
    """True if v is a constant that mpy-cross stores with the bytecode (in flash when frozen)."""
    if v is None or type(v) in (bool, int, float, str, bytes):
        return True  # (a big int or a str made at import would be RAM: none in the library)
    return type(v) is tuple and all(_const(x) for x in v)


def frozen_model(u, defaults):
    """What importing the package leaves on the heap when it is frozen (bytecode, constant
    tuples, strings and names stay in flash): per module its context object and globals dict,
    a function object per def (bigger with default arguments: `defaults` from tools/bench.py
    reading the sources), per class its type object, dict and methods, anything else built
    at import (lists, dicts, instances, tuples holding objects), and the growth of
    sys.modules. Every object counted once. Prints "FROZEN_MOD name bytes" per module;
    returns (bytes, modules, functions, classes)."""
    fn_types = (type(_fn), type(_gen))
    seen = set()
    n = {"fn": 0, "cls": 0}

    def fn(v, cls):
        n["fn"] += 1
        d = defaults.get(v.__globals__["__name__"] + "." + cls + v.__name__)
        if d is None:
            return u["fn"]
        return u["fn_pos"] + (u["dict"] + _table(u["t0"], d) if d else 0)  # d: kw-only count

    def obj(v, cls=""):
        if id(v) in seen or _const(v) or type(v) is type(sys):
            return 0
        seen.add(id(v))
        t = type(v)
        if t in fn_types:
            return fn(v, cls)
        if t is type and "__module__" in v.__dict__:  # a Python class (built-ins are in ROM)
            n["cls"] += 1
            size = u["type"] + u["dict"] + _table(u["t0"], len(v.__dict__))
            for a in v.__dict__.values():
                size += obj(a, v.__name__ + ".")
            return size
        if t is dict:
            size = u["dict"] + ((8 * len(v) + 15) // 16) * 16  # a literal: a table of len slots
            return size + sum([obj(x) for x in v.values()])
        if t is list or t is tuple:  # a list: object + items; a tuple: one block
            size = u["list"] + ((4 * len(v) + 15) // 16) * 16 if t is list else (8 + 4 * len(v) + 15) // 16 * 16
            return size + sum([obj(x) for x in v])
        if t.__name__ in ("staticmethod", "classmethod", "bound_method"):
            return 16
        if t.__name__ == "property":  # and its getter (a setter would be one more)
            n["fn"] += 1
            return 16 + u["fn"]
        if "__module__" in t.__dict__:  # an instance of a Python class
            return u["inst"] + _table(u["t0"], len(v.__dict__))
        return 0  # a built-in object (e.g. time.ticks_ms): in ROM

    total = nmod = 0
    names = sorted([k for k in sys.modules if k.split(".")[0] == "mpy_ocpp"])
    for name in names:
        g = sys.modules[name].__dict__
        nmod += 1
        size = 16 + u["dict"] + _table(u["t1"], len(g))  # mp_module_context_t: 4 words
        if "__path__" in g:  # the package: its path is a str object
            size += 32
        for v in g.values():  # what other modules define is counted with them
            if type(v) in fn_types and v.__globals__ is not g or (
                    type(v) is type and v.__dict__.get("__module__") not in (None, name)):
                continue
            size += obj(v)
        out("FROZEN_MOD", name, size, len(g))
        total += size
    total += _table(u["t1"], len(sys.modules)) - _table(u["t1"], len(sys.modules) - nmod)
    return total, nmod, n["fn"], n["cls"]


for j, make in enumerate((_fn, _fn_pos, _cls, dict, list, _Bare)):
    for i in range(N):
        made[j][i] = make()
U["t0"] = _table_curve({})  # a dict's hash table after n insertions, grown from {} (class
U["t1"] = [16] + [16 + g for g in _table_curve({0: None})]  # dicts) or one slot (module globals)
DEFAULTS = {}  # @defaults: tools/bench.py fills this in from the sources


#--- step
calibrate(0)
#--- step
calibrate(1)
#--- step
calibrate(2)
#--- step
calibrate(3)
#--- step
calibrate(4)
#--- step
calibrate(5)
#--- step
calibrate(6)
#--- step
U["type"] = U["cls"] - U["dict"] - U["t0"][2]  # its dict holds __module__, __qualname__
made = None


class _Stub:
    pass


# The transport (mpy_ocpp.ws) is part of what a board imports; the wasm port has no socket
# module (nor, maybe, select): empty stand-ins let it import, so that its heap counts.
for k in ("socket", "select"):
    try:
        __import__(k)
    except ImportError:
        sys.modules[k] = _Stub()
#--- step
m0 = gc.mem_alloc()
from mpy_ocpp import ChargePoint  # noqa: E402
from mpy_ocpp.store import Store  # noqa: E402
import mpy_ocpp.ws  # noqa: E402,F401
mods = profile_modules(PROFILES)
# the version module (ChargePoint imports ocpp16 only when it is given none): in the import
__import__("mpy_ocpp.ocpp201" if V201 else "mpy_ocpp.ocpp16")
VERSIONS = (sys.modules["mpy_ocpp.ocpp201" if V201 else "mpy_ocpp.ocpp16"],)
#--- step
m1 = gc.mem_alloc()
out("FROZEN_MODEL", *frozen_model(U, DEFAULTS))
out("UNITS", U["fn"], U["fn_pos"], U["type"], U["dict"], U["inst"])
out("IMPORT", m1 - m0)
out("PROFILES", ",".join([m.__name__.split(".")[-1] for m in mods]) or "-")
link = FakeCSMS(V201)
store = Store("/state")
#--- step
m2 = gc.mem_alloc()
cp = ChargePoint("CP_1", link, store, connectors=2, profiles=mods, versions=VERSIONS)
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
