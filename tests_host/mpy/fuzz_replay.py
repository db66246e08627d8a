# The fuzz test's frames on any runtime: tests_host/test_fuzz_mpy.py draws them on CPython from
# tests_host/test_fuzz.py's hypothesis strategies (hypothesis cannot run on MicroPython) into a
# corpus file, then runs   micropython tests_host/mpy/fuzz_replay.py CORPUS   (and the same on
# CPython, and on the 32-bit wasm port in steps). Each case (1-6 frames) goes to a new charging
# ChargePoint with every profile over the fake link, with test_fuzz.py's checks; then one
# charger takes the whole corpus four times and its heap must stay flat. A failure prints the
# case, the frame (cut short) and why; exit 1.
# Corpus: one case per line, its frames separated by spaces, each "t" + hex of the UTF-8 text
# or "b" + hex of the bytes (the head of an oversized message): no JSON reader in between.
import gc
import json
import os
import sys
from binascii import unhexlify

from mpy_ocpp import (ChargePoint, firmware_management, local_auth_list, remote_trigger,
                      reservation, rpc, smart_charging)
from mpy_ocpp.store import Store
from mpy_ocpp.transaction import Transaction
from tests_host.mpy.fakes import Link, state_dir

PROFILES = (local_auth_list, reservation, smart_charging, remote_trigger, firmware_management)
CODES = ("NotImplemented", "NotSupported", "ProtocolError", "SecurityError", "FormationViolation",
         "PropertyConstraintViolation", "TypeConstraintViolation", "OccurenceConstraintViolation",
         "GenericError")  # InternalError is a handler bug
HEAP_GROWTH = 64 * 1024  # bytes the heap may grow by over three more passes of the corpus


def answer_calls(cp, link):
    p = cp.pending
    if p is not None:
        action = p[1][1]
        res = {"BootNotification": {"status": "Accepted", "currentTime": "2030-01-01T00:00:00Z",
                                    "interval": 300},
               "StartTransaction": {"transactionId": 9, "idTagInfo": {"status": "Accepted"}},
               "Authorize": {"idTagInfo": {"status": "Accepted"}}}.get(action, {})
        link.inbox.append(json.dumps([3, p[0], res]))


def utf8(text):
    """Is text strict UTF-8 once encoded, as a peer reads it (1007 otherwise)? A MicroPython
    str may hold surrogates (CPython cannot even encode them)."""
    try:
        return text.encode().decode() == text and not [
            c for c in text if 0xD800 <= ord(c) <= 0xDFFF]
    except UnicodeError:
        return False


class Utf8Link(Link):
    """Keeps every frame sent that is not strict UTF-8."""
    bad = ()

    def send(self, text):
        if not utf8(text):
            self.bad = self.bad + (text[:80],)
        return Link.send(self, text)


def charger(state):
    """A booted charger with a transaction running on connector 1."""
    link = Utf8Link()
    cp = ChargePoint("CP_1", link, Store(state), connectors=2, profiles=PROFILES, journal_size=3)
    for cid in (1, 2):
        c = cp.connectors[cid]
        c.plugged = lambda: True
        c.energy = lambda: 1000
        c.on_unlock = lambda: True
    cp.on_reset = lambda hard: None
    cp.on_data_transfer = lambda v, m, d: ("Accepted", None)
    if cp.firmware:  # fuzzed URLs must never reach the network
        cp.firmware.download = cp.firmware.upload = lambda url, path: False
    for _ in range(40):
        cp.loop()
        answer_calls(cp, link)
    cp.tag(1, "RUNNING")
    for _ in range(40):
        cp.loop()
        answer_calls(cp, link)
    assert cp.connectors[1].tx is not None
    return cp, link


def check_bounded(cp):
    assert len(cp.queue) <= cp.queue_size + 1, len(cp.queue)
    c = cp.v.cache(cp)
    assert len(c.entries) <= c.size, len(c.entries)
    for cid in (1, 2):
        assert sum([t.connector_id == cid for t in cp.journal.txs]) <= cp.journal.size, cid
    for t in cp.journal.txs:
        assert [m[1] for m in t.msgs].count("MeterValues") <= 6, t.seq  # journal._MV_MAX


def check_journal_readable(cp):
    for name in os.listdir(cp.store.path):
        if name.startswith("tx") and name.endswith(".json"):
            with open(cp.store.path + "/" + name) as f:
                assert Transaction.restore(json.load(f)) is not None, name
        assert not name.endswith(".bad"), name


def check_answers(f, replies):
    """The answers to frame f are right: one per readable CALL, never InternalError; the
    FormationViolation of a frame too deep or unreadable that has an id."""
    try:
        msg = json.loads(rpc.surrogates(f)) if type(f) is str else None  # as the charger reads
    except (ValueError, RuntimeError, MemoryError):  # RecursionError: this test's own json
        msg = None
    heads = [r[:3] for r in replies]
    if type(f) is str and '"deep"' in f[:12] and f.count("[") + f.count("{") > 16:  # nested too
        # deep, or not an object (test_fuzz.DEEP: 17 levels or more; hypothesis may also give a
        # call the id "deep", a constant of its strategies)
        assert heads == [[4, "deep", "FormationViolation"]], heads
    elif type(f) is str and msg is None and rpc.find_id(f):  # unreadable, with an id
        assert heads == [[4, rpc.find_id(f), "FormationViolation"]], heads
    if type(msg) is list and len(msg) == 4 and msg[0] == 2 and type(msg[1]) is str:
        assert [r[1] for r in replies] == [msg[1]], heads
        assert replies[0][0] == 3 or replies[0][2] in CODES, heads


def as_received(f):
    """A frame as mpy_ocpp.ws hands it over: a text longer than its 512-byte buffer comes as
    a bytearray of UTF-8, or (no free block that large) as a list of 512-byte blocks: here
    when its length is odd."""
    if type(f) is str and len(f) > 512:
        try:
            b = bytearray(f.encode())
        except UnicodeError:  # CPython: a lone surrogate cannot be sent at all
            return f
        return [b[i:i + 512] for i in range(0, len(b), 512)] if len(b) % 2 else b
    return f


def feed(cp, link, f):
    """Frame f in, its answers checked, then a few loops with our calls answered."""
    link.sent.clear()  # the fake link's record, not the charger's memory
    link.inbox.append(as_received(f))
    cp.loop()
    check_answers(f, [m for m in link.sent if m[0] in (3, 4)])
    for _ in range(5):
        answer_calls(cp, link)
        cp.loop()
    assert not link.bad, ("sent invalid UTF-8", link.bad)
    check_bounded(cp)


def rmtree(path):
    for name in os.listdir(path):
        p = path + "/" + name
        if os.stat(p)[0] & 0x4000:
            rmtree(p)
        else:
            os.remove(p)
    os.rmdir(path)


def load(path):
    """The cases of the corpus, one at a time (it stays out of the heap that is measured)."""
    with open(path) as f:
        for line in f:
            frames = []
            for w in line.split():
                b = unhexlify(w[1:])
                frames.append(b.decode() if w[0] == "t" else b)
            yield frames


def show(f):
    return "%r%s" % (f[:160], " ... (%d in all)" % len(f) if len(f) > 160 else "")


def run_case(i, frames, failures):
    state = state_dir("fuzz")
    f = None
    try:
        cp, link = charger(state)
        for f in frames:
            feed(cp, link, f)
        f = None
        check_journal_readable(cp)
        cp2 = ChargePoint("CP_1", Link(), Store(state), connectors=2, journal_size=3)
        assert [t.seq for t in cp2.journal.txs] == [t.seq for t in cp.journal.txs], "journal"
    except Exception as e:
        failures.append("case %d, frame %s: %r" % (i, "-" if f is None else show(f), e))
    finally:
        rmtree(state)


def run_cases(path, failures):
    n = frames = 0
    for case in load(path):
        run_case(n, case, failures)
        n += 1
        frames += len(case)
    return n, frames


def heap_pass(path, cp, link, failures):
    """The whole corpus into one long-lived charger; False after a failure."""
    f = None
    try:
        for frames in load(path):
            for f in frames:
                feed(cp, link, f)
        f = None
        check_journal_readable(cp)
        return True
    except Exception as e:
        failures.append("heap run, frame %s: %r" % ("-" if f is None else show(f), e))
        return False


def report(n, frames, used, failures):
    """`used`: the heap after each heap pass, garbage collected; its growth is bounded."""
    if len(used) > 1 and used[-1] - used[0] >= HEAP_GROWTH:
        failures.append("the heap grew over the passes: %s" % used)
    for line in failures:
        print("FAIL", line)
    print("%s: %d cases, %d frames, heap after each pass %s, %d failed" % (
        sys.implementation.name, n, frames, used, len(failures)))
    return 1 if failures else 0


def main(path, passes=4):
    """passes=1 on the wasm port: its heap only shrinks back between top-level steps, and even
    then not to a steady size (a loop of json.loads alone rises), so it is not measured there."""
    failures = []
    n, frames = run_cases(path, failures)
    state = state_dir("fuzzheap")
    cp, link = charger(state)
    used = []
    for _ in range(passes):
        if not heap_pass(path, cp, link, failures):
            break
        gc.collect()
        if passes > 1 and hasattr(gc, "mem_alloc"):  # CPython: test_fuzz.py uses tracemalloc
            used.append(gc.mem_alloc())
    rmtree(state)
    return report(n, frames, used, failures)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
