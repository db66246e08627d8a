"""The largest single allocation the library makes while handling the full-size messages, on
the 32-bit MicroPython webassembly port (issue 10): a GetConfiguration with every key, a
50-entry SendLocalList (Full, 6.3 KB of text), a SetChargingProfile with 24 periods, a
MeterValues with every measurand a connector has (8 configured, 14 sampled values), and the
journal save at the end of a transaction. On a small heap it is the largest contiguous block
that must be free which fails first, not the total.

How it is measured (tests_host/mpy/largest_alloc.py): automatic collection off, a heap map
(micropython.mem_info(1): one character per 16-byte block, a head letter then `=` for each
further block) before and after the operation; a block in the second map that the first does
not have was allocated by the operation. The figure is that block's size in whole blocks,
exactly what the allocator needed contiguous. The wasm heap grows on demand, so bisecting a
`-X heapsize` does not work there; the maps need none. Blocks that the operation allocated and
freed explicitly itself (a vstr that grows by moving) are not seen, but they are smaller than
what they became.

Measured on 2 December 2026 (.mpy -O2, wasm port 1.27.0), before -> after this change:
GetConfiguration (3,482 bytes sent) 3,440 -> 528 B, SendLocalList 480 -> 480 B,
SetChargingProfile 560 -> 128 B, MeterValues 1,568 -> 528 B, the journal save at the stop (a
19,962-byte tx1.json: 3 samples of 14 values kept for the StopTransaction and 3 queued
MeterValues) 19,968 -> 64 B. 528 B is one 512-byte block of an outgoing frame (every message
goes as one frame, queued in such blocks; the same figures after that change). The bound is 1
KB for each: a whole-message copy coming back (2-20 KB) fails it. Not counted: the
received text itself (6,346 B for the SendLocalList), which the transport allocates before
receive() (mpy_ocpp.ws reads a message longer than its 512-byte buffer into a bytearray of
its size and hands that over: json.loads reads it without a copy as str).

`python tests_host/test_largest_alloc.py [DIR]` prints the figures for the library in DIR (a
checkout's root; default: this one).
"""
import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))  # tests_host/wasm.py, any import mode
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # tools/, run as a script
from wasm import AVAILABLE, ROOT, run_wasm  # noqa: E402

from tools.bench import MPY_CROSS  # noqa: E402

SCRIPT = ROOT / "tests_host" / "mpy" / "largest_alloc.py"
OPERATIONS = ("GetConfiguration", "SendLocalList", "SetChargingProfile", "MeterValues",
              "StopTransaction")
LARGEST_MAX = 1024


def _blocks(lines):
    """{start block: (head character, length in blocks)} of one heap map."""
    cells = {}
    for ln in lines:
        i = ln.find(": ")
        if i != 8:
            continue
        try:
            at = int(ln[:8], 16)
        except ValueError:
            continue
        cells[at] = ln[10:].rstrip("\n")
    out = {}
    per = None
    start = None
    for at in sorted(cells):
        row = cells[at]
        if per is None:
            per = len(row)  # blocks per line; the address is in bytes: block = bytes / size
        for j, ch in enumerate(row):
            b = (at, j)
            if ch == "=":
                if start is not None:
                    out[start] = (out[start][0], out[start][1] + 1)
            elif ch == ".":
                start = None
            else:
                start = b
                out[b] = (ch, 1)
    return out


def largest(text):
    """{operation: largest block it allocated, in bytes} from the script's output."""
    word = 4
    res = {}
    maps = []
    cur = None
    for ln in text.splitlines():
        if ln.startswith("WORD "):
            word = int(ln.split()[1])
        elif ln.startswith("BEGIN "):
            maps = []
        elif ln.startswith("GC memory layout"):
            cur = []
            maps.append(cur)
        elif ln.startswith("END "):
            before, after = _blocks(maps[0]), _blocks(maps[1])
            new = [n for k, (c, n) in after.items() if before.get(k) != (c, n)]
            res[ln[4:]] = max(new) * 4 * word if new else 0
            cur = None
        elif cur is not None:
            cur.append(ln)
    return res


def measure(root=ROOT, mpy_dir=None):
    """Run the script on the wasm port against root's mpy_ocpp (compiled with mpy-cross -O2
    into mpy_dir when given); -> {operation: bytes}."""
    if mpy_dir is not None:
        for src in sorted((Path(root) / "mpy_ocpp").glob("*.py")):
            out = Path(mpy_dir) / "mpy_ocpp" / (src.stem + ".mpy")
            out.parent.mkdir(parents=True, exist_ok=True)
            subprocess.run([str(MPY_CROSS), "-O2", "-o", str(out), str(src)], check=True)
    rc, out, err = run_wasm(SCRIPT.read_text(), heap="1m", mpy_dir=mpy_dir, timeout=120)
    assert rc == 0, err
    for done in ("LIST 1 50", "PROFILES 1", "SENT MeterValues True", "STOPPED True"):
        assert done in out.splitlines(), (done, out[-2000:])  # each was handled in full
    return largest(out)


@pytest.mark.skipif(not AVAILABLE, reason="no node or no wasm port (make wasm)")
def test_largest_single_allocation_is_bounded(tmp_path):
    got = measure(mpy_dir=tmp_path / "mpy")
    print(got)
    assert sorted(got) == sorted(OPERATIONS), got
    for op in OPERATIONS:
        assert 0 < got[op] <= LARGEST_MAX, (op, got)


def test_the_map_reader():
    m = ["GC memory layout; from 100:",
         "00000000: h=AL==....S=",
         "       (3 lines all free)",
         "00000100: h==="]
    assert _blocks(m[1:]) == {(0, 0): ("h", 2), (0, 2): ("A", 1), (0, 3): ("L", 3),
                              (0, 10): ("S", 2), (256, 0): ("h", 4)}
    out = "\n".join(["WORD 4", "BEGIN x", m[0], m[1], m[0], "00000000: h=AL==h===S=", "END x"])
    assert largest(out) == {"x": 4 * 16}


if __name__ == "__main__":
    import tempfile
    with tempfile.TemporaryDirectory() as d:
        print(measure(Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT, Path(d) / "mpy"))
