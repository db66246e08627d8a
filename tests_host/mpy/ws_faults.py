# mpy_ocpp.ws against misbehaving peers, on MicroPython and CPython alike; driven by
# tests_host/test_ws_faults.py, which starts the servers:
#   <micropython|python> ws_faults.py SCENARIO ARGS...
# Prints what the test checks and "OK SCENARIO"; a failed assert exits 1.
import os
import socket
import sys
import time

sys.path.insert(0, __file__.rsplit("/", 3)[0])  # the repo root (CPython; MICROPYPATH on mpy)
from mpy_ocpp import ws as wsmod  # noqa: E402
from mpy_ocpp.compat import ticks_diff, ticks_ms  # noqa: E402
from mpy_ocpp.ws import WebSocket  # noqa: E402
from tests_host.mpy.wsutil import Log, pump  # noqa: E402

try:
    from time import ticks_us
except ImportError:  # CPython
    def ticks_us():
        return int(time.perf_counter() * 1000000)


def small_sndbuf(ws):
    # a small send buffer, so that the outgoing queue fills after a few frames (Linux: SOL_SOCKET
    # 1, SO_SNDBUF 7); CPython's TLS socket owns the descriptor, MicroPython's wraps the socket
    s = ws._raw if sys.implementation.name == "micropython" else ws._s
    s.setsockopt(1, 7, 16384)


def fds():
    return len(os.listdir("/proc/self/fd"))


def make(url, ca, **kw):
    return WebSocket(url, ca=ca, backoff_min=0.001, backoff_max=0.002, log=Log(), **kw)


class NoDNS:  # the socket module, with a name lookup that fails (no DNS server needed)
    def __getattr__(self, name):
        return getattr(socket, name)

    def getaddrinfo(self, *args):
        raise OSError("name lookup failed")


def cycle(ws, kind):
    # one connection: "o" comes online and is closed; the others fail ("t": by a timeout,
    # "n": in the name lookup)
    ws.error = None
    wsmod.socket = NoDNS() if kind == "n" else socket
    ws.connect(None, None)
    pump(ws, lambda o: ws.online if kind == "o" else ws.error)
    assert ws.online == (kind == "o"), (kind, ws.error)
    ws.close()


def fd_count(ca, n, *specs):
    # specs: KIND=URL; every kind once to warm up, then n rounds: the fd count must not move
    links = []
    for spec in specs:
        kind, url = spec.split("=", 1)
        links.append((kind, make(url, ca, timeout=0.1 if kind == "t" else 3)))
    errors = {}
    for kind, ws in links:
        cycle(ws, kind)
        errors[ws.error] = 1
    before = fds()
    for _ in range(int(n)):
        for kind, ws in links:
            cycle(ws, kind)
    print("errors:", sorted(e for e in errors if e))
    print("fds before %d after %d" % (before, fds()))
    assert fds() == before


def fail(url, n):
    # n connections, each failed by what the server sends: print each error
    ws = WebSocket(url, timeout=3, backoff_min=0.001, backoff_max=0.002, log=Log())
    before = fds()
    ws.connect(None, None)
    for _ in range(int(n)):
        pump(ws, lambda o: ws.error)
        assert not ws.online
        print("error:", ws.error)
        ws.error = None
    ws.close()
    assert fds() == before


def echo(url, n):
    # receive n text messages and send each back
    ws = WebSocket(url, timeout=3, backoff_min=10, log=Log())
    ws.connect(None, None)
    for m in pump(ws, lambda o: len(o) == int(n)):
        assert ws.send(m)
    pump(ws, lambda o: not ws.online)  # the server closes when it has them all


def stall(url):
    # the server stops reading after the upgrade: no call may block, the link drops after
    # `timeout` without progress and comes back; the server stalls again and close() returns
    # at once; a third connection echoes
    log = Log()
    ws = WebSocket(url, timeout=1, backoff_min=0.05, backoff_max=0.1, log=log)
    before = fds()
    ws.connect(None, None)
    pump(ws, lambda o: ws.online)
    small_sndbuf(ws)
    text = "x" * 3000
    worst = sent = refused = 0
    t0 = ticks_ms()
    while ws.online:
        assert ticks_diff(ticks_ms(), t0) < 20000, (sent, refused)
        a = ticks_us()
        if ws.send(text):
            sent += 1
        else:
            refused += 1
        b = ticks_us()
        ws.poll()
        worst = max(worst, b - a, ticks_diff(ticks_us(), b))
    assert "send timeout" in ws.error and refused, (ws.error, refused)
    logged = sum("not reading" in ln for ln in log)  # once per stall, not per refusal
    assert 1 <= logged < refused // 10, (logged, refused)
    while not ws.online:  # reconnecting must not block either
        assert ticks_diff(ticks_ms(), t0) < 25000
        a = ticks_us()
        ws.poll()
        worst = max(worst, ticks_diff(ticks_us(), a))
    small_sndbuf(ws)
    while ws.send(text):  # fill the queue of the second connection, then close it
        ws.poll()
    a = ticks_us()
    ws.close()
    worst = max(worst, ticks_diff(ticks_us(), a))
    ws.connect(None, None)
    pump(ws, lambda o: ws.online)
    assert ws.send("again")
    assert pump(ws, lambda o: o) == ["again"]
    ws.close()
    assert fds() == before
    print("sent %d refused %d logged %d worst %d us" % (sent, refused, logged, worst))
    assert worst < 50000


def slow(url, n, ca=None):
    # the server reads nothing for a while, then everything: every frame arrives whole and
    # in order after partial writes (plain and TLS), and no call blocks meanwhile
    ws = WebSocket(url, ca=ca, timeout=5, log=Log())
    ws.connect(None, None)
    pump(ws, lambda o: ws.online)
    small_sndbuf(ws)
    worst = i = refused = 0
    got = []
    t0 = ticks_ms()
    while not got:
        assert ticks_diff(ticks_ms(), t0) < 15000 and ws.online, (i, ws.error)
        a = ticks_us()
        if i < int(n):
            if ws.send("%05d" % i + "y" * 3000):
                i += 1
            else:
                refused += 1
        b = ticks_us()
        m = ws.poll()
        if m is not None:
            got.append(m)
        worst = max(worst, b - a, ticks_diff(ticks_us(), b))
        time.sleep(0.0005)
    assert got == ["got %d" % i], got
    ws.close()
    print("refused %d worst %d us" % (refused, worst))
    assert worst < 50000 and refused  # the queue did fill up


def nomem(url):
    # no memory for a message, either way: refused or dropped, the link kept
    ws = WebSocket(url, timeout=3, backoff_min=10, log=Log())
    ws.connect(None, None)
    pump(ws, lambda o: ws.online)

    def short(n):
        if n > 100:
            raise MemoryError
        return bytearray(n)
    wsmod.bytearray = short  # the module's name shadows the builtin
    assert not ws.send("y" * 600) and not ws.send([3, "id", {"k": "z" * 600}])
    assert ws.online and not ws._oq
    assert ws._log.count("ws: no memory for an outgoing message now, refused") == 1, ws._log
    assert ws.send("!size 700")
    assert pump(ws, lambda o: o)[0] == b"x" * 64  # no buffer for it: its head, as if oversized
    assert "ws: no memory for a message of 700 bytes" in ws._log
    wsmod.bytearray = lambda n: bytearray(n) if n <= 200 else short(n)
    assert ws.send("z" * 600) and ws._bs == 128  # sent in blocks of 128 bytes
    assert pump(ws, lambda o: o)[0] == b"z" * 64  # the echo: no memory to take it whole
    wsmod.bytearray = lambda n: bytearray(n) if n <= 520 else short(n)  # blocks, no whole message
    assert ws.send("!size 1100")
    for _ in range(5000):  # pump() would join the blocks
        m = ws.poll()
        if m is not None:
            break
        time.sleep(0.001)
    assert type(m) is list and [len(b) for b in m] == [256, 256, 256, 256, 76] and m[1] == b"x" * 256, m
    wsmod.bytearray = bytearray
    assert ws.send("!size 700") and pump(ws, lambda o: o)[0] == "x" * 700
    assert ws.send("y" * 600) and pump(ws, lambda o: o)[0] == "y" * 600
    # straight through on the last try, then no memory half-way: the link goes, not half a frame
    took = []
    ws._wr = lambda mv: (took.append(len(mv)), 10)[1] if not took else 0  # 10 bytes, then none
    wsmod.bytearray = lambda n: bytearray(n) if not took and n <= 200 else short(n)
    assert not ws.send("q" * 600) and took == [136]
    assert not ws.online and ws.error == "no memory in the middle of a frame" and not ws._oq
    wsmod.bytearray = bytearray
    ws.close()
    print("OK nomem")


name = sys.argv[1]
globals()[name](*sys.argv[2:])
print("OK", name)
