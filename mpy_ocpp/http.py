# A small non-blocking HTTP/1.1 client for the Firmware Management defaults: GET a URL into a
# file, or PUT a file to a URL, through one fixed-size buffer (never the whole file in RAM).
# The caller drives a Transfer with step() (at most one buffer's worth of socket I/O each)
# until it returns True (done) or False (failed, the reason in .error).
# - http:// and https://; TLS uses ws.py's context helper: the server certificate is verified
#   against `ca` (DER or PEM bytes or a path; MicroPython needs DER), server_hostname is set.
# - user:password@ in the URL becomes Basic auth (taken as written, not percent-decoded).
# - Requests say "Connection: close". Bodies: Content-Length, chunked, or up to the end of the
#   stream (then a cut-off body cannot be told from a whole one). Any 2xx is success; 3xx
#   fails (redirects are not followed), and so does every other code.
# - An upload is a PUT of the raw file with its Content-Length.
# - DNS (getaddrinfo) blocks, as in ws.py; on MicroPython the TLS handshake runs inside the
#   first write. No progress for `timeout` seconds fails the transfer.
import os
from binascii import b2a_base64

from .compat import ticks_diff, ticks_ms
from . import ws  # ws._WB grows once TLS is used: read it there, not a copy
from .ws import _MPY, _context, _events, dial, split

_DNS = const(0)  # nothing done yet
_TCP = const(1)  # non-blocking connect under way
_TLS = const(2)  # TLS handshake (CPython drives it with do_handshake)
_REQ = const(3)  # the request head going out
_PUT = const(4)  # the file going out
_STATUS = const(5)  # reading the status line
_HEAD = const(6)  # reading header lines
_DATA = const(7)  # body bytes with a known length (Content-Length or one chunk)
_EOF = const(8)  # body bytes up to the end of the stream
_SIZE = const(9)  # a chunk-size line
_CRLF = const(10)  # the line ending a chunk
_TRAIL = const(11)  # trailer lines after the last chunk
_BAD = const(0x38)  # POLLERR | POLLHUP | POLLNVAL


class Transfer:
    """GET `url` into the file `path`, or (put=True) PUT the file `path` to `url`. `ctx`: an
    SSL context to use for https:// instead of one made from `ca`/`verify`. `sink`: an object
    with write() and close() that takes a good reply's body instead of the file `path`."""

    def __init__(self, url, path, put=False, ca=None, verify=True, ctx=None, size=1024, timeout=30,
                 sink=None):
        self.url = url
        self.path = path
        self.put = put
        self.sink = sink
        self._ca, self._verify, self._ctx = ca, verify, ctx
        self._buf = bytearray(size)
        self._mv = memoryview(self._buf)
        self._tmo = timeout * 1000
        self._t = ticks_ms()
        self._st = _DNS
        self._s = self._f = None
        self.result = self.error = self.status = None  # status: the HTTP status code
        self.done = 0  # body bytes moved

    def step(self):
        """One step: None while under way, then True or False (for good)."""
        if self.result is None:
            try:
                if self._work():
                    self._t = ticks_ms()
                elif ticks_diff(ticks_ms(), self._t) > self._tmo:
                    raise OSError("timeout")
            except (OSError, ValueError, MemoryError) as e:
                self._end(False, str(e) or type(e).__name__)
        return self.result

    def close(self):
        """Abandon the transfer."""
        if self.result is None:
            self._end(False, "aborted")

    def _end(self, ok, error=None):
        self.result = ok
        self.error = error
        for x in (self._s, self._f):
            try:
                x and x.close()
            except OSError:
                pass
        self._s = self._f = None

    def _work(self):  # -> truthy if it moved on
        st = self._st
        if st == _DNS:
            return self._start()
        if st == _TCP:
            return self._connected()
        if st == _TLS:
            try:
                self._s.do_handshake()
            except ws._WB:
                return False
            self._st = _REQ
            return True
        if st == _REQ:
            n = self._send(self._out)
            self._out = self._out[n:]
            if not len(self._out):
                self._out = None
                self._st = _PUT if self.put else _STATUS
            return n
        if st == _PUT:
            return self._upload()
        if st == _DATA or st == _EOF:
            return self._body(st)
        line = self._line()
        if line is not None:
            self._lines(st, line)
        return line is not None

    def _start(self):
        tls, host, port, net, path, user = split(self.url, "http")
        if tls and self._ctx is None:
            if self._verify and self._ca is None:
                raise ValueError("https:// needs a CA (ca=, or verify=False)")
            self._ctx = _context(self._ca, self._verify, None, None)
        self._host = host
        self._tls = tls
        self._n = 0  # bytes of the header line read so far
        head = "%s %s HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n" % (
            "PUT" if self.put else "GET", path, net)
        if user is not None:
            head += "Authorization: Basic %s\r\n" % b2a_base64(user.encode())[:-1].decode()
        if self.put:
            self._left = os.stat(self.path)[6]
            self._f = open(self.path, "rb")
            self._o = self._e = 0  # the part of the buffer still to send
            head += "Content-Type: application/octet-stream\r\nContent-Length: %d\r\n" % self._left
        self._out = memoryview((head + "\r\n").encode())
        self._s, self._p = dial(host, port)
        self._st = _TCP
        return True

    def _connected(self):
        ev = _events(self._p)
        if ev & _BAD:
            raise OSError("connection refused")
        if not ev:
            return False
        self._p = None
        s = self._s
        self._st = _REQ
        if self._tls:
            s = self._s = self._ctx.wrap_socket(s, server_hostname=self._host,
                                                do_handshake_on_connect=False)
            if hasattr(s, "do_handshake"):
                self._st = _TLS
        self._rd = s.readinto if _MPY else s.recv_into
        self._wr = s.write if _MPY else s.send
        return True

    def _send(self, mv):  # -> bytes written, 0 if none now
        try:
            return self._wr(mv) or 0
        except ws._WB:
            return 0

    def _recv(self, mv):  # -> bytes read, None if none now, 0 at the end of the stream
        try:
            return self._rd(mv)  # MicroPython: None when it would block
        except ws._WB:
            return None

    def _upload(self):
        if self._o == self._e:
            if not self._left:
                self._st = _STATUS
                return True
            n = self._f.readinto(self._mv[: min(len(self._buf), self._left)])
            if not n:
                raise OSError("file shorter than its size")
            self._left -= n
            self._o, self._e = 0, n
        n = self._send(self._mv[self._o : self._e])
        self._o += n
        self.done += n
        return n

    def _line(self):  # -> one line without its end, None if it is not complete yet
        b = self._buf
        n = self._n
        while True:
            r = self._recv(self._mv[n : n + 1])  # byte by byte: the body must stay in the socket
            if r is None:
                self._n = n
                return None
            if not r:
                raise OSError("connection closed")
            n += 1
            if b[n - 1] == 10:  # LF (CRLF, or a bare LF)
                self._n = 0
                return str(self._mv[: n - 2 if n > 1 and b[n - 2] == 13 else n - 1], "utf-8")
            if n == len(b):
                raise ValueError("HTTP line too long")

    def _lines(self, st, line):
        if st == _STATUS:
            w = line.split(" ")
            if len(w) < 2 or not w[1].isdigit():
                raise ValueError("bad HTTP reply")
            self.status = int(w[1])
            self._left = -1
            self._chunked = False
            self._st = _HEAD
        elif st == _HEAD:
            if line:
                k = line.find(":")
                name = line[:k].strip().lower()
                if name == "content-length":
                    self._left = int(line[k + 1 :])
                elif name == "transfer-encoding":
                    self._chunked = "chunked" in line[k + 1 :].lower()
            else:
                self._head_done()
        elif st == _SIZE:
            self._left = int(line.split(";")[0].strip(), 16)
            self._st = _DATA if self._left else _TRAIL
        elif st == _CRLF:
            if line:
                raise ValueError("bad chunk")
            self._st = _SIZE
        elif not line:  # the end of the trailer
            self._end(True)

    def _head_done(self):
        code = self.status
        if code < 200 or code > 299:
            raise OSError("HTTP %d%s" % (code, " (redirects are not followed)" if code < 400 else ""))
        if self.put:
            return self._end(True)
        self._f = self.sink or open(self.path, "wb")
        self._st = _SIZE if self._chunked else _DATA if self._left >= 0 else _EOF

    def _body(self, st):
        left = self._left
        if st == _DATA and not left:
            if self._chunked:
                self._st = _CRLF
            else:
                self._end(True)
            return True
        n = self._recv(self._mv[: len(self._buf) if st == _EOF else min(left, len(self._buf))])
        if n is None:
            return False
        if not n:
            if st == _DATA:
                raise OSError("connection closed after %d bytes" % self.done)
            self._end(True)
            return True
        self._f.write(self._mv[:n])
        self.done += n
        self._left = left - n
        return True
