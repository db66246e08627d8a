# Pasted by tools/firmware_bench.py in front of session.py (unix) and qemu_session.py, after
# a line ORDER = "<the library's modules, dependencies first>". Runs on frozen MicroPython.
import gc
import sys
import time

PROFILES = ("local_auth_list", "reservation", "smart_charging", "remote_trigger",
            "firmware_management", "security", "signed_meter_values", "plug_and_charge")
LAZY = ("http",)  # imported when needed (http: a firmware transfer; core, *_calls: a CSMS call), not at boot
live = [0, ""]  # the highest heap after a collection between loop() calls, and when
top = [0, ""]  # the highest heap retained plus all that one loop() call allocated, and when
m0 = 0
phase = "boot"


def out(*words):
    print(" ".join([str(w) for w in words]))


class _Pkg:  # the package before its __init__ runs: each module's own import cost shows
    __path__ = ".frozen/mpy_ocpp"


def import_all():
    """Import the frozen library module by module: 'IMPORT_MOD name bytes' lines."""
    sys.modules["mpy_ocpp"] = _Pkg()
    for name in ORDER.split(","):  # noqa: F821 (the bench's first line)
        gc.collect()
        a = gc.mem_alloc()
        __import__("mpy_ocpp." + name)
        gc.collect()
        out("IMPORT_MOD", name, gc.mem_alloc() - a)
    for name in LAZY:  # measured, then let go: the idle figures are those of a real boot
        del sys.modules["mpy_ocpp." + name]
    del sys.modules["mpy_ocpp"]
    gc.collect()
    a = gc.mem_alloc()
    __import__("mpy_ocpp")
    gc.collect()
    out("IMPORT_MOD", "__init__", gc.mem_alloc() - a)


def profile_mods():
    return tuple([sys.modules["mpy_ocpp." + p] for p in PROFILES
                  if "mpy_ocpp." + p in sys.modules])


class Wire:
    """A connector's cable, EV and meter."""

    def __init__(self, c):
        self.in_ = False
        self.wh = 1000
        c.plugged = lambda: self.in_
        c.ev_ready = lambda: True
        c.energy = self.energy
        c.power = lambda: 7400
        c.error = lambda: None
        c.on_permission = lambda on: None
        c.on_unlock = lambda: True

    def energy(self):
        self.wh += 3
        return self.wh


def step():
    """One loop() call. With MEASURE: collected before it, no collection during it, so the
    heap at its end is what stays plus all it allocated ('top'); collected after it, the live
    heap between calls ('live'). The highest of each, and when, are kept."""
    if not MEASURE:  # noqa: F821 (the script sets it)
        cp.loop()  # noqa: F821 (the script's charge point)
        return
    gc.collect()
    gc.disable()
    cp.loop()  # noqa: F821
    t = gc.mem_alloc() - m0
    gc.enable()
    gc.collect()
    h = gc.mem_alloc() - m0
    for k, v in ((live, h), (top, t)):
        if v > k[0]:
            k[0] = v
            k[1] = phase.replace(" ", "_")


def run(until, what, limit=20000):
    t = time.ticks_ms()
    while not until():
        step()
        if time.ticks_diff(time.ticks_ms(), t) > limit:
            raise SystemExit("timeout: " + what)


def quiet():
    return cp.online and cp.accepted and not cp.queue and cp.pending is None  # noqa: F821


def calm(ms=100):
    """Loop until nothing is queued or in flight, for ms on end."""
    t = [time.ticks_ms()]

    def done():
        if not quiet():
            t[0] = time.ticks_ms()
        return time.ticks_diff(time.ticks_ms(), t[0]) > ms
    run(done, phase)


def charge(cp, wires):
    """Both connectors: plug and tag, meter values, tag again and unplug."""
    global phase
    for i, c in enumerate(cp.connectors[1:]):
        phase = "start %d" % (i + 1)
        wires[i].in_ = True
        cp.tag(c.id, "TAG000%d" % (i + 1))
        run(lambda: c.tx is not None and quiet(), phase)
        calm()
    phase = "meter values"
    for _ in range(3):
        for c in cp.connectors[1:]:
            c.sample("MeterValuesSampledData", "StopTxnSampledData", "Sample.Periodic")
            calm(30)
    for i, c in enumerate(cp.connectors[1:]):
        phase = "stop %d" % (i + 1)
        cp.tag(c.id, "TAG000%d" % (i + 1))
        run(lambda: c.tx is None and quiet(), phase)
        wires[i].in_ = False
        calm()


def booted(cp):
    """After boot: 'IDLE bytes' (import + state) and 'IDLE_ALLOC bytes loops'."""
    run(lambda: quiet() and cp.connectors[-1].status, "boot")
    for _ in range(50):
        step()
    gc.collect()
    out("IDLE", gc.mem_alloc() - m0)
    out("IDLE_ALLOC", idle_alloc(cp), 1000)


def finish():
    out("LIVE_MAX", live[0], live[1])
    out("LOOP_TOP", top[0], top[1])
    gc.collect()
    out("AFTER", gc.mem_alloc() - m0)
    out("DONE")


def idle_alloc(cp, n=1000):
    gc.collect()
    gc.disable()
    a = gc.mem_alloc()
    for _ in range(n):
        cp.loop()
    b = gc.mem_alloc()
    gc.enable()
    return b - a
