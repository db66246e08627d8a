# Unit tests of mpy_ocpp.http and of the Firmware Management state machines, plain asserts: run
# on MicroPython by tools/mptest.py and on CPython by pytest. The HTTP peer is a tiny
# non-blocking server in this file, stepped in the same loop as the client; the charge point
# talks to a fake link that answers every call. tests_host/test_firmware_management.py has
# the real servers, TLS and the real CSMS.
import gc
import json
import os
import random
import socket

from mpy_ocpp import ChargePoint, clock
from mpy_ocpp import firmware_management as fm
from mpy_ocpp.compat import ticks_diff, ticks_ms
from mpy_ocpp.http import Transfer, split
from mpy_ocpp.store import Store

DATA = bytes(range(256)) * 41  # 10,496 bytes: several 1 KB buffers and a partial one
_N = [0]


def _dir():
    _N[0] += 1
    d = "/tmp/mpy_ocpp_fw_%d_%d" % (os.getpid() if hasattr(os, "getpid") else random.getrandbits(16), _N[0])
    try:
        for f in os.listdir(d):
            os.remove(d + "/" + f)
    except OSError:
        pass
    return d


class Server:
    """HTTP on 127.0.0.1, one connection at a time, served from step(). routes: path ->
    (mode, data): "len" (Content-Length), "chunked", "eof" (HTTP/1.0, ends with the stream),
    "drop" (cut off mid-body), or an int status code."""

    def __init__(self):
        self.routes = {}
        self.puts = {}  # path -> the body that was PUT
        self.requests = []  # (method, path, header lines)
        for _ in range(50):  # MicroPython sockets have no getsockname(): pick a port ourselves
            self.port = random.randint(20000, 60000)
            s = socket.socket()
            try:
                s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                s.bind(socket.getaddrinfo("127.0.0.1", self.port)[0][-1])
                break
            except OSError:
                s.close()
        s.listen(2)
        s.setblocking(False)
        self.s = s
        self.c = None

    def url(self, path):
        return "http://127.0.0.1:%d%s" % (self.port, path)

    def close(self):
        self.s.close()

    def step(self):
        if self.c is None:
            try:
                self.c = self.s.accept()[0]
            except OSError:
                return
            self.c.setblocking(False)
            self.req = b""
        try:
            d = self.c.recv(4096)
        except OSError:
            return
        self.req += d or b""
        i = self.req.find(b"\r\n\r\n")
        if i < 0:
            return
        lines = self.req[:i].decode().split("\r\n")
        method, path = lines[0].split(" ")[:2]
        n = 0
        for h in lines[1:]:
            if h.lower().startswith("content-length:"):
                n = int(h[15:])
        body = self.req[i + 4 :]
        if len(body) < n:
            return
        self.requests.append((method, path, lines))
        self.c.setblocking(True)
        self.c.sendall(self.reply(method, path, body))
        self.c.close()
        self.c = None

    def reply(self, method, path, body):
        if method == "PUT":
            self.puts[path] = body
            return b"HTTP/1.1 201 Created\r\nContent-Length: 0\r\n\r\n"
        mode, data = self.routes.get(path, (404, b""))
        if mode == "len":
            return b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % len(data) + data
        if mode == "drop":
            return b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % len(data) + data[: len(data) // 2]
        if mode == "eof":
            return b"HTTP/1.0 200 OK\r\nServer: x\r\n\r\n" + data
        if mode == "chunked":
            out = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
            for i in range(0, len(data), 3000):
                part = data[i : i + 3000]
                out += b"%x;ext=1\r\n" % len(part) + part + b"\r\n"
            return out + b"0\r\nX-Trailer: 1\r\n\r\n"
        return b"HTTP/1.1 %d Nope\r\nContent-Length: 0\r\nLocation: /x\r\n\r\n" % mode


def _until(pred, step, secs=10):
    t0 = ticks_ms()
    while ticks_diff(ticks_ms(), t0) < secs * 1000:
        step()
        r = pred()
        if r:
            return r
    raise AssertionError("timed out")


def _run(server, t):
    def step():
        server.step()
        t.step()
    _until(lambda: t.result is not None, step)
    return t.result


def _read(path):
    with open(path, "rb") as f:
        return f.read()


def test_split_urls():
    assert split("http://h/fw.bin", "http") == (False, "h", 80, "h", "/fw.bin", None)
    assert split("https://u:p@h.example:8443", "http") == (True, "h.example", 8443, "h.example:8443", "/", "u:p")
    assert split("http://[::1]:81/a?b=c", "http") == (False, "::1", 81, "[::1]:81", "/a?b=c", None)
    assert split("ws://h:9000/ocpp/CP_1", "ws") == (False, "h", 9000, "h:9000", "/ocpp/CP_1", None)
    assert split("wss://h", "ws") == (True, "h", 443, "h", "/", None)
    for bad, plain in (("ftp://h/x", "http"), ("h/x", "http"), ("ws://h/", "http"), ("httpss://h/", "http"),
                       ("http://h/", "ws"), ("wsss://h/", "ws"), ("h:80", "ws"),
                       ("httpx", "http"), ("wsx", "ws")):
        try:
            split(bad, plain)
            assert False, bad
        except ValueError as e:
            assert "unsupported URL (only %s:// and %ss://)" % (plain, plain) in str(e)


def test_download_length_chunked_and_eof_bodies():
    srv = Server()
    d = Store(_dir()).path
    try:
        for mode in ("len", "chunked", "eof"):
            srv.routes["/" + mode] = (mode, DATA)
            t = Transfer(srv.url("/" + mode), d + "/" + mode)
            assert _run(srv, t) is True, (mode, t.error)
            assert t.status == 200 and t.done == len(DATA)
            assert _read(d + "/" + mode) == DATA, mode
        srv.routes["/empty"] = ("len", b"")
        t = Transfer(srv.url("/empty"), d + "/empty", size=64)
        assert _run(srv, t) is True and _read(d + "/empty") == b""
        t = Transfer("http://fw:s3cret@127.0.0.1:%d/len" % srv.port, d + "/auth")
        assert _run(srv, t) is True
        assert "Authorization: Basic Znc6czNjcmV0" in srv.requests[-1][2]  # base64("fw:s3cret")
        assert "Connection: close" in srv.requests[-1][2]
    finally:
        srv.close()


def test_download_failures_say_why():
    srv = Server()
    d = Store(_dir()).path
    srv.routes["/drop"] = ("drop", DATA)
    srv.routes["/500"] = (500, b"")
    srv.routes["/moved"] = (301, b"")
    try:
        t = Transfer(srv.url("/drop"), d + "/f")
        assert _run(srv, t) is False and "closed after %d bytes" % (len(DATA) // 2) in t.error
        t = Transfer(srv.url("/500"), d + "/f")
        assert _run(srv, t) is False and t.error == "HTTP 500" and t.status == 500
        t = Transfer(srv.url("/moved"), d + "/f")
        assert _run(srv, t) is False and "redirects are not followed" in t.error
        t = Transfer("https://127.0.0.1:%d/x" % srv.port, d + "/f")
        assert _run(srv, t) is False and "needs a CA" in t.error
    finally:
        srv.close()
    t = Transfer(srv.url("/refused"), d + "/f")  # nobody listens any more
    assert _run(srv, t) is False and t.error
    t = Transfer(srv.url("/x"), d + "/f")
    t.close()
    assert t.step() is False and t.error == "aborted"


def test_upload_is_a_streamed_put():
    srv = Server()
    d = Store(_dir()).path
    with open(d + "/diag.txt", "wb") as f:
        f.write(DATA)
    try:
        t = Transfer(srv.url("/up/diag.txt"), d + "/diag.txt", put=True, size=256)
        assert _run(srv, t) is True, t.error
        assert t.status == 201 and t.done == len(DATA) and srv.puts["/up/diag.txt"] == DATA
        method, _, head = srv.requests[-1]
        assert method == "PUT" and "Content-Length: %d" % len(DATA) in head
    finally:
        srv.close()


# Firmware Management on a charge point with a fake link

BOOT = {"status": "Accepted", "currentTime": "2026-01-01T00:00:00Z", "interval": 300}


class Link:
    """A fake transport that answers every call at once."""

    def __init__(self):
        self.sent = []
        self.inbox = []
        self.online = True
        self.error = None

    def connect(self, user, password):
        pass

    def close(self):
        pass

    def poll(self):
        return self.inbox.pop(0) if self.inbox else None

    def send(self, text):
        m = json.loads(text)
        self.sent.append(m)
        if m[0] == 2:
            reply = {"BootNotification": BOOT, "Authorize": {"idTagInfo": {"status": "Accepted"}},
                     "StartTransaction": {"transactionId": 7, "idTagInfo": {"status": "Accepted"}}}
            self.inbox.append(json.dumps([3, m[1], reply.get(m[2], {})]))
        return True

    def statuses(self, action="FirmwareStatusNotification"):
        return [m[3]["status"] for m in self.sent if m[0] == 2 and m[2] == action]


def _cp(state=None, link=None):
    link = link or Link()
    cp = ChargePoint("CP_1", link, Store(state or _dir()), profiles=(fm,))
    _until(lambda: cp.accepted and not cp.queue and cp.pending is None, cp.loop)
    return cp, link


def _call(cp, link, action, payload):
    mid = "m%d" % len(link.sent)
    link.inbox.append(json.dumps([2, mid, action, payload]))
    return _until(lambda: [m for m in link.sent if m[1] == mid], cp.loop)[-1]


def _retrieve(seconds=0):
    return clock.iso(clock.now() + seconds)


def test_update_downloads_installs_and_reports():
    srv = Server()
    srv.routes["/fw.bin"] = ("len", DATA)
    cp, link = _cp()
    got = []
    f = cp.firmware
    assert f.firmware_status == "Idle" and f.diagnostics_status == "Idle"
    f.install = lambda path: got.append(_read(path)) or True
    try:
        res = _call(cp, link, "UpdateFirmware", {"location": srv.url("/fw.bin"), "retrieveDate": _retrieve()})
        assert res[0] == 3 and res[2] == {}

        def step():
            srv.step()
            cp.loop()
        _until(lambda: "Installed" in link.statuses(), step)
    finally:
        srv.close()
    assert link.statuses() == ["Downloading", "Downloaded", "Installing", "Installed"]
    assert got == [DATA] and f.firmware_status == "Installed"
    _until(lambda: cp.store.read("firmware.json") is None, cp.loop)  # answered: nothing pending
    try:
        os.stat(f.image)
        assert False, "the image should be gone"
    except OSError:
        pass
    f.machine().notify_firmware(f)  # Remote Trigger: no update under way -> Idle
    _until(lambda: link.statuses()[-1:] == ["Idle"], cp.loop)


def _failing_download(retries, interval):
    """UpdateFirmware from a server that drops every download -> (requests made, statuses)."""
    srv = Server()
    srv.routes["/fw.bin"] = ("drop", DATA)
    cp, link = _cp()
    try:
        _call(cp, link, "UpdateFirmware", {"location": srv.url("/fw.bin"), "retrieveDate": _retrieve(),
                                           "retries": retries, "retryInterval": interval})

        def step():
            srv.step()
            cp.loop()
        _until(lambda: "DownloadFailed" in link.statuses(), step)
    finally:
        srv.close()
    return len(srv.requests), link.statuses()


def test_broken_download_is_retried_then_failed():
    assert _failing_download(2, 0) == (3, ["Downloading", "DownloadFailed"])  # 1 try + 2 retries


def test_absurd_retries_are_bounded():
    # schema-valid: 2**31-1 retries, a negative interval -> at most 10 tries, none sooner than now
    assert _failing_download(2147483647, -15825) == (10, ["Downloading", "DownloadFailed"])


def test_retrieve_date_waits_and_hooks_may_be_jobs():
    cp, link = _cp()
    f = cp.firmware
    calls = []

    def download(url, path):  # a generator: a few steps, then success
        calls.append(url)
        yield None
        yield None
        return True

    class Install:  # a step object
        n = 0

        def step(self):
            self.n += 1
            return True if self.n > 3 else None
    f.download = download
    f.install = lambda path: Install()
    _call(cp, link, "UpdateFirmware", {"location": "x://fw", "retrieveDate": _retrieve(1)})
    for _ in range(50):
        cp.loop()
    assert calls == [] and link.statuses() == []  # not before retrieveDate
    _until(lambda: "Installed" in link.statuses(), cp.loop, 5)
    assert calls == ["x://fw"]
    assert link.statuses() == ["Downloading", "Downloaded", "Installing", "Installed"]
    # a hook that raises, and a missing install hook
    f.download = lambda url, path: 1 // 0
    _call(cp, link, "UpdateFirmware", {"location": "x://fw", "retrieveDate": _retrieve(), "retries": 0})
    _until(lambda: link.statuses()[-1] == "DownloadFailed", cp.loop)
    f.download = lambda url, path: True
    f.install = None
    _call(cp, link, "UpdateFirmware", {"location": "x://fw", "retrieveDate": _retrieve()})
    _until(lambda: link.statuses()[-1] == "InstallationFailed", cp.loop)


def test_install_waits_for_the_transaction():
    cp, link = _cp()
    c = cp.connectors[1]
    c.plugged = lambda: True
    c.begin("TAG")
    _until(lambda: c.tx is not None and c.tx.id == 7, cp.loop)
    f = cp.firmware
    f.download = lambda url, path: True
    f.install = lambda path: True
    _call(cp, link, "UpdateFirmware", {"location": "x://fw", "retrieveDate": _retrieve()})
    _until(lambda: "Downloaded" in link.statuses(), cp.loop)
    for _ in range(100):
        cp.loop()
    assert link.statuses() == ["Downloading", "Downloaded"] and f.installing
    f.machine().notify_firmware(f)  # Remote Trigger while busy: the current status
    _until(lambda: len(link.statuses()) == 3, cp.loop)
    assert link.statuses()[-1] == "Downloaded"
    c.end()
    _until(lambda: "Installed" in link.statuses(), cp.loop)
    actions = [m[2] for m in link.sent if m[0] == 2]
    assert actions.index("StopTransaction") < link.sent.index(
        [m for m in link.sent if m[0] == 2 and m[3] == {"status": "Installing"}][0])
    assert link.statuses()[-2:] == ["Installing", "Installed"] and not f.installing


def test_reboot_during_install_reports_installed():
    d = _dir()
    cp, link = _cp(d)
    f = cp.firmware
    f.download = lambda url, path: True

    def install(path):  # a board module would write the OTA partition and reboot here
        while True:
            yield None
    f.install = install
    _call(cp, link, "UpdateFirmware", {"location": "x://fw", "retrieveDate": _retrieve()})
    _until(lambda: link.statuses() == ["Downloading", "Downloaded", "Installing"], cp.loop)
    for _ in range(20):
        cp.loop()  # the install hook runs once Installing is answered
    cp2, link2 = _cp(d)  # the new firmware boots
    _until(lambda: link2.statuses() == ["Installed"], cp2.loop)
    assert [m[2] for m in link2.sent if m[0] == 2][0] == "BootNotification"
    _until(lambda: cp2.store.read("firmware.json") is None, cp2.loop)
    assert cp2.firmware.firmware_status == "Installed"
    cp3, link3 = _cp(d)
    for _ in range(20):
        cp3.loop()
    assert link3.statuses() == []


def test_reboot_during_download_downloads_again():
    d = _dir()
    cp, link = _cp(d)

    def stuck(url, path):
        while True:
            yield None
    cp.firmware.download = stuck
    _call(cp, link, "UpdateFirmware", {"location": "x://fw", "retrieveDate": _retrieve(), "retries": 1})
    _until(lambda: link.statuses() == ["Downloading"], cp.loop)
    link2 = Link()
    cp2 = ChargePoint("CP_1", link2, Store(d), profiles=(fm,))
    cp2.firmware.download = lambda url, path: False
    _until(lambda: "DownloadFailed" in link2.statuses(), cp2.loop)
    assert link2.statuses() == ["Downloading", "DownloadFailed"]  # the one try left


def test_get_diagnostics_uploads_the_default_file():
    srv = Server()
    cp, link = _cp()
    try:
        res = _call(cp, link, "GetDiagnostics", {"location": srv.url("/logs/"), "retries": 0,
                                                 "startTime": "2026-01-01T00:00:00Z"})
        name = res[2]["fileName"]
        assert name.startswith("CP_1_") and name.endswith(".txt")

        def step():
            srv.step()
            cp.loop()
        _until(lambda: "Uploaded" in link.statuses("DiagnosticsStatusNotification"), step)
    finally:
        srv.close()
    assert link.statuses("DiagnosticsStatusNotification") == ["Uploading", "Uploaded"]
    body = srv.puts["/logs/" + name].decode()
    assert body.startswith("mpy_ocpp diagnostics of CP_1") and "HeartbeatInterval=300" in body
    assert "AuthorizationKey" not in body
    try:
        os.stat(cp.store.path + "/" + name)
        assert False, "the diagnostics file should be gone"
    except OSError:
        pass
    cp.firmware.machine().notify_diagnostics(cp.firmware)
    _until(lambda: link.statuses("DiagnosticsStatusNotification")[-1] == "Idle", cp.loop)
    # ftp: answered with the file name, then UploadFailed (the default hook speaks HTTP only)
    res = _call(cp, link, "GetDiagnostics", {"location": "ftp://u:p@host/dir/", "retries": 1,
                                             "retryInterval": 0})
    assert res[2]["fileName"].startswith("CP_1_")
    _until(lambda: link.statuses("DiagnosticsStatusNotification")[-1] == "UploadFailed", cp.loop)
    assert link.statuses("DiagnosticsStatusNotification")[-2:] == ["Uploading", "UploadFailed"]
    cp.firmware.diagnostics = lambda start, stop: None  # nothing to upload: no fileName
    assert _call(cp, link, "GetDiagnostics", {"location": "http://h/"})[2] == {}


def _loop_alloc(cp):
    """Bytes that 500 calls of the profile's loop() allocate (after one warm-up round)."""
    now = ticks_ms()
    for _ in range(2):
        gc.collect()
        a = gc.mem_alloc()
        for _ in range(500):
            fm.loop(cp, now)
    return gc.mem_alloc() - a


def test_idle_loop_allocates_nothing():
    cp, link = _cp()
    if not hasattr(gc, "mem_alloc"):
        return  # CPython
    assert _loop_alloc(cp) == 0


def test_an_update_waiting_for_its_date_allocates_nothing_per_loop():
    # the Installing callback's closure made _update's self a cell, made at every loop()
    cp, link = _cp()
    if not hasattr(gc, "mem_alloc"):
        return  # CPython
    later = clock.iso(clock.now() + 3600)
    assert _call(cp, link, "UpdateFirmware", {"location": "http://h/fw.bin", "retrieveDate": later})[2] == {}
    assert cp.firmware._get is not None and _loop_alloc(cp) == 0
