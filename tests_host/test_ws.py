"""mpy_ocpp.ws on CPython against a real `websockets` server and raw TCP servers that
misbehave on purpose (all on 127.0.0.1, free ports)."""
import json
import socket
import ssl
import sys
import time
from pathlib import Path

import pytest
import trustme

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from mpy_ocpp import ws as wsmod  # noqa: E402
from mpy_ocpp.ws import WebSocket  # noqa: E402
from tests_host.mpy.wsutil import Log, pump  # noqa: E402
from wsserver import (EchoServer, frame, handshake, raw, read_fragment,  # noqa: E402
                      read_frame, read_request, upgrade_reply)


def make(url, **kw):
    kw.setdefault("timeout", 3)
    kw.setdefault("backoff_min", 0.05)
    kw.setdefault("backoff_max", 0.2)
    kw.setdefault("log", Log())
    return WebSocket(url, **kw)


def ask(ws, text):
    assert ws.send(text)
    return pump(ws, lambda o: o)[0]


def up(ws, user=None, password=None):
    ws.connect(user, password)
    pump(ws, lambda o: ws.online)
    return ws


def failed(ws, user=None, password=None):
    ws.connect(user, password)
    pump(ws, lambda o: ws.error)
    assert not ws.online
    return ws.error


@pytest.fixture
def echo(loop):
    srv = EchoServer(loop)
    yield srv
    srv.stop()


# -- the happy paths


def test_echo_headers_and_path(echo):
    ws = up(make(echo.url))
    assert ask(ws, "hello") == "hello"
    assert ask(ws, "h\u00e9llo \u20ac \U0001f600") == "h\u00e9llo \u20ac \U0001f600"
    assert ask(ws, "") == ""
    assert ask(ws, "!path") == "/ocpp/CP_1"
    h = echo.headers
    assert h["Sec-WebSocket-Protocol"] == "ocpp1.6"
    assert h["Sec-WebSocket-Version"] == "13"
    assert h["Host"] == "127.0.0.1:%d" % echo.port
    assert "Authorization" not in h
    assert ws.error is None
    ws.close()
    assert not ws.online and not ws.send("x")


def test_client_frame_lengths(echo):
    # 7-bit, 16-bit and 64-bit payload lengths, both directions (each message one frame; the
    # client queues a long one in blocks of 512 bytes)
    ws = up(make(echo.url, max_size=100000))
    for n in (125, 126, 65535, 65536, 70000):
        assert ask(ws, "a" * n) == "a" * n
    ws.close()


def test_fragmented_message(echo):
    ws = up(make(echo.url))
    assert ask(ws, "!frag ab,c\u00e9,,def") == "abc\u00e9def"
    assert ask(ws, "!frag " + ",".join(["0123456789"] * 50)) == "0123456789" * 50
    ws.close()


def test_max_size_exact_and_oversized(echo):
    ws = up(make(echo.url, max_size=1000))
    assert ask(ws, "!size 1000") == "x" * 1000
    assert ask(ws, "!size 1001") == b"x" * 64
    assert ask(ws, "!size 100000") == b"x" * 64  # 64-bit length, read and dropped
    assert ask(ws, "!frag " + ",".join(["y" * 400] * 3)) == b"y" * 64  # grows too big in fragments
    assert ask(ws, "!frag a,b") == "ab"
    assert ask(ws, "!size 999") == "x" * 999
    assert ws.online
    ws.close()


def no_memory_above(monkeypatch, limit):
    """mpy_ocpp.ws's bytearray() raises MemoryError above `limit` bytes (until undone)."""
    def alloc(n):
        if n > limit:
            raise MemoryError
        return bytearray(n)
    monkeypatch.setattr(wsmod, "bytearray", alloc, raising=False)


def test_a_long_message_gets_a_buffer_of_its_own(echo, monkeypatch):
    # idle, the transport holds a 256-byte receive buffer; a longer message arrives in a
    # bytearray of exactly its size, handed over as it is (no str copy), and let go after;
    # with no free block that large, in a list of blocks (the 256-byte buffer, then 256-byte
    # ones: a fragmented heap has holes that size); with no memory even for those, it is
    # dropped like an oversized one; the link stays
    ws = up(make(echo.url))
    assert len(ws._buf) == 256 and ws._big is None

    def raw(text):
        assert ws.send(text)
        return pump_raw(ws)
    m = raw("!size 256")
    assert type(m) is str and m == "x" * 256
    m = raw("!size 257")
    assert type(m) is bytearray and m == b"x" * 257 and ws._big is None
    # fragments of 201, 400 and 300 bytes, \u00e9s across the blocks below
    frag = "!frag " + ",".join(["a" + "\u00e9" * 100, "\u00e9" * 200, "\u00e9" * 150])
    m = raw(frag)
    assert type(m) is bytearray and m.decode() == "a" + "\u00e9" * 450 and len(m) == 901
    no_memory_above(monkeypatch, 520)  # a sent frame's first block: 520 bytes
    m = raw("!size 2000")
    assert type(m) is list and [len(b) for b in m] == [256] * 7 + [208]
    assert b"".join(m) == b"x" * 2000 and ws._big is None
    m = raw(frag)  # the first fragment in the small buffer, then blocks
    assert type(m) is list and [len(b) for b in m] == [256, 256, 256, 133]
    assert b"".join(m).decode() == "a" + "\u00e9" * 450
    no_memory_above(monkeypatch, 100)
    assert raw("!size 2000") == b"x" * 64
    assert "ws: no memory for a message of 2000 bytes" in ws._log
    ws._log.clear()
    monkeypatch.undo()
    assert ws.send(frag)  # sent while there is memory, answered while there is none
    no_memory_above(monkeypatch, 100)
    assert pump_raw(ws) == ("a" + "\u00e9" * 100).encode()[:64]  # its head
    assert ws._log == ["ws: no memory for a message of 601 bytes"]  # at its 2nd fragment
    monkeypatch.undo()
    assert raw("!size 2000") == bytearray(b"x" * 2000) and ws.online
    ws.close()


def _strict(b):
    try:
        b.decode("utf-8")
        return True
    except UnicodeDecodeError:
        return False


def utf8_cases():
    """Byte strings around every boundary of UTF-8 (lead bytes, continuation ranges, overlong
    forms, surrogates, past U+10FFFF, cut short), with CPython's strict verdict."""
    import random

    r = random.Random(7)
    edges = [0x00, 0x7F, 0x80, 0xBF, 0xC0, 0xC1, 0xC2, 0xDF, 0xE0, 0xED, 0xEF, 0xF0, 0xF4, 0xF5, 0xFF,
             0x8F, 0x90, 0x9F, 0xA0]
    cases = [bytes(t) for t in (
        [], [0x41], [0xC3, 0xA9], [0xE2, 0x82, 0xAC], [0xF0, 0x9F, 0x98, 0x80], [0xED, 0x9F, 0xBF],
        [0xED, 0xA0, 0x80], [0xE0, 0x9F, 0xBF], [0xF0, 0x8F, 0xBF, 0xBF], [0xF4, 0x90, 0x80, 0x80],
        [0xF4, 0x8F, 0xBF, 0xBF], [0xC2], [0xE2, 0x82], [0xF0, 0x9F, 0x98])]
    for _ in range(3000):
        cases.append(bytes(r.choice(edges) for _ in range(r.randint(1, 5))))
    return [(b, _strict(b)) for b in cases]


def test_utf8_check_agrees_with_cpython():
    for b, ok in utf8_cases():
        assert wsmod._utf8((b,)) == ok, b
        assert wsmod._utf8((b"x" * 3 + b,)) == ok, b
        for i in range(1, len(b)):  # a sequence across two blocks
            assert wsmod._utf8((b[:i], b[i:])) == ok, (b, i)


def test_no_memory_for_an_outgoing_message_refuses_it_and_keeps_the_link(echo, monkeypatch):
    ws = up(make(echo.url))
    no_memory_above(monkeypatch, 100)
    assert not ws.send("y" * 600) and not ws.send([3, "id", {"k": "z" * 600}])
    assert ws.online and not ws._oq and ws._on == 0
    assert ws._log.count("ws: no memory for an outgoing message now, refused") == 1  # not per try
    assert ask(ws, "short") == "short"  # a short one still fits
    monkeypatch.undo()
    assert ask(ws, "y" * 600) == "y" * 600
    ws.close()


def pump_raw(ws, timeout=5):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        m = ws.poll()
        if m is not None:
            return m
        time.sleep(0.001)
    raise AssertionError("timeout; error %r" % ws.error)


def test_binary_ignored(echo):
    ws = up(make(echo.url))
    assert ask(ws, "!bin") == "after binary"
    assert "ws: binary message ignored" in ws._log
    ws.close()


def test_server_ping_answered(echo):
    ws = up(make(echo.url))
    assert ask(ws, "!ping") == "pong received"
    ws.close()


def test_client_pings_keep_link(echo, monkeypatch):
    now = [0]
    monkeypatch.setattr(wsmod, "ticks_ms", lambda: now[0])  # a clock the test moves
    ws = up(make(echo.url, ping_interval=10))
    sent, tx = [], ws._tx
    ws._tx = lambda op, n, p: (sent.append(op), tx(op, n, p))[1]
    for i in range(3):
        now[0] += 10000
        # a ping went out (its pong may already be in: a fast peer answers within this poll)
        assert ws.poll() is None and sent.count(wsmod._PING) == i + 1
        pump(ws, lambda o: not ws._pinged)  # websockets answers it
    now[0] += 10000
    assert ws.poll() is None and ws.online and ws.error is None
    assert ask(ws, "alive") == "alive"
    ws.close()


def test_missing_pong_drops_link(loop):
    async def script(reader, writer, got):
        await handshake(reader, writer)
        while True:
            got.append(await read_frame(reader))  # pings, never answered

    srv, got = raw(loop, script)
    ws = make(srv.url, ping_interval=0.05, backoff_min=10)
    assert "pong" in failed(ws)
    assert got[0] == (9, b"")
    srv.stop()


# -- TLS


# `tls` (conftest.py): a test CA, server and client certificates, server contexts


def test_wss_verified(loop, tls):
    srv = EchoServer(loop, ssl=tls.server_context)
    try:
        der = open(tls.ca_der, "rb").read()
        for cafile in (tls.ca_pem, tls.ca.cert_pem.bytes(), der, tls.ca_der):
            ws = up(make(srv.url, ca=cafile))
            assert ask(ws, "secure") == "secure"
            assert ask(ws, "!size 3000") == "x" * 3000
            assert ask(ws, "!frag a,b,c") == "abc"
            ws.close()
        ws = up(make(srv.url.replace("127.0.0.1", "localhost"), ca=der))
        ws.close()
    finally:
        srv.stop()


def test_wss_frames_in_one_record(loop, tls):
    # both frames sit decrypted in CPython's SSL buffer: the socket itself is no longer readable
    async def script(reader, writer, got):
        await handshake(reader, writer)
        writer.write(frame(1, b"one") + frame(1, b"two") + frame(1, b"three"))
        await reader.read()

    srv, _ = raw(loop, script, ssl=tls.server_context)
    ws = make(srv.url, ca=tls.ca_pem)
    ws.connect(None, None)
    assert pump(ws, lambda o: len(o) == 3) == ["one", "two", "three"]
    ws.close()
    srv.stop()


def test_wss_many_messages(loop, tls):
    srv = EchoServer(loop, ssl=tls.server_context)
    try:
        ws = up(make(srv.url, ca=tls.ca_der))
        assert ws.send("!many 20")
        assert pump(ws, lambda o: len(o) == 20) == ["m%d" % i for i in range(20)]
        ws.close()
    finally:
        srv.stop()


def test_wss_wrong_ca_refused_and_verify_false(loop, tls):
    srv = EchoServer(loop, ssl=tls.server_context)
    try:
        other = trustme.CA().cert_pem.bytes()
        ws = make(srv.url, ca=other, backoff_min=10)
        assert "certificate" in failed(ws).lower()
        ws.close()
        ws = up(make(srv.url, verify=False))
        assert ask(ws, "unverified") == "unverified"
        ws.close()
    finally:
        srv.stop()


def test_wss_wrong_hostname_refused(loop):
    ca = trustme.CA()
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("example.org").configure_cert(ctx)
    srv = EchoServer(loop, ssl=ctx)
    try:
        ws = make(srv.url, ca=ca.cert_pem.bytes(), backoff_min=10)
        assert "certificate" in failed(ws).lower() or "hostname" in ws.error.lower()
        ws.close()
    finally:
        srv.stop()


def test_wss_client_certificate(loop, tls):
    srv = EchoServer(loop, ssl=tls.mtls_context)  # Security Profile 3
    try:
        ws = up(make(srv.url, ca=tls.ca_pem, cert=tls.client_cert_pem, key=tls.client_key_pem))
        assert ask(ws, "profile 3") == "profile 3"
        ws.close()
        assert failed(make(srv.url, ca=tls.ca_pem, backoff_min=10))  # no client certificate
    finally:
        srv.stop()


def test_wss_needs_ca():
    with pytest.raises(ValueError):
        WebSocket("wss://127.0.0.1:1/x")
    with pytest.raises(ValueError):
        WebSocket("http://127.0.0.1:1/x")


# -- authentication and the upgrade reply


def test_basic_auth(loop):
    srv = EchoServer(loop, auth=("CP_1", "s3cret pass"))
    try:
        ws = make(srv.url, backoff_min=10)
        assert "authorization refused" in failed(ws, "CP_1", "wrong")
        assert "401" in ws.error
        up(ws, "CP_1", "s3cret pass")  # connect() again with the right key
        assert srv.headers["Authorization"] == "Basic Q1BfMTpzM2NyZXQgcGFzcw=="
        assert ask(ws, "in") == "in"
        ws.close()
        assert not any("s3cret" in ln or "wrong" in ln for ln in ws._log)
    finally:
        srv.stop()


def test_basic_auth_binary_key(loop):
    srv = EchoServer(loop, auth=("CP_1", "\u00e9"))  # websockets' header holds UTF-8 bytes
    try:
        ws = up(make(srv.url), "CP_1", "\u00e9".encode())
        ws.close()
    finally:
        srv.stop()


def test_subprotocol_missing(loop):
    srv = EchoServer(loop, subprotocols=None)
    try:
        assert "subprotocol" in failed(make(srv.url, backoff_min=10))
    finally:
        srv.stop()


@pytest.mark.parametrize("server,offer,chosen", [
    (["ocpp1.6"], ("ocpp2.0.1", "ocpp1.6"), "ocpp1.6"),
    (["ocpp2.0.1"], ("ocpp2.0.1", "ocpp1.6"), "ocpp2.0.1"),
    (["ocpp1.6", "ocpp2.0.1"], ("ocpp2.0.1", "ocpp1.6"), "ocpp1.6"),  # websockets: the server's order
    (["ocpp2.0.1"], "ocpp2.0.1", "ocpp2.0.1"),
])
def test_subprotocol_negotiated(loop, server, offer, chosen):
    srv = EchoServer(loop, subprotocols=server)
    try:
        ws = up(make(srv.url, subprotocol=offer))
        assert ws.subprotocol == chosen
        assert srv.headers["Sec-WebSocket-Protocol"] == (offer if type(offer) is str else ", ".join(offer))
        ws.close()
    finally:
        srv.stop()


def test_subprotocol_none_in_common(loop):
    srv = EchoServer(loop, subprotocols=["ocpp2.1"])  # websockets refuses with HTTP 400
    try:
        assert failed(make(srv.url, subprotocol=("ocpp2.0.1", "ocpp1.6"), backoff_min=10)) == "HTTP 400"
    finally:
        srv.stop()


@pytest.mark.parametrize("kw,err", [
    ({"protocol": "ocpp2.0.1"}, "subprotocol ocpp2.0.1 chosen by the server, not offered"),
    ({"protocol": None}, "no subprotocol chosen by the server (offered ocpp1.6)"),
    ({"acc": "d3Jvbmc="}, "Accept"),
])
def test_bad_upgrade_reply(loop, kw, err):
    async def script(reader, writer, got):
        await handshake(reader, writer, **kw)
        await reader.read()

    srv, _ = raw(loop, script)
    assert err in failed(make(srv.url, backoff_min=10))
    srv.stop()


def test_http_error_status(loop):
    async def script(reader, writer, got):
        await read_request(reader)
        writer.write(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n")
        await reader.read()

    srv, _ = raw(loop, script)
    assert failed(make(srv.url, backoff_min=10)) == "HTTP 404"
    srv.stop()


def test_handshake_timeout(loop):
    async def script(reader, writer, got):
        await reader.read()  # never answers

    srv, _ = raw(loop, script)
    assert "timeout" in failed(make(srv.url, timeout=0.2, backoff_min=10))
    srv.stop()


def test_reply_read_a_line_at_a_time(loop):
    # the upgrade reply goes through the 256-byte buffer one line at a time: a longer header
    # line (a big cookie) is cut, and it does not matter; max_size bounds the reply's total
    async def script(reader, writer, got):
        h = await read_request(reader)
        r = upgrade_reply(h)
        writer.write(r[:-2] + b"Set-Cookie: " + b"c" * 3000 + b"\r\n\r\n" + frame(1, b"first"))
        await reader.read()

    srv, _ = raw(loop, script)
    ws = make(srv.url)
    ws.connect(None, None)
    assert pump(ws, lambda o: o) == ["first"]
    ws.close()
    assert "HTTP reply too long" in failed(make(srv.url, max_size=2000, backoff_min=10))
    srv.stop()


def test_frame_right_after_reply(loop):
    # the 101 reply and the first frame arrive in one segment
    async def script(reader, writer, got):
        h = await read_request(reader)
        writer.write(upgrade_reply(h) + frame(1, b"first") + frame(1, b"second"))
        await reader.read()

    srv, _ = raw(loop, script)
    ws = make(srv.url)
    ws.connect(None, None)
    assert pump(ws, lambda o: len(o) == 2) == ["first", "second"]
    ws.close()
    srv.stop()


@pytest.mark.parametrize("tight", [False, True])
def test_every_message_goes_as_one_frame(loop, monkeypatch, tight):
    # tight: no free block of 512 bytes, so each message goes again in blocks and pieces of
    # 128 bytes (the same frames on the wire)
    doc = [3, "id-1", {"key": "\u00e9" * 400, "list": [1, 2.5, None, True, {"a": []}]}]

    async def script(reader, writer, got):
        await handshake(reader, writer)
        for _ in range(5):
            got.append(await read_fragment(reader))
        await reader.read()

    srv, got = raw(loop, script)
    ws = up(make(srv.url, max_size=100000))
    if tight:
        no_memory_above(monkeypatch, 200)
    assert ws.send(doc) and ws.send("x" * 1025) and ws.send([2, "b", "Heartbeat", {}])
    assert ws.send("\u20ac" * 171) and ws.send("y" * 70000)  # a € across blocks; 64-bit length
    assert ws._bs == (128 if tight else 512)  # the block size of the last one
    pump(ws, lambda o: len(got) == 5)
    ws.close()
    srv.stop()
    j, x, hb, eu, y = got
    text = json.dumps(doc)  # CPython writes \u00e9 escaped: 2,465 bytes
    assert j == (True, 1, text.encode())  # FIN, a text frame: the whole message
    assert x == (True, 1, b"x" * 1025)
    assert hb == (True, 1, b'[2, "b", "Heartbeat", {}]')
    assert eu == (True, 1, "\u20ac".encode() * 171)
    assert y == (True, 1, b"y" * 70000)


def test_blocks_of_a_frame_and_the_mask_across_them():
    ws = make("ws://127.0.0.1:1/")
    ws.online = True
    ws._wr = lambda mv: 0  # the socket takes nothing: the frame stays queued
    ws._wt = 0
    wsmod._rand, rand = (lambda n: b"\x01\x02\x04\x08"), wsmod._rand
    try:
        assert ws.send([2, "m", "DataTransfer", {"data": "\u00e9" * 400}])
    finally:
        wsmod._rand = rand
    raw_ = b"".join(bytes(b) for b in ws._oq)
    assert [len(b) for b in ws._oq] == [520, 512, 512, 512, 390]  # a 16-bit length: 2,438 bytes
    assert raw_[:8] == bytes([0x81, 0xFE]) + (2438).to_bytes(2, "big") + b"\x01\x02\x04\x08"
    payload = bytes(c ^ (1, 2, 4, 8)[i & 3] for i, c in enumerate(raw_[8:]))
    assert payload == json.dumps([2, "m", "DataTransfer", {"data": "\u00e9" * 400}]).encode()
    assert ws._on == len(raw_)
    ws.online = False


def _unmask(raw_):
    """The payload of one masked frame with a 16-bit length."""
    return bytes(c ^ raw_[4 + (i & 3)] for i, c in enumerate(raw_[8:]))


def test_a_tight_frame_goes_straight_through_in_one_block(monkeypatch):
    # no free block of 512 bytes, nothing queued: the 128-byte blocks go to the socket as they
    # fill, one block reused, so the frame needs one block; a socket that takes part of one
    # gets the rest queued, in order; no memory half-way, once bytes went, drops the link
    doc = [2, "m", "DataTransfer", {"data": "\u00e9" * 400}]
    text = json.dumps(doc).encode()
    ws = make("ws://127.0.0.1:1/")
    ws.online = True
    ws._wt = 0
    wrote, allocs = [], []

    def take(mv):
        wrote.append(bytes(mv))
        return len(mv)
    ws._wr = take

    def alloc(n):
        if n > 200:
            raise MemoryError
        allocs.append(n)
        return bytearray(n)
    monkeypatch.setattr(wsmod, "bytearray", alloc, raising=False)
    assert ws.send(doc) and not ws._oq and ws._on == 0
    assert allocs == [136] and ws._bs == 128  # the first block (header, mask, 128 bytes), reused
    assert len(wrote) == 20 and _unmask(b"".join(wrote)) == text
    wrote.clear()
    ws._wr = lambda mv: take(mv[:50]) if not wrote else 0  # 50 bytes, then nothing
    assert ws.send(doc) and ws._on == len(text) + 8 - 50
    assert _unmask(wrote[0] + b"".join(bytes(b) for b in ws._oq)) == text
    ws._oq.clear()
    ws._on = 0
    wrote.clear()
    ws._wr = lambda mv: take(mv[:10]) if not wrote else 0
    monkeypatch.setattr(wsmod, "bytearray", lambda n: alloc(n) if not wrote else alloc(1000))
    assert not ws.send(doc)  # 10 bytes of it went: the link goes
    assert not ws.online and ws.error == "no memory in the middle of a frame" and not ws._oq


def test_queue_bound_takes_or_refuses_a_frame_whole(loop):
    async def script(reader, writer, got):
        await handshake(reader, writer)
        for _ in range(3):
            got.append(await read_fragment(reader))
        await reader.read()

    srv, got = raw(loop, script)
    log = Log()
    ws = up(make(srv.url, max_size=1000, log=log))
    wr, ws._wr = ws._wr, (lambda mv: 0)  # the peer reads nothing for now
    assert ws.send("a" * 2500)  # larger than 2 * max_size: taken while the queue is empty
    assert [len(b) for b in ws._oq] == [520, 512, 512, 512, 452] and ws._on == 2508
    assert not ws.send("b")  # then nothing more until the queue drains
    ws._wr = wr
    assert pump(ws, lambda o: not ws._oq) == []
    ws._wr = lambda mv: 0
    assert ws.send("c" * 1200) and ws.send("d" * 500)  # 1208 + 508 bytes
    assert not ws.send("e" * 300)  # + 304 > 2 * max_size: refused, nothing of it queued
    assert [len(b) for b in ws._oq] == [520, 512, 176, 508] and ws._on == 1716
    assert log.count("ws: peer not reading, outgoing frames refused") == 2
    ws._wr = wr
    pump(ws, lambda o: len(got) == 3)
    ws.close()
    srv.stop()
    assert got == [(True, 1, b"a" * 2500), (True, 1, b"c" * 1200), (True, 1, b"d" * 500)]


def test_a_document_that_fails_to_serialise_leaves_nothing_queued(echo):
    ws = up(make(echo.url))
    with pytest.raises(TypeError):  # a bug in the caller: found by the first pass
        ws.send([3, "id", {"a": "x" * 1100, "b": object()}])
    assert ws._oq == [] and ws._on == 0 and ws.online
    assert ask(ws, "next") == "next"
    ws.close()


def test_a_frame_that_fails_half_way_is_never_written(loop):
    async def script(reader, writer, got):
        await handshake(reader, writer)
        got.append(await read_fragment(reader))
        got.append(await reader.read())  # then nothing but the end of the link

    class Tight(WebSocket):
        room = None

        def _queue(self, f):
            if self.room is not None:
                if not self.room:
                    raise MemoryError
                self.room -= 1
            super()._queue(f)

    srv, got = raw(loop, script)
    ws = up(Tight(srv.url, timeout=2, backoff_min=10, log=Log()))
    ws._wr, wr = (lambda mv: 0), ws._wr
    assert ws.send("first")  # queued: the socket takes nothing for now
    ws._wr = wr  # the drop below writes what is queued: only whole frames
    ws.room = 3  # the 4th block of the next frame fails: its 3 blocks are taken back
    assert not ws.send([3, "id", {"a": "x" * 3000}])
    assert ws.online and ws.error is None  # refused, the link kept
    assert "ws: no memory for an outgoing message now, refused" in ws._log
    ws.room = None
    ws.close()  # writes what is queued, then its close frame: nothing of the refused one
    for _ in range(500):
        if len(got) == 2:
            break
        time.sleep(0.01)
    srv.stop()
    assert got[0] == (True, 1, b"first") and got[1][:2] == b"\x88\x82"  # a masked close, 2 bytes


def test_ping_between_fragments_and_split_utf8(loop):
    async def script(reader, writer, got):
        await handshake(reader, writer)
        e = "\u20ac".encode()
        writer.write(frame(1, b"a" + e[:1], fin=False) + frame(9, b"p1")
                     + frame(0, e[1:], fin=False) + frame(0, b"b"))
        got.append(await read_frame(reader))
        await reader.read()

    srv, got = raw(loop, script)
    ws = make(srv.url)
    ws.connect(None, None)
    assert pump(ws, lambda o: o) == ["a\u20acb"]
    pump(ws, lambda o: got)
    assert got == [(10, b"p1")]
    ws.close()
    srv.stop()


# -- closing and protocol errors


def test_server_close_frame_answered(loop):
    async def script(reader, writer, got):
        await handshake(reader, writer)
        writer.write(frame(8, (4000).to_bytes(2, "big") + b"bye"))
        got.append(await read_frame(reader))
        await reader.read()

    srv, got = raw(loop, script)
    ws = make(srv.url, backoff_min=10)
    assert failed(ws) == "closed by server (4000)"
    pump(ws, lambda o: got)
    assert got == [(8, (4000).to_bytes(2, "big"))]
    srv.stop()


def test_client_close_sends_close_frame(loop):
    async def script(reader, writer, got):
        await handshake(reader, writer)
        got.append(await read_frame(reader))

    srv, got = raw(loop, script)
    ws = up(make(srv.url))
    ws.close()
    for _ in range(500):
        if got:
            break
        time.sleep(0.01)
    assert got == [(8, (1000).to_bytes(2, "big"))]
    for _ in range(5):
        assert ws.poll() is None and not ws.online  # stays down: no reconnect after close()
    srv.stop()


@pytest.mark.parametrize("bad,code,err", [
    (frame(1, b"hi", mask=b"abcd"), 1002, "masked"),
    (frame(1, b"hi", rsv=0x40), 1002, "reserved"),
    (frame(0, b"hi"), 1002, "protocol error (frame 0x80)"),  # continuation, no message
    (frame(1, b"a", fin=False) + frame(1, b"b"), 1002, "protocol error (frame 0x81)"),
    (frame(9, b"p", fin=False), 1002, "protocol error (frame 0x09)"),
    (frame(9, b"p" * 126), 1002, "protocol error"),
    (frame(11, b"p"), 1002, "protocol error"),
    (frame(3, b"x"), 1002, "protocol error (frame 0x83)"),
    (frame(1, b"\xff\xfe"), 1007, "UTF-8"),
    (frame(1, b"a" * 600 + b"\xed\xa0\x80"), 1007, "UTF-8"),  # a surrogate, in a long message
    (frame(1, b"a" * 600 + b"\xc0\xaf"), 1007, "UTF-8"),  # an overlong form
    (frame(1, b"a" * 600 + b"\xe2\x82"), 1007, "UTF-8"),  # cut short
])
def test_protocol_errors_drop_link(loop, bad, code, err):
    async def script(reader, writer, got):
        await handshake(reader, writer)
        writer.write(bad)
        got.append(await read_frame(reader))
        await reader.read()

    srv, got = raw(loop, script)
    ws = make(srv.url, backoff_min=10)
    assert err in failed(ws)
    pump(ws, lambda o: got)
    assert got == [(8, code.to_bytes(2, "big"))]
    srv.stop()


def test_tcp_reset_reconnects(loop):
    async def script(reader, writer, got):
        got.append(await read_request(reader))
        if len(got) == 1:
            writer.write(upgrade_reply(got[0]))  # then the connection just ends, no close frame
        else:
            writer.write(upgrade_reply(got[1]) + frame(1, b"back"))
            await reader.read()

    srv, got = raw(loop, script)
    ws = make(srv.url)
    ws.connect(None, None)
    assert pump(ws, lambda o: o) == ["back"]
    assert ws.error == "connection closed" and ws.online
    ws.close()
    srv.stop()


def test_reconnect_after_server_restart(loop):
    srv = EchoServer(loop)
    ws = up(make(srv.url, backoff_min=0.02, backoff_max=0.1))
    assert ask(ws, "one") == "one"
    srv.stop(wait=False)  # close frame 1001, then nobody listens
    pump(ws, lambda o: not ws.online)
    assert "1001" in ws.error
    pump(ws, lambda o: "refused" in ws.error)  # reconnect attempts fail meanwhile
    srv.start()  # same port
    pump(ws, lambda o: ws.online)
    assert ask(ws, "two") == "two"
    assert srv.connections == 2
    ws.close()
    srv.stop()


def test_backoff_grows_with_jitter_and_caps(monkeypatch):
    now = [1000]
    monkeypatch.setattr(wsmod, "ticks_ms", lambda: now[0])  # a clock the test moves
    s = socket.socket()
    s.bind(("127.0.0.1", 0))  # nobody listens: every attempt is refused
    ws = make("ws://127.0.0.1:%d/x" % s.getsockname()[1], backoff_min=1, backoff_max=8)
    attempts = Log()
    ws._log = attempts

    def fails():
        n = len(attempts)
        end = time.monotonic() + 5
        while len(attempts) == n and time.monotonic() < end:
            ws.poll()
            time.sleep(0.001)
        return len(attempts) > n

    ws.connect(None, None)
    assert fails()
    for base in (1000, 2000, 4000, 8000, 8000):
        t0 = now[0]
        now[0] = t0 + base - 1
        ws.poll()
        assert ws._st == wsmod._OFF  # not before the base delay
        now[0] = t0 + min(base * 3 // 2, 8000)  # at the latest after base + 50 % jitter
        assert fails()
    s.close()
