# mpy_ocpp.ws on the MicroPython unix port, driven by tests_host/test_ws_micropython.py:
#   micropython ws_client.py SCENARIO URL [CA_FILE [CERT KEY]]  (DER or PEM CA, DER cert/key)
# Prints "OK SCENARIO" and exits 0 when every check passed (a failed assert exits 1).
import gc
import json
import sys

from mpy_ocpp.ws import WebSocket
from tests_host.mpy.wsutil import pump


def ask(ws, text):
    assert ws.send(text)
    return pump(ws, lambda o: o)[0]


def idle_alloc(ws, n=1000):
    # bytes allocated by n polls (a while loop: range() would allocate itself)
    i = 0
    while i < 10:
        ws.poll()
        i += 1
    gc.collect()
    a = gc.mem_alloc()
    i = 0
    while i < n:
        ws.poll()
        i += 1
    return gc.mem_alloc() - a


def online(ws, user=None, password=None):
    ws.connect(user, password)
    pump(ws, lambda o: ws.online)


def basic(url):
    ws = WebSocket(url, max_size=1024, backoff_min=0.05, backoff_max=0.2, timeout=3)
    online(ws, "CP_1", "secret")
    assert ask(ws, "hello") == "hello"
    assert ask(ws, "h\u00e9llo \u20ac") == "h\u00e9llo \u20ac"
    assert ask(ws, "!path") == "/ocpp/CP_1"
    assert ask(ws, "!frag ab,c\u00e9,def") == "abc\u00e9def"
    assert ask(ws, "!size 1024") == "x" * 1024
    assert ask(ws, "!size 1025") == b"x" * 64
    assert ask(ws, "!size 100000") == b"x" * 64
    assert ask(ws, "still here") == "still here"
    assert ask(ws, "!bin") == "after binary"
    assert ask(ws, "!ping") == "pong received"
    assert len(ask(ws, "z" * 1000)) == 1000  # one frame, queued in blocks of 512 bytes
    doc = [3, "id-1", {"key": "\u00e9" * 400, "n": [1, 2.5, None, True, {}]}]
    assert ws.send(doc)  # serialised in pieces into one frame (an \u00e9 across blocks)
    assert pump(ws, lambda o: o)[0] == json.dumps(doc)
    got = idle_alloc(ws)
    assert got == 0, "idle poll allocated %d bytes" % got
    ws.send("!close 1001")
    pump(ws, lambda o: not ws.online)
    assert "1001" in ws.error, ws.error
    pump(ws, lambda o: ws.online)  # reconnects by itself
    assert ask(ws, "again") == "again"
    ws.close()
    assert not ws.online and not ws.send("x")


def tls(url, ca):
    ws = WebSocket(url, ca=ca, timeout=5, ping_interval=60)
    online(ws)
    assert ask(ws, "secure") == "secure"
    assert ask(ws, "!frag a,b") == "ab"
    assert ask(ws, "!size 3000") == "x" * 3000
    assert ws.send("!many 20")
    assert pump(ws, lambda o: len(o) == 20) == ["m%d" % i for i in range(20)]
    got = idle_alloc(ws)
    assert got == 0, "idle TLS poll allocated %d bytes" % got
    ws.close()


def mtls(url, ca, cert, key):
    ws = WebSocket(url, ca=ca, cert=cert, key=key, timeout=5)
    online(ws)
    assert ask(ws, "profile 3") == "profile 3"
    ws.close()
    with open(cert, "rb") as f:  # bytes work as well as paths
        cert = f.read()
    with open(key, "rb") as f:
        key = f.read()
    ws = WebSocket(url, ca=ca, cert=cert, key=key, timeout=5)
    online(ws)
    ws.close()


def burst(url, ca):
    # three frames in one TLS record: the TLS layer holds them, the socket is not readable
    ws = WebSocket(url, ca=ca, timeout=5)
    ws.connect(None, None)
    assert pump(ws, lambda o: len(o) == 3) == ["one", "two", "three"]
    ws.close()


def badca(url, ca):
    ws = WebSocket(url, ca=ca, timeout=5, backoff_min=10)
    ws.connect(None, None)
    pump(ws, lambda o: ws.error)
    assert not ws.online
    print("error:", ws.error)


def noverify(url):
    ws = WebSocket(url, verify=False, timeout=5)
    online(ws)
    assert ask(ws, "unverified") == "unverified"
    ws.close()


def auth(url):
    ws = WebSocket(url, timeout=3)
    online(ws, "CP_1", "s3cret")
    assert ask(ws, "in") == "in"
    ws.close()


def badauth(url):
    ws = WebSocket(url, timeout=3, backoff_min=10)
    ws.connect("CP_1", "wrong")
    pump(ws, lambda o: ws.error)
    assert "401" in ws.error and not ws.online, ws.error


def negotiate(url, offer, expect):
    # offer "a,b": the subprotocols in order; expect: the server's choice, or "!text" an error
    ws = WebSocket(url, subprotocol=tuple(offer.split(",")), timeout=3, backoff_min=10)
    ws.connect(None, None)
    pump(ws, lambda o: ws.online or ws.error)
    if expect[0] == "!":
        assert not ws.online and expect[1:] in ws.error, ws.error
    else:
        assert ws.online and ws.subprotocol == expect, (ws.subprotocol, ws.error)
        ws.close()


def offline(url):
    # nobody listens: the first attempt fails, then waiting in backoff allocates nothing
    ws = WebSocket(url, timeout=3, backoff_min=30)
    ws.connect(None, None)
    pump(ws, lambda o: ws.error)
    got = idle_alloc(ws)
    assert got == 0, "offline poll allocated %d bytes" % got


def utf8(corpus):
    # ws._utf8 agrees with CPython's strict decoder (the expected answers) on every case
    from mpy_ocpp.ws import _utf8

    with open(corpus) as f:
        cases = json.load(f)
    for h, ok in cases:
        b = bytes.fromhex(h)
        assert _utf8((b,)) == ok, h
        assert _utf8((b[:1], b[1:])) == ok, h
    print("cases", len(cases))


name = sys.argv[1]
globals()[name](*sys.argv[2:])
print("OK", name)
