# Where a session's big allocations happen: the standard session over the in-memory link on a
# unix build with sys.settrace (MICROPY_PY_SYS_SETTRACE=1: `tools/firmware_bench.py --trace`
# builds it and pastes ORDER and CALLS lines, common.py and fake.py in front). Collection is
# off, so the growth of gc.mem_alloc() between two trace events is what the code between them
# allocated: it is put on the line of the earlier event. Prints "BIG bytes where" for each
# line that allocated at least MIN bytes at once, the largest first.
MEASURE = False
MIN = 256
STATE = sys.argv[1]  # noqa: F821 (common.py imports sys, gc, time)
from mpy_ocpp import ChargePoint  # noqa: E402
from mpy_ocpp.store import Store  # noqa: E402

big = {}  # "file:line function" -> [largest, times, phase]
last = [0, None, 0]  # heap, code object, line: nothing allocated per event


def tracer(frame, event, arg):
    d = gc.mem_alloc() - last[0]  # noqa: F821
    if d >= MIN and last[1] is not None:
        c = last[1]
        k = "%s:%d %s" % (c.co_filename, last[2], c.co_name)
        b = big.get(k)
        if b is None:
            big[k] = [d, 1, phase]  # noqa: F821
        else:
            b[1] += 1
            if d > b[0]:
                b[0] = d
                b[2] = phase  # noqa: F821
    last[1] = frame.f_code
    last[2] = frame.f_lineno
    last[0] = gc.mem_alloc()  # noqa: F821
    return tracer


link = FakeCSMS()  # noqa: F821
cp = ChargePoint("CP_1", link, Store(STATE), connectors=2, profiles=profile_mods())  # noqa: F821
wires = [Wire(c) for c in cp.connectors[1:]]  # noqa: F821
gc.disable()  # noqa: F821
sys.settrace(tracer)  # noqa: F821
run(lambda: quiet() and cp.connectors[-1].status, "boot", 300000)  # noqa: F821
for phase, frame in CALLS:  # noqa: F821
    link.push(frame)
    run(lambda: not link.inbox, "a CSMS call", 300000)  # noqa: F821
    calm(20)  # noqa: F821
charge(cp, wires)  # noqa: F821
sys.settrace(None)  # noqa: F821
for where, (n, times, ph) in sorted(big.items(), key=lambda x: -x[1][0]):
    out("BIG", n, times, ph.replace(" ", "_"), where.replace(" ", "|"))  # noqa: F821
out("DONE")  # noqa: F821
