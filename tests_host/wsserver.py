"""Test peers for mpy_ocpp.ws: a real `websockets` server and a raw TCP server that can
misbehave, each on 127.0.0.1 (port 0 = a free one) in an asyncio loop on a background thread."""
import asyncio
import base64
import hashlib
import os
import socket
import subprocess
import threading
from pathlib import Path

from websockets.asyncio.server import serve
from websockets.datastructures import Headers

GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"


class Loop:
    """An asyncio loop running in a daemon thread; run() executes a coroutine there."""

    def __init__(self):
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()

    def run(self, coro, timeout=10):
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def stop(self):
        async def cancel():  # handlers still running would warn when the loop goes away
            tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
            for t in tasks:
                t.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

        self.run(cancel())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)


class EchoServer:
    """websockets server: echoes text, and obeys commands "!name arg" sent by the client."""

    def __init__(self, loop, ssl=None, subprotocols=("ocpp1.6",), auth=None, port=0):
        self.lp, self.ssl, self.auth = loop, ssl, auth
        self.subprotocols = list(subprotocols) if subprotocols else None
        self.port = port
        self.connections = 0
        self.headers = None  # request headers of the last accepted connection
        self.server = None
        self.start()

    @property
    def url(self):
        return "%s://127.0.0.1:%d/ocpp/CP_1" % ("wss" if self.ssl else "ws", self.port)

    def start(self):
        async def up():
            self.server = await serve(
                self._handler, "127.0.0.1", self.port, ssl=self.ssl,
                subprotocols=self.subprotocols, process_request=self._check_auth,
                ping_interval=None, compression=None, close_timeout=0.5)
            self.port = self.server.sockets[0].getsockname()[1]

        self.lp.run(up())

    def stop(self, wait=True):
        """Stop listening; open connections get a close frame (1001)."""
        async def down():
            self.server.close()
            if wait:
                await self.server.wait_closed()

        self.lp.run(down())

    def _check_auth(self, connection, request):
        if self.auth is None:
            return None
        token = base64.b64encode(("%s:%s" % self.auth).encode()).decode()
        if request.headers.get("Authorization") != "Basic " + token:
            return connection.respond(401, "Unauthorized\n")
        return None

    async def _handler(self, ws):
        self.connections += 1
        self.headers = ws.request.headers
        async for msg in ws:
            if not msg.startswith("!"):
                await ws.send(msg)
                continue
            cmd, _, arg = msg[1:].partition(" ")
            if cmd == "frag":  # one message sent as fragments
                await ws.send(arg.split(","))
            elif cmd == "size":  # a message of exactly N bytes
                await ws.send("x" * int(arg))
            elif cmd == "many":  # N messages back to back
                for i in range(int(arg)):
                    await ws.send("m%d" % i)
            elif cmd == "bin":
                await ws.send(b"\x00\x01\x02")
                await ws.send("after binary")
            elif cmd == "ping":  # the server pings; the client must answer
                await asyncio.wait_for(await ws.ping(b"hi"), 5)
                await ws.send("pong received")
            elif cmd == "close":
                await ws.close(int(arg or 1000))
            elif cmd == "path":
                await ws.send(ws.request.path)


class RawServer:
    """TCP server handing each connection to `handler(reader, writer)`."""

    def __init__(self, loop, handler, ssl=None, rcvbuf=0):
        self.lp = loop

        async def up():
            self.server = await asyncio.start_server(handler, "127.0.0.1", 0, ssl=ssl)
            if rcvbuf:  # a small receive window: the client's writes stall early
                self.server.sockets[0].setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
            return self.server.sockets[0].getsockname()[1]

        self.port = loop.run(up())
        self.url = "%s://127.0.0.1:%d/ocpp/CP_1" % ("wss" if ssl else "ws", self.port)

    def stop(self):
        async def down():
            self.server.close()

        self.lp.run(down())


async def read_request(reader):
    """Read an HTTP upgrade request; -> its headers."""
    lines = (await reader.readuntil(b"\r\n\r\n")).decode().split("\r\n")
    h = Headers()
    for ln in lines[1:]:
        if ":" in ln:
            k, v = ln.split(":", 1)
            h[k.strip()] = v.strip()
    return h


def accept(key):
    return base64.b64encode(hashlib.sha1(key.encode() + GUID).digest()).decode()


def upgrade_reply(headers, protocol="ocpp1.6", acc=None):
    """A 101 reply; acc/protocol override the right values (None protocol = header left out)."""
    r = ("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
         "Sec-WebSocket-Accept: %s\r\n" % (acc or accept(headers["Sec-WebSocket-Key"])))
    if protocol:
        r += "Sec-WebSocket-Protocol: %s\r\n" % protocol
    return (r + "\r\n").encode()


def frame(op, payload=b"", fin=True, mask=None, rsv=0):
    """One server frame, built by hand (mask= makes it illegally masked)."""
    n = len(payload)
    h = bytearray([(0x80 if fin else 0) | rsv | op])
    m = 0x80 if mask else 0
    if n < 126:
        h.append(m | n)
    elif n < 65536:
        h.append(m | 126)
        h += n.to_bytes(2, "big")
    else:
        h.append(m | 127)
        h += n.to_bytes(8, "big")
    if mask:
        h += mask
        payload = bytes(b ^ mask[i & 3] for i, b in enumerate(payload))
    return bytes(h) + payload


async def read_frame(reader):
    """One client frame -> (opcode, unmasked payload). The client sends every message as ONE
    frame (FIN set, never a continuation: a charger's interoperable choice); anything else
    fails the server's script."""
    fin, op, data = await read_fragment(reader)
    assert fin and op, "a fragment from the client (FIN %s, opcode %d)" % (fin, op)
    return op, data


async def read_fragment(reader):
    """One client frame -> (fin, opcode, unmasked payload); checks that it is masked."""
    b0, b1 = await reader.readexactly(2)
    assert b1 & 0x80, "client frame not masked"
    n = b1 & 127
    if n == 126:
        n = int.from_bytes(await reader.readexactly(2), "big")
    elif n == 127:
        n = int.from_bytes(await reader.readexactly(8), "big")
    mask = await reader.readexactly(4)
    data = await reader.readexactly(n)
    return bool(b0 & 0x80), b0 & 15, bytes(b ^ mask[i & 3] for i, b in enumerate(data))


def raw(loop, script, ssl=None, timeout=5, rcvbuf=0):
    """A raw server running script(reader, writer, got) per connection (for at most `timeout`
    seconds); got collects results. rcvbuf: SO_RCVBUF of its sockets (0 = the default)."""
    got = []

    async def handler(reader, writer):
        try:
            await asyncio.wait_for(script(reader, writer, got), timeout)
        except (asyncio.IncompleteReadError, ConnectionError, asyncio.TimeoutError):
            pass
        finally:
            writer.close()

    return RawServer(loop, handler, ssl, rcvbuf), got


async def handshake(reader, writer, **kw):
    """Read the upgrade request and answer it (kw: see upgrade_reply); -> request headers."""
    h = await read_request(reader)
    writer.write(upgrade_reply(h, **kw))
    await writer.drain()
    return h


ROOT = Path(__file__).resolve().parent.parent


def run_script(exe, script, *args):
    """`exe script args...` (a client script under tests_host/mpy/, CPython or the unix port),
    which must exit 0 and print "OK <first arg>"; -> its output."""
    env = dict(os.environ, MICROPYPATH=".frozen:" + str(ROOT))  # .frozen keeps the ssl wrapper
    p = subprocess.run([str(exe), str(script), *map(str, args)], env=env, cwd=ROOT,
                       stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=60)
    out = p.stdout + p.stderr
    assert p.returncode == 0 and ("OK " + args[0]) in p.stdout, out
    return out
