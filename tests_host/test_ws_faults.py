"""mpy_ocpp.ws against hostile or broken peers, on CPython and the MicroPython unix port
(tests_host/mpy/ws_faults.py runs as a child process of either): failed connections leave
no file descriptor behind, a peer that stops reading never blocks a call, and close frames,
frame lengths and UTF-8 follow RFC 6455."""
import asyncio
import datetime
import socket
import ssl
import sys
from pathlib import Path

import pytest
import trustme

from wsserver import EchoServer, frame, handshake, raw, read_frame, read_request, run_script

SCRIPT = Path(__file__).resolve().parent / "mpy" / "ws_faults.py"
MICROPYTHON = Path(sys.executable).parent / "micropython"
RUNTIMES = [
    pytest.param(sys.executable, id="cpython"),
    pytest.param(str(MICROPYTHON), id="micropython", marks=pytest.mark.skipif(
        not MICROPYTHON.exists(), reason="no micropython next to python")),
]


def run(runtime, *args):
    return run_script(runtime, SCRIPT, *args)


def _tls_server(loop, leaf):
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    leaf.configure_cert(ctx)

    async def script(reader, writer, got):
        await reader.read()

    return raw(loop, script, ssl=ctx)[0]


# -- every failure path closes what it opened


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_failed_connections_leak_no_fd(loop, tls, runtime):
    now = datetime.datetime.now(datetime.timezone.utc)
    day = datetime.timedelta(days=1)
    other = trustme.CA()
    servers = [
        _tls_server(loop, other.issue_cert("127.0.0.1")),  # untrusted CA
        _tls_server(loop, tls.ca.issue_cert("127.0.0.1", not_before=now - 9 * day,
                                            not_after=now - day)),  # expired
        _tls_server(loop, tls.ca.issue_cert("example.org")),  # wrong host
    ]

    async def plain_text(reader, writer, got):  # a plain-text server behind wss://
        await reader.read(100)
        writer.write(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")

    async def http_404(reader, writer, got):
        await read_request(reader)
        writer.write(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n")

    async def silent(reader, writer, got):
        await reader.read()

    async def dropped(reader, writer, got):  # upgrade, then the connection ends
        await handshake(reader, writer)

    servers += [raw(loop, s)[0] for s in (plain_text, http_404, silent, dropped)]
    echo, secure = EchoServer(loop), EchoServer(loop, ssl=tls.server_context)
    specs = ["f=" + s.url for s in servers[:3]]
    specs.append("f=" + servers[3].url.replace("ws://", "wss://"))
    specs += ["f=" + servers[4].url, "t=" + servers[5].url, "f=" + servers[6].url,
              "o=" + echo.url, "o=" + secure.url]
    nobody = socket.socket()
    nobody.bind(("127.0.0.1", 0))  # a port nobody listens on: refused
    specs.append("f=ws://127.0.0.1:%d/x" % nobody.getsockname()[1])
    specs.append("n=ws://csms.example/x")
    try:
        out = run(runtime, "fd_count", tls.ca_der, 13, *specs)  # 13 x 4 = 52 failed handshakes
    finally:
        nobody.close()
        for s in servers + [echo, secure]:
            s.stop()
    print(out)
    for err in ("expired", "HTTP 404", "timeout", "connection closed", "refused", "lookup"):
        assert err in out, out


# -- a peer that stops reading


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_peer_not_reading_never_blocks(loop, runtime):
    async def script(reader, writer, got):  # connections 1 and 2 stall, 3 echoes
        got.append(await handshake(reader, writer))
        n = len(got)
        if n < 3:
            writer.transport.pause_reading()  # reads nothing more
            while len(got) == n:  # until the client comes back
                await asyncio.sleep(0.05)
            return
        op, data = await read_frame(reader)
        writer.write(frame(op, data))
        await reader.read()

    srv, got = raw(loop, script, timeout=30)
    try:
        out = run(runtime, "stall", srv.url)
    finally:
        srv.stop()
    print(out)
    assert len(got) == 3, out


def _slow_reader(n):
    async def script(reader, writer, got):
        await handshake(reader, writer)
        writer.transport.pause_reading()
        await asyncio.sleep(0.7)
        writer.transport.resume_reading()
        for i in range(n):
            op, data = await read_frame(reader)
            assert (op, data) == (1, b"%05d" % i + b"y" * 3000), (i, op, data[:10])
        writer.write(frame(1, b"got %d" % n))
        await reader.read()
    return script


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_slow_reader_gets_every_frame(loop, tls, runtime):
    srv, _ = raw(loop, _slow_reader(150), rcvbuf=4096)
    secure, _ = raw(loop, _slow_reader(150), ssl=tls.server_context, rcvbuf=4096)
    try:
        print(run(runtime, "slow", srv.url, 150), run(runtime, "slow", secure.url, 150, tls.ca_der))
    finally:
        srv.stop()
        secure.stop()


# -- RFC 6455: close frames, lengths, UTF-8


def _close(code, reason=b""):
    return frame(8, code.to_bytes(2, "big") + reason)


LEN16 = bytes([0x81, 126, 0, 5]) + b"short"  # 16-bit form for 5 bytes: not minimal
LEN64 = bytes([0x81, 127, 0, 0, 0, 0, 0, 0, 1, 0]) + b"z" * 256
TOPBIT = bytes([0x81, 127, 0x80, 0, 0, 0, 0, 0, 0, 5]) + b"hello"

CASES = [  # what the server sends, the close payload expected back, the client's error
    (_close(1000, b"bye"), (1000).to_bytes(2, "big"), "closed by server (1000)"),
    (frame(8, b""), b"", "closed by server (1005)"),  # no code: echoed empty, never 1005
    (_close(1012), (1012).to_bytes(2, "big"), "(1012)"),  # IANA: Service Restart
    (_close(3000), (3000).to_bytes(2, "big"), "(3000)"),
    (_close(4999), (4999).to_bytes(2, "big"), "(4999)"),
    (frame(8, b"\x03"), b"\x03\xea", "bad close"),  # 1-byte payload -> 1002
    (_close(999), b"\x03\xea", "bad close"),
    (_close(1004), b"\x03\xea", "bad close"),
    (_close(1005), b"\x03\xea", "bad close"),
    (_close(1006), b"\x03\xea", "bad close"),
    (_close(1015), b"\x03\xea", "bad close"),
    (_close(2999), b"\x03\xea", "bad close"),
    (_close(5000), b"\x03\xea", "bad close"),
    (_close(1000, b"\xff"), b"\x03\xef", "UTF-8"),  # reason not UTF-8 -> 1007
    (_close(1000, b"\xc0\xaf"), b"\x03\xef", "UTF-8"),  # overlong reason
    (TOPBIT, b"\x03\xea", "length"),
    (LEN16, b"\x03\xea", "length"),
    (LEN64, b"\x03\xea", "length"),
    (frame(1, b"\xff\xfe"), b"\x03\xef", "UTF-8"),
    (frame(1, b"a\xc0\xafb"), b"\x03\xef", "UTF-8"),  # overlong '/'
    (frame(1, b"\xe0\x80\xaf"), b"\x03\xef", "UTF-8"),  # overlong, 3 bytes
    (frame(1, b"\xf0\x80\x80\xaf"), b"\x03\xef", "UTF-8"),  # overlong, 4 bytes
    (frame(1, b"\xed\xa0\x80"), b"\x03\xef", "UTF-8"),  # lone surrogate
    (frame(1, b"\xed\xa0\xbd\xed\xb8\x80"), b"\x03\xef", "UTF-8"),  # CESU-8 pair
    (frame(1, b"\xf4\x90\x80\x80"), b"\x03\xef", "UTF-8"),  # past U+10FFFF
    (frame(1, b"\xf5\x80\x80\x80"), b"\x03\xef", "UTF-8"),
    (frame(1, b"ok \xe0", fin=False) + frame(0, b"\x80\xaf"), b"\x03\xef", "UTF-8"),
]


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_close_frames_lengths_and_utf8(loop, runtime):
    conns = []

    async def script(reader, writer, got):  # connection i gets case i
        i = len(conns)
        conns.append(i)
        await handshake(reader, writer)
        writer.write(CASES[i][0])
        got.append((i, await read_frame(reader)))
        await reader.read()

    srv, got = raw(loop, script)
    try:
        out = run(runtime, "fail", srv.url, len(CASES))
    finally:
        srv.stop()
    errors = [ln for ln in out.splitlines() if ln.startswith("error:")]
    got = dict(got)
    for i, (_, back, err) in enumerate(CASES):
        assert err in errors[i], (i, errors[i])
        assert got[i] == (8, back), (i, got[i], errors[i])


VALID = ["\u0080", "\u07ff", "\u0800", "\ud7ff", "\ue000", "\uffff", "\U00010000",
         "\U0010ffff", "a\u00e9\u20ac\U0001f600z"]


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_valid_utf8_edges_pass(loop, runtime):
    async def script(reader, writer, got):
        await handshake(reader, writer)
        for t in VALID:
            writer.write(frame(1, t.encode()))
        for _ in VALID:
            got.append((await read_frame(reader))[1].decode())

    srv, got = raw(loop, script)
    try:
        run(runtime, "echo", srv.url, len(VALID))
    finally:
        srv.stop()
    assert got == VALID


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_no_memory_for_a_message_keeps_the_link(loop, runtime):
    # an outgoing message there is no memory for is refused (one log line, nothing queued),
    # an incoming one is read and dropped like an oversized one; the link stays up
    srv = EchoServer(loop)
    try:
        assert "OK nomem" in run(runtime, "nomem", srv.url)
        assert srv.connections == 1
    finally:
        srv.stop()
