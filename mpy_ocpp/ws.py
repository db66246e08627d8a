# RFC 6455 WebSocket client (ws:// and wss://) for OCPP-J: the transport handed to ChargePoint.
# Non-blocking and self-reconnecting; the caller drives everything with poll(). What still
# blocks: DNS (getaddrinfo has no non-blocking form on the ports) and, on MicroPython, the TLS
# handshake's public-key math inside one write call (about a second on an ESP32).
# send() only queues the message: poll() (and send() itself) write what the socket takes now.
# Every message goes out as ONE frame (no fragments: some CSMS stacks and proxies mishandle
# continuation frames). No allocation holds a whole large message: send() also takes a document
# (a list), whose JSON text a first pass only measures (the frame's length header) and a second
# writes piece by piece (rpc.dump) into blocks of 512 bytes, each masked once full and queued in
# order (a short message is one block, header included; its text, one piece, is made once).
# The queue takes any message while empty (also one larger than max_size) and otherwise only
# while it stays within 2 * max_size bytes, so an answer fits behind a call being written; a
# refused message makes send() return False (logged) and nothing of it is queued, nor of one
# that fails half-way: a frame is queued whole or not at all. The one exception is the last
# try of a message with no free 512-byte block, whose 128-byte blocks go straight to the
# socket as they fill (see _put): failing half-way there drops the link.
# No progress for `timeout` drops the link. Pong and close frames go through the same queue
# (after the blocks of a frame, never between them); a close frame gets one write attempt
# before the socket is closed.
# Messages come back as str, or, when longer than the 256-byte receive buffer, as the
# bytearray (of exactly their size, allocated for them and let go after) holding their UTF-8
# text: json.loads takes it without a copy as str. Idle, only the small buffer is held (a
# control frame's payload gets a buffer while it is read: pings are rare). A text
# message that is not strict UTF-8 (no overlong forms, no surrogates) fails the connection
# (close 1007, as RFC 6455 asks); a message over max_size, or one there is no memory for now,
# is read and dropped, and poll() returns bytes with its first 64 bytes so the core can still
# answer the call. Binary messages are ignored. The HTTP upgrade reply is read a line at a time
# through the small buffer (a longer line is cut: the headers that matter are short); max_size
# bounds its total.
# Close codes: only codes valid on the wire are sent or accepted (1000-1003, 1007-1014 as in
# the IANA registry, 3000-4999); a close frame without a code is echoed empty. Lengths must be
# in their shortest form (RFC 6455 5.2), else 1002.
# (select, EINPROGRESS and a2b_base64 are imported where a link is made: globals of this
# module take a dict slot each, for good; at 23 names it has 23 slots, at 27 it had 29)
import socket
import sys
from binascii import b2a_base64

from .compat import ticks_ms, ticks_diff, ticks_add, log as _log
from .rpc import dump

try:
    from os import urandom as _rand
except ImportError:  # ports without os.urandom
    from random import getrandbits

    _rand = lambda n: bytes(getrandbits(8) for _ in range(n))  # noqa: E731


_MPY = sys.implementation.name == "micropython"
del sys  # its slot goes to a later name
# what a non-blocking socket raises when it would block: MicroPython streams return None
# instead; CPython's TLS adds its two errors once a wss:// link is made (_context): ssl is
# imported only then (on CPython it loads OpenSSL: 6 MB of RSS; on MicroPython it costs heap)
_WB = () if _MPY else (BlockingIOError,)

# link states
_OFF = const(0)  # no socket; the next attempt is due at self._at (if self._run)
_TCP = const(1)  # non-blocking connect under way
_REQ = const(2)  # TLS handshake (if any), then the HTTP upgrade request going out
_RESP = const(3)  # reading the HTTP reply
_OPEN = const(4)
# opcodes
_TEXT = const(1)
_BIN = const(2)
_CLOSE = const(8)
_PING = const(9)
_PONG = const(10)
_HEAD = const(64)  # bytes of an oversized message handed to the caller
_CHUNK = const(512)  # payload bytes per block of an outgoing frame (the first one: + header)
_TIGHT = const(128)  # the same, and the longest piece, when no block of _CHUNK is free
_SMALL = const(256)  # the receive buffer, held: a longer message (a CSMS call at most, an
# answer never) gets a buffer of its own
_PART = const(256)  # or, with no free block that large, blocks of this after the small buffer:
# a fragmented heap has holes of a few hundred bytes where a whole message finds no room
_POLLIN = const(1)
_POLLOUT = const(4)
_BAD = const(0x38)  # POLLERR | POLLHUP | POLLNVAL
_GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"


def _events(p):  # -> the socket's poll events now, 0 if none
    if _MPY:
        for _, e in p.ipoll(0):  # ipoll reuses one result tuple: no allocation
            return e
        return 0
    r = p.poll(0)
    return r[0][1] if r else 0


class _Err(ValueError):  # protocol violation: (text, close code to send or 0)
    pass


def _wire(c):  # a close code that may appear on the wire
    return 1000 <= c < 1015 and not 1004 <= c <= 1006 or 3000 <= c < 5000


def _utf8(chunks):  # strict UTF-8 (RFC 3629: no overlong forms, surrogates or code points
    # past U+10FFFF) of the bytes of chunks, a sequence may cross from one chunk to the next;
    # checked in place, no copy (MicroPython's decoder checks the structure only)
    need = lo = hi = 0
    for b in chunks:
        for c in b:
            if need:  # a continuation byte, within [lo, hi]
                if c < lo or c > hi:
                    return False
                need -= 1
                lo, hi = 0x80, 0xBF
            elif c >= 0x80:
                if c < 0xC2 or c > 0xF4:
                    return False
                need = 1 if c < 0xE0 else 2 if c < 0xF0 else 3
                lo = 0xA0 if c == 0xE0 else 0x90 if c == 0xF0 else 0x80
                hi = 0x9F if c == 0xED else 0x8F if c == 0xF4 else 0xBF
    return not need


def _text(b):  # -> str, or the connection fails with 1007
    try:
        s = str(b, "utf-8")
        if not _MPY or len(s) == len(b) or _utf8((b,)):  # only a non-ASCII text needs the check
            return s
    except UnicodeError:
        pass
    raise _Err("invalid UTF-8 in a text message", 1007)


def split(url, plain):
    """-> (tls, host, port, Host header, path, "user:password" or None) of a `plain`:// or
    `plain`s:// URL (http.py's too); ValueError for another scheme."""
    i = url.find("://")
    if i < 0 or url[:i] not in (plain, plain + "s"):
        raise ValueError("unsupported URL (only %s:// and %ss://): %s" % (plain, plain, url[:max(i, 0) + 3]))
    tls = url[:i] != plain
    r = url[i + 3 :]
    j = r.find("/")
    j = len(r) if j < 0 else j
    net, path = r[:j], r[j:] or "/"
    user = None
    k = net.rfind("@")
    if k >= 0:
        user, net = net[:k], net[k + 1 :]
    k = net.rfind(":")
    if k > 0 and "]" not in net[k:]:
        return tls, net[:k].strip("[]"), int(net[k + 1 :]), net, path, user
    return tls, net.strip("[]"), 443 if tls else 80, net, path, user


def dial(host, port):  # -> (socket, poll): a non-blocking connect under way (DNS blocks)
    import select
    from errno import EINPROGRESS

    a = socket.getaddrinfo(host, port, 0, socket.SOCK_STREAM)[0]
    s = socket.socket(a[0], socket.SOCK_STREAM)
    s.setblocking(False)
    try:
        s.connect(a[-1])
    except OSError as e:
        if e.args[0] != EINPROGRESS:
            s.close()
            raise
    p = select.poll()
    p.register(s, _POLLOUT)
    return s, p


def _der(x):  # MicroPython: bytes or a file, and of a PEM the first block as DER (mbedTLS
    # may be built without PEM)
    if isinstance(x, str):
        with open(x, "rb") as f:
            x = f.read()
    if b"-----BEGIN" in x:
        from binascii import a2b_base64

        i = x.find(b"\n", x.find(b"-----BEGIN"))
        x = a2b_base64(x[i : x.find(b"-----END", i)])
    return x


def _context(ca, verify, cert, key):
    global _WB
    import ssl

    if not _MPY:
        _WB = (BlockingIOError, ssl.SSLWantReadError, ssl.SSLWantWriteError)
    c = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)  # MicroPython's defaults to CERT_NONE
    if verify:
        if ca is None:
            raise ValueError("wss:// needs ca= (or verify=False)")
        if _MPY:
            ca = _der(ca)
        else:
            if isinstance(ca, str):
                with open(ca, "rb") as f:
                    ca = f.read()
            if b"-----BEGIN" in ca:
                ca = ca.decode()
        c.verify_mode = ssl.CERT_REQUIRED
        c.load_verify_locations(cadata=ca)
    else:
        c.check_hostname = False  # CPython refuses CERT_NONE while it is set
        c.verify_mode = ssl.CERT_NONE
    if cert:  # CPython: PEM file paths; MicroPython: DER or PEM, bytes or paths
        c.load_cert_chain(*((_der(cert), _der(key)) if _MPY else (cert, key)))
    return c


class WebSocket:
    # Class-level, so that the instance dict holds fewer names (it has ~60, 8 B of heap each)
    json_frames = True  # send() also takes a JSON document (ChargePoint looks for this)
    _log = staticmethod(_log)  # unless the firmware gives its own
    client_cert = False  # a TLS client certificate is given (Security Profile 3)
    _thru = None  # while a frame is written straight through (see _put): 0, 1 once bytes went

    def __init__(self, url, subprotocol="ocpp1.6", ca=None, verify=True, cert=None, key=None,
                 max_size=4096, ping_interval=0, timeout=10, backoff_min=1, backoff_max=60,
                 log=None):
        # Host header as written, path with query; a user@ in the URL is not used (ChargePoint
        # gives the credentials)
        tls, self._host, self._port, self._net, self._path, _ = split(url, "ws")
        if max_size <= 2 * _HEAD:
            raise ValueError("max_size")
        self.ctx = _context(ca, verify, cert, key) if tls else None
        self._tls = (ca, verify) if tls else None  # for use_cert (ca: what the firmware gave)
        if tls and cert is not None:
            self.client_cert = True  # Security Profile 3
        # offered in this order (ChargePoint may narrow it); the server's choice, once online
        self.subprotocols = (subprotocol,) if type(subprotocol) is str else tuple(subprotocol)
        self.subprotocol = None
        self._max = max_size
        self._buf = bytearray(_SMALL)  # each line of the HTTP reply and every short message
        self._mv = self._mb = memoryview(self._buf)  # _mb: where the open message goes
        self._big = None  # the bytearray of a longer message while it arrives
        self._hv = memoryview(bytearray(10))  # frame header (server frames carry no mask key)
        self._pi, self._tmo, self._bmin, self._bmax = (  # ms
            int(x * 1000) for x in (ping_interval, timeout, backoff_min, backoff_max))
        if log is not None:
            self._log = log
        self._s = self._raw = self._auth = self._pend = self._hs = self._fb = self._p1 = None
        self._oq = []  # outgoing frames (memoryviews), oldest first
        self._bs = _CHUNK  # the block size of the frame being queued
        self._on = 0  # bytes in _oq
        self._st = _OFF
        self._run = self.online = self._full = False
        self.error = None

    def connect(self, user=None, password=None):
        # (Re)connect now. The Basic auth token is a secret: it never reaches a log.
        self._auth = None
        if user is not None:
            p = password or ""
            p = user.encode() + b":" + (p.encode() if isinstance(p, str) else p)
            self._auth = b2a_base64(p)[:-1].decode()
        self._shut(1000)
        self._run = True
        self._bo = self._bmin
        self._at = ticks_ms()

    def trust(self, der):  # one more CA certificate (DER) for the next handshakes (wss://)
        if self.ctx:
            self.ctx.load_verify_locations(cadata=der)

    def use_cert(self, cert, key):
        """The charge point's certificate and key from the next handshake on (Security Profile
        3, e.g. a new one after CertificateSigned): a new TLS context, since loading a
        certificate into MicroPython's adds to what it holds. The CAs given by trust() are
        not in it: ChargePoint gives them again."""
        if self._tls:
            self.ctx = _context(self._tls[0], self._tls[1], cert, key)
            self.client_cert = True

    def offer(self, subprotocols):  # the subprotocols of the next handshakes, in this order
        self.subprotocols = tuple(subprotocols)

    def set_ping(self, seconds):  # WebSocketPingInterval; 0 = no pings
        self._pi = seconds * 1000

    def close(self):
        self._run = False
        self._shut(1000)

    def send(self, msg):
        """Queue one text message as one frame: a str, or a document (an OCPP-J frame as a
        list) whose JSON text goes piece by piece (rpc.dump) into the frame, never whole: a
        first pass counts its bytes, a second copies them into blocks of _CHUNK bytes, masked.
        A text that came as one piece (a str, or a short document) is made once: the first
        pass keeps it for the second."""
        if not self.online:
            return False
        try:
            ok = self._put(msg, _CHUNK)
            if ok is None:  # no free block that large: again in small pieces and blocks
                ok = self._put(msg, _TIGHT)
            if not ok:  # refused, the link kept (a reconnect would need more memory still)
                if not self._full:  # once until the link moves again (the core retries)
                    self._full = True
                    self._log("ws: peer not reading, outgoing frames refused" if ok is False
                              else "ws: no memory for an outgoing message now, refused")
                return False
            self._flush()
            return True
        except (OSError, ValueError, MemoryError) as e:
            self._drop(str(e).strip() or "send failed")
            return False

    def _put(self, msg, bs):  # queue msg as one frame in blocks of bs bytes -> True, False (no
        # room in the queue) or None (no memory); refused, nothing of it stays queued. In
        # _TIGHT blocks (the last try: the heap is short) a frame behind nothing queued goes
        # straight to the socket, block by block, one block reused while the socket takes them
        # whole, so it needs no more than a block; then a failure half-way has sent part of the
        # frame, and only dropping the link undoes that.
        q, on = len(self._oq), self._on
        self._fb = self._p1 = None  # no block yet: the first pass counts
        self._fn = 0
        self._bs = bs
        ok = False
        try:
            self._piece(msg) if type(msg) is str else dump(msg, self._piece, bs)
            self._thru = 0 if bs == _TIGHT else None
            ok = self._tx(_TEXT, self._fn, msg)
        except MemoryError:
            ok = None
        finally:
            self._fb = self._p1 = None
            if not ok and len(self._oq) > q:  # this frame's blocks (part written: see below)
                del self._oq[q:]
                self._on = on
            sent, self._thru = self._thru, None
        if sent and not ok:
            raise OSError("no memory in the middle of a frame")
        return ok

    def _piece(self, s):  # a piece of the payload (str or bytes): counted while no block is
        # open (send()'s first pass), else copied into the blocks. A block is masked and queued
        # as soon as it is full (blocks are sized to the payload: the last one fills with its
        # last byte); every block after the first starts at a payload offset that is a multiple
        # of the block size (a multiple of 4), so its mask index starts at 0 as the first
        # block's does.
        b = s.encode() if type(s) is str and not _MPY else memoryview(s)  # MicroPython: no copy
        k = len(b)
        f = self._fb
        if f is None:
            self._p1 = b if self._p1 is None else False  # the first piece; False after one more
            self._fn += k
            return
        o, i, n = self._fo, self._fi, self._fn
        if o + k > n:
            raise ValueError("message changed while sent")
        j = 0
        while j < k:
            e = min(k - j, len(f) - i)
            f[i : i + e] = b if e == k else b[j : j + e]
            i += e
            j += e
            o += e
            if i == len(f):  # full: XOR its payload (from a) with the mask, queue it
                a, m = self._fa, self._fm
                if _MPY:  # a loop per mask byte, in place: no allocation
                    for r in range(4):
                        c = m[r]
                        for x in range(a + r, i, 4):
                            f[x] ^= c
                else:  # one int XOR for the block
                    e = i - a
                    f[a:] = (int.from_bytes(f[a:], "little") ^ int.from_bytes(
                        (m * ((e + 3) >> 2))[:e], "little")).to_bytes(e, "little")
                w = 0
                if self._thru is not None and not self._oq:  # straight through (see _put)
                    w = self._out(f)
                    if w:
                        self._thru = 1
                        self._wt = ticks_ms()
                if w < len(f):
                    self._queue(memoryview(f)[w:] if w else f)
                if o < n:  # else f stays, full: a piece more is a changed message
                    e = min(n - o, self._bs)
                    f = self._fb = memoryview(f)[:e] if w == len(f) else bytearray(e)  # reused
                    i = self._fa = 0
        self._fo, self._fi = o, i

    def poll(self):
        try:
            st = self._st
            if st == _OPEN:  # the idle path: no allocation on MicroPython
                if self._pi and ticks_diff(ticks_ms(), self._pt) >= self._pi:
                    if self._pinged:
                        raise OSError("no pong: link dead")
                    self._tx(_PING, 0, b"")
                    self._pinged = True
                    self._pt = ticks_ms()
                if self._oq:
                    self._flush()
                if _events(self._p) or (self._pend and self._pend()):
                    return self._read()
            elif st == _OFF:
                if self._run and ticks_diff(self._at, ticks_ms()) <= 0:
                    self._start()
            elif ticks_diff(ticks_ms(), self._at) > self._tmo:
                raise OSError("connect timeout")
            elif st == _TCP:
                self._tcp()
            elif st == _REQ:
                self._request()
            else:
                self._reply()
        except _Err as e:
            self._drop(e.args[0], e.args[1])
        except (OSError, ValueError, MemoryError) as e:  # socket, TLS, allocation errors
            self._drop(str(e).strip() or type(e).__name__)
        return None

    # -- connecting

    def _start(self):
        self._at = ticks_ms()  # connecting: since when (offline: when the next attempt is due)
        self._st = _TCP
        self._s, self._p = dial(self._host, self._port)
        self._raw = self._s

    def _tcp(self):
        ev = _events(self._p)
        if ev & _BAD:
            raise OSError("connection refused")
        if not ev:
            return
        s = self._s
        if self.ctx:
            # the handshake runs later, driven by do_handshake() (CPython) or by writes (MicroPython)
            s = self._s = self.ctx.wrap_socket(s, server_hostname=self._host,
                                                do_handshake_on_connect=False)
            self._hs = getattr(s, "do_handshake", None)
            self._pend = getattr(s, "pending", None)  # CPython keeps decrypted bytes there
        self._wr = s.write if _MPY else s.send
        import select

        self._p = select.poll()  # a new one: MicroPython polls the TLS object itself
        self._p.register(s, _POLLIN)
        key = b2a_base64(_rand(16))[:-1].decode()
        if _MPY:
            from hashlib import sha1
        else:
            try:
                from _sha1 import sha1  # CPython's builtin: hashlib loads OpenSSL (3.7 MB RSS)
            except ImportError:
                from hashlib import sha1
        self._acc = b2a_base64(sha1(key.encode() + _GUID).digest())[:-1].decode()
        r = ("GET %s HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
             "Sec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: %s\r\n"
             % (self._path, self._net, key, ", ".join(self.subprotocols)))
        if self._auth:
            r += "Authorization: Basic " + self._auth + "\r\n"
        self._queue((r + "\r\n").encode())  # it holds the credentials: gone once written
        self._st = _REQ

    def _request(self):
        if self._hs:
            try:
                self._hs()
            except _WB:
                return
            self._hs = None
        if self._flush():
            self._len = self._rn = 0
            self._hok = -1
            self._st = _RESP

    def _reply(self):  # byte by byte (frames may follow the reply in the same segment), each
        # line into the small buffer (the rest of a longer one overwrites its last byte)
        i = self._len
        while self._recv(self._mv[i : i + 1]):
            self._rn += 1
            if self._rn > self._max:
                raise OSError("HTTP reply too long")
            if self._buf[i] != 10:
                i = min(i + 1, _SMALL - 1)
                continue
            ln, i = str(self._mv[:i], "utf-8").strip(), 0
            if self._line(ln):
                break
        else:
            self._len = i
            return
        self._st = _OPEN
        self.online = True
        self._bo = self._bmin
        self._pt = ticks_ms()
        self._hn = self._msg = self._len = self._pinged = 0
        self._hl = 2
        self._mb, self._big = self._mv, None
        self._log("ws: online", self._host, self._port)

    def _line(self, ln):  # one line of the HTTP reply -> True after the last one
        ok = self._hok
        if ok < 0:  # the status line
            code = (ln.split(" ") + [""])[1]
            if code != "101":
                raise OSError("authorization refused (HTTP 401)" if code == "401" else "HTTP " + code)
            self._hok = 0
        elif not ln:
            if ok & 3 != 3:
                raise OSError("bad upgrade reply (Sec-WebSocket-Accept)")
            if not ok & 4:
                raise OSError("no subprotocol chosen by the server (offered %s)" % ", ".join(self.subprotocols))
            return True
        else:
            k = ln.find(":")
            h, v = ln[: max(k, 0)].strip().lower(), ln[k + 1 :].strip()
            if h == "upgrade" and v.lower() == "websocket":
                self._hok |= 1
            elif h == "sec-websocket-accept" and v == self._acc:
                self._hok |= 2
            elif h == "sec-websocket-protocol":
                if v not in self.subprotocols:
                    raise OSError("subprotocol %s chosen by the server, not offered" % v[:40])
                self.subprotocol = v
                self._hok |= 4
        return False

    def _shut(self, code):  # close the socket (with a close frame if code); no reconnect here
        if self.online:
            try:
                if code:
                    self._tx(_CLOSE, 2, code.to_bytes(2, "big"))
                self._flush()  # one attempt: what the socket does not take now is lost
            except (OSError, ValueError):
                pass
        s, r = self._s, self._raw
        self._s = self._raw = self._pend = self._hs = self._fb = self._big = None
        self._oq.clear()
        self._on = 0
        self.online = self._full = False
        self._st = _OFF
        for x in (s, r):  # both: MicroPython's TLS object lets go of its socket when a handshake
            try:  # fails, and closing it then leaves the socket open
                x and x.close()
            except OSError:
                pass

    def _drop(self, msg, code=0):  # the link failed: close it, try again after a backoff
        self._shut(code)
        self.error = msg
        self._log("ws:", msg)
        if self._run:
            b = self._bo
            w = b + int.from_bytes(_rand(2), "big") % (b // 2 + 1)  # up to 50 % jitter
            self._at = ticks_add(ticks_ms(), min(w, self._bmax))
            self._bo = min(b * 2, self._bmax)

    # -- frames

    def _recv(self, mv):  # -> bytes read, 0 if none now; raises at the end of the stream
        try:
            n = self._s.readinto(mv) if _MPY else self._s.recv_into(mv)  # no bound method kept
        except _WB:
            return 0
        if n == 0:
            raise OSError("connection closed")
        return n or 0  # MicroPython: None when it would block

    def _out(self, mv):  # -> bytes written, 0 if none now
        try:
            return self._wr(mv) or 0
        except _WB:
            return 0

    def _queue(self, f):
        if not self._oq:
            self._wt = ticks_ms()  # the send deadline counts from here or the last progress
        self._oq.append(memoryview(f))
        self._on += len(f)

    def _flush(self):  # write what the socket takes now -> True once the queue is empty
        q = self._oq
        while q:
            n = self._out(q[0])
            if not n:
                if ticks_diff(ticks_ms(), self._wt) > self._tmo:
                    raise OSError("send timeout: the peer reads nothing")
                return False
            self._wt = ticks_ms()
            self._on -= n
            self._full = False
            if n < len(q[0]):
                q[0] = q[0][n:]  # unsent bytes stay first: TLS must be offered them again
            else:
                q.pop(0)
        return True

    def _tx(self, op, n, msg):  # queue one masked frame of n payload bytes, the text of msg
        # (as send() counted it; kept whole in _p1 if it was one piece) -> False, nothing
        # queued, if the queue has no room (a close frame always goes in: it is the last one);
        # a ping or pong is simply skipped then
        h = 2 if n < 126 else 4 if n < 65536 else 10
        if op != _CLOSE and self._oq and self._on + h + 4 + n > 2 * self._max:
            return False
        f = self._fb = bytearray(h + 4 + min(n, self._bs))  # the first block: header, mask, data
        f[0] = 0x80 | op  # FIN: the whole message
        f[1] = 0x80 | (n if h == 2 else 126 if h == 4 else 127)
        if h > 2:
            f[2:h] = n.to_bytes(h - 2, "big")
        self._fm = m = _rand(4)  # a fresh mask for every frame
        f[h : h + 4] = m
        self._fi = self._fa = h + 4  # where the payload starts in the block
        self._fn, self._fo = n, 0
        if n:  # _piece queues every block, the last one once the n-th byte is in
            p = self._p1
            if p:
                self._piece(p)
            elif op == _TEXT and type(msg) is not str:
                dump(msg, self._piece, self._bs)
            else:
                self._piece(msg)
            if self._fo != n:
                raise ValueError("message changed while sent")
        else:
            self._queue(f)
        self._fb = None
        return True

    def _read(self):  # -> a message, or None once no more bytes are ready
        while True:
            if self._hn < self._hl:
                n = self._recv(self._hv[self._hn : self._hl])
                self._hn += n
                m = self._header() if n and self._hn == self._hl else None
            else:
                n = self._recv(self._target())
                self._left -= n
                if self._op & 8:
                    self._cn += n
                elif self._len < _HEAD or not self._over:
                    self._len += n
                m = self._end() if n and not self._left else None
            if not n or m is not None:
                return m

    def _header(self):
        b0, b1 = self._hv[0], self._hv[1]
        if self._hl == 2:
            if b0 & 0x70 or b1 & 0x80:
                raise _Err("reserved bits or masked frame from server", 1002)
            n = b1 & 127
            if n > 125:
                self._hl = 4 if n == 126 else 10
                return None
        else:
            n = int.from_bytes(self._hv[2 : self._hl], "big")
            if n < (126 if self._hl == 4 else 65536) or n >> 63:  # not minimal, or top bit set
                raise _Err("bad frame length", 1002)
        op = b0 & 15
        if op & 8:  # control frames: short, unfragmented, known
            bad = n > 125 or not b0 & 0x80 or op > _PONG
        elif op:  # a new message, while none is open
            bad = op > _BIN or self._msg
            self._msg, self._len, self._over = op, 0, op == _BIN  # binary: read and dropped
        else:  # a continuation of the open message
            bad = not self._msg
        if bad:
            raise _Err("protocol error (frame 0x%02x)" % b0, 1002)
        k = self._len + n  # the open message's bytes once this frame is in
        if op & 8:
            self._cv = memoryview(bytearray(n))  # its payload, let go once handled
        elif self._over:
            pass
        elif k > self._max:
            self._cut()
        elif type(self._big) is list:  # in blocks: _target adds them as the bytes come
            pass
        elif k > len(self._mb):  # a buffer of its own, else (no free block that large) blocks
            try:
                b = bytearray(k)
                b[: self._len] = self._mb[: self._len]  # fragments received so far
                self._big, self._mb = b, memoryview(b)
            except MemoryError:  # blocks: the small buffer, then _PART bytes each (the
                if self._mb is self._mv:  # caller parses a message before the next poll())
                    self._big = [self._buf]
                else:  # fragments that had a buffer of their own (a rare case): dropped
                    self._log("ws: no memory for a message of %d bytes" % k)
                    self._cut()
        self._op = op
        self._left = n
        self._cn = 0
        return None if n else self._end()

    def _cut(self):  # the open message is dropped: its head stays, in the small buffer
        b = self._big
        if b is not None:
            self._mv[:_HEAD] = (b[0] if type(b) is list else b)[:_HEAD]
        self._big, self._mb, self._over = None, self._mv, True

    def _target(self):  # where the next payload bytes go
        i, n = self._len, self._left
        if self._op & 8:
            return self._cv[self._cn : self._cn + n]
        b = self._big
        if type(b) is list and not self._over:  # in blocks: _SMALL bytes, then _PART each
            j, o = (0, i) if i < _SMALL else (1 + (i - _SMALL) // _PART, (i - _SMALL) % _PART)
            if j == len(b):
                try:
                    b.append(bytearray(_PART))
                except MemoryError:
                    self._log("ws: no memory for a message of %d bytes" % (i + n))
                    self._cut()
                    return self._target()
            return memoryview(b[j])[o : min(len(b[j]), o + n)]
        if not self._over:
            return self._mb[i : i + n]
        if i < _HEAD:  # oversized: keep the head, then read the rest into the tail and drop it
            return self._mb[i : min(_HEAD, i + n)]
        return self._mv[_HEAD : _HEAD + min(n, _SMALL - _HEAD)]

    def _end(self):  # a frame is complete -> a message, or None
        self._hn = 0
        self._hl = 2
        op = self._op
        if op & 8:
            p, self._cv = self._cv, None
            return self._control(op, p)
        if not self._hv[0] & 0x80:  # more fragments follow
            return None
        m, self._msg = self._msg, 0
        b, mb, self._big, self._mb = self._big, self._mb, None, self._mv
        if m == _BIN:
            self._log("ws: binary message ignored")
        elif self._over:
            return bytes(mb[: min(self._len, _HEAD)])
        elif b is None:
            return _text(mb[: self._len])
        else:
            if type(b) is list:
                k = self._len - _SMALL - (len(b) - 2) * _PART  # in the last block
                if k < _PART:
                    b[-1] = b[-1][:k]
            if _utf8(b if type(b) is list else (b,)):
                return b
            raise _Err("invalid UTF-8 in a text message", 1007)
        return None

    def _control(self, op, p):
        if op == _PING:
            self._tx(_PONG, len(p), p)  # not if the queue is full: RFC 6455 allows that
        elif op == _PONG:
            self._pinged = False
        else:  # close: check it, echo the code (none if none came), reconnect after a backoff
            n = len(p)
            c = p[0] << 8 | p[1] if n > 1 else 1005
            if n == 1 or n and not _wire(c):
                raise _Err("bad close frame from server", 1002)
            _text(p[2:])
            self._tx(_CLOSE, min(n, 2), p[:2])
            raise _Err("closed by server (%d)" % c, 0)
        return None
