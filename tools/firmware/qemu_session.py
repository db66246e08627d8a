# The standard session on the frozen qemu Cortex-M3 firmware (no network there): the
# charge point against tools/bench/fake.py's in-memory CSMS, on a littlefs in RAM.
# tools/firmware_bench.py pastes ORDER and CALLS lines, common.py and fake.py in front and
# sends it through the raw REPL. Prints "KEY value..." lines, DONE at the end.
import os
import vfs

MEASURE = True


class RAMBlocks:  # littlefs's block device: 64 blocks of 512 bytes. Copies byte by byte:
    def __init__(self):  # a slice would allocate, and count as the library's heap
        self.data = bytearray(64 * 512)

    def readblocks(self, n, buf, off=0):
        a, d = n * 512 + off, self.data
        for i in range(len(buf)):
            buf[i] = d[a + i]

    def writeblocks(self, n, buf, off=0):
        a, d = n * 512 + off, self.data
        for i in range(len(buf)):
            d[a + i] = buf[i]

    def ioctl(self, op, arg):
        return {4: 64, 5: 512, 6: 0}.get(op)


bd = RAMBlocks()
vfs.VfsLfs2.mkfs(bd)
vfs.mount(vfs.VfsLfs2(bd), "/ram")
os.mkdir("/ram/state")


class _Stub:  # no network on qemu: mpy_ocpp.ws imports, so that its heap counts
    pass


for name in ("socket", "ssl"):
    try:
        __import__(name)
    except ImportError:
        sys.modules[name] = _Stub()  # noqa: F821
link = None
gc.collect()  # noqa: F821 (common.py imports gc, sys, time)
m0 = gc.mem_alloc()  # noqa: F821
import_all()  # noqa: F821
gc.collect()  # noqa: F821
out("IMPORT", gc.mem_alloc() - m0)  # noqa: F821
from mpy_ocpp import ChargePoint  # noqa: E402
from mpy_ocpp.store import Store  # noqa: E402

link = FakeCSMS()  # noqa: F821
cp = ChargePoint("CP_1", link, Store("/ram/state"), connectors=2, profiles=profile_mods())  # noqa: F821
wires = [Wire(c) for c in cp.connectors[1:]]  # noqa: F821
booted(cp)  # noqa: F821
for phase, frame in CALLS:  # noqa: F821
    link.push(frame)
    run(lambda: not link.inbox, "a CSMS call")  # noqa: F821
    calm(20)  # noqa: F821
charge(cp, wires)  # noqa: F821
finish()  # noqa: F821
