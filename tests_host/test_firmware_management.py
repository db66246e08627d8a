"""Firmware Management: mpy_ocpp.http against a real local HTTP(S) server (http.server in a
thread) on CPython and on the MicroPython unix port, and UpdateFirmware / GetDiagnostics end
to end: tools/sim.py (whose install hook only logs the image) against tools/csms.py, which
checks every frame against the official schemas."""
import os
import socket
import ssl
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import trustme

from tests_host import simproc
from tools.csms import utc_now

ROOT = Path(__file__).resolve().parent.parent
MICROPYTHON = Path(sys.executable).parent / "micropython"
IMAGE = os.urandom(50000) + b"end"  # 50 KB: many 1 KB steps


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def do_GET(self):
        srv = self.server
        srv.log.append(("GET", self.path))
        mode, data = srv.routes.get(self.path, (404, b""))
        if isinstance(mode, int):
            self.send_response(mode)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        self.send_response(200)
        if mode == "chunked":
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            for i in range(0, len(data), 7000):
                part = data[i:i + 7000]
                self.wfile.write(b"%x\r\n%s\r\n" % (len(part), part))
            self.wfile.write(b"0\r\n\r\n")
            return
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if mode == "drop":  # the connection breaks mid-body
            self.wfile.write(data[:len(data) // 2])
            self.wfile.flush()
            self.connection.shutdown(socket.SHUT_RDWR)
            self.close_connection = True
        else:
            self.wfile.write(data)

    def do_PUT(self):
        n = int(self.headers["Content-Length"])
        self.server.puts[self.path] = self.rfile.read(n)
        self.server.log.append(("PUT", self.path))
        self.send_response(201)
        self.send_header("Content-Length", "0")
        self.end_headers()


@pytest.fixture
def web():
    """make(ssl_context=None) -> an HTTP(S) server on 127.0.0.1 with .routes, .puts, .log and
    .url(path); stopped after the test."""
    servers = []

    def make(ssl_context=None):
        srv = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        srv.daemon_threads = True
        if ssl_context:
            srv.socket = ssl_context.wrap_socket(srv.socket, server_side=True)
        srv.routes, srv.puts, srv.log = {}, {}, []
        scheme = "https" if ssl_context else "http"
        srv.url = lambda path: "%s://127.0.0.1:%d%s" % (scheme, srv.server_address[1], path)
        threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        servers.append(srv)
        return srv
    yield make
    for srv in servers:
        srv.shutdown()
        srv.server_close()


def run(t, limit=20.0):
    end = time.monotonic() + limit
    while t.step() is None:
        assert time.monotonic() < end, "transfer never ended"
    return t.result


# the HTTP client against a real server


def test_http_download_and_upload(web, tmp_path):
    from mpy_ocpp.http import Transfer
    srv = web()
    srv.routes["/fw.bin"] = ("len", IMAGE)
    srv.routes["/chunked.bin"] = ("chunked", IMAGE)
    for name in ("fw.bin", "chunked.bin"):
        t = Transfer(srv.url("/" + name), str(tmp_path / name))
        assert run(t) is True, t.error
        assert (tmp_path / name).read_bytes() == IMAGE
    t = Transfer(srv.url("/up/fw.bin"), str(tmp_path / "fw.bin"), put=True, size=512)
    assert run(t) is True, t.error
    assert srv.puts["/up/fw.bin"] == IMAGE


def test_http_failures(web, tmp_path):
    from mpy_ocpp.http import Transfer
    srv = web()
    srv.routes["/drop"] = ("drop", IMAGE)
    srv.routes["/500"] = (500, b"")
    t = Transfer(srv.url("/drop"), str(tmp_path / "f"))
    assert run(t) is False and "connection closed after" in t.error
    t = Transfer(srv.url("/500"), str(tmp_path / "f"))
    assert run(t) is False and t.error == "HTTP 500"


def test_https_with_the_test_ca(web, tls, tmp_path):
    from mpy_ocpp.http import Transfer
    srv = web(tls.server_context)
    srv.routes["/fw.bin"] = ("chunked", IMAGE)
    for ca in (tls.ca_pem, tls.ca_der):
        t = Transfer(srv.url("/fw.bin"), str(tmp_path / "fw.bin"), ca=ca)
        assert run(t) is True, t.error
        assert (tmp_path / "fw.bin").read_bytes() == IMAGE
    t = Transfer(srv.url("/up/x.bin"), str(tmp_path / "fw.bin"), put=True, ca=tls.ca_der)
    assert run(t) is True, t.error
    assert srv.puts["/up/x.bin"] == IMAGE
    other = ssl.PEM_cert_to_DER_cert(trustme.CA().cert_pem.bytes().decode())
    t = Transfer(srv.url("/fw.bin"), str(tmp_path / "no.bin"), ca=other)
    assert run(t) is False and "certificate" in t.error.lower()


@pytest.mark.skipif(not MICROPYTHON.exists(), reason="no micropython next to python")
@pytest.mark.parametrize("secure", [False, True], ids=["http", "https"])
def test_http_client_on_micropython(web, tls, tmp_path, secure):
    srv = web(tls.server_context if secure else None)
    srv.routes["/fw.bin"] = ("chunked" if secure else "len", IMAGE)
    args = [str(MICROPYTHON), str(ROOT / "tests_host" / "mpy" / "http_fetch.py"), srv.url("/fw.bin"),
            str(tmp_path / "fw.bin"), srv.url("/up/fw.bin")] + ([tls.ca_der] if secure else [])
    env = dict(os.environ, MICROPYPATH=".frozen:" + str(ROOT))
    p = subprocess.run(args, env=env, capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stdout + p.stderr
    assert p.stdout.splitlines() == ["GET True 200 %d None" % len(IMAGE), "PUT True 201 %d None" % len(IMAGE)]
    assert (tmp_path / "fw.bin").read_bytes() == IMAGE and srv.puts["/up/fw.bin"] == IMAGE


# end to end: the simulator against the CSMS

pytest_runtimes = pytest.mark.parametrize("runtime", simproc.RUNTIMES)


@pytest.fixture
def sims():
    started = []
    yield started
    for s in started:
        s.stop()


def statuses(csms, action="FirmwareStatusNotification"):
    return [p["status"] for p in csms.received("CP_1", action)]


def update(csms, url, **extra):
    p = dict({"location": url, "retrieveDate": utc_now()}, **extra)
    assert csms.call("CP_1", "UpdateFirmware", p) == {}


@pytest_runtimes
def test_update_firmware_and_diagnostics(runtime, csms, web, tmp_path, sims):
    srv = web()
    srv.routes["/fw.bin"] = ("len", IMAGE)
    sims.append(simproc.start(runtime, csms, tmp_path))
    sim = sims[0]
    conf = csms.call("CP_1", "GetConfiguration", {"key": ["SupportedFeatureProfiles"]})
    assert "FirmwareManagement" in conf["configurationKey"][0]["value"].split(",")
    update(csms, srv.url("/fw.bin"))
    csms.wait_action("CP_1", "FirmwareStatusNotification", count=4, timeout=20)
    assert statuses(csms) == ["Downloading", "Downloaded", "Installing", "Installed"]
    assert any("installing" in line and "%d bytes" % len(IMAGE) in line for line in sim.err), sim.err[-5:]
    if "RemoteTrigger" in conf["configurationKey"][0]["value"]:
        assert csms.call("CP_1", "TriggerMessage", {"requestedMessage": "FirmwareStatusNotification"}) == {
            "status": "Accepted"}
        csms.wait_for(lambda: statuses(csms)[-1:] == ["Idle"])
    # diagnostics: a PUT to the location with the file name appended
    res = csms.call("CP_1", "GetDiagnostics", {"location": srv.url("/logs/"), "retries": 1,
                                               "retryInterval": 1, "startTime": utc_now()})
    name = res["fileName"]
    csms.wait_action("CP_1", "DiagnosticsStatusNotification", count=2)
    assert statuses(csms, "DiagnosticsStatusNotification") == ["Uploading", "Uploaded"]
    assert srv.puts["/logs/" + name].startswith(b"mpy_ocpp diagnostics of CP_1")
    # ftp: the file name, then UploadFailed (the default upload hook speaks HTTP only)
    res = csms.call("CP_1", "GetDiagnostics", {"location": "ftp://u:p@127.0.0.1/logs/", "retries": 0})
    assert res["fileName"]
    csms.wait_action("CP_1", "DiagnosticsStatusNotification", count=4)
    assert statuses(csms, "DiagnosticsStatusNotification")[2:] == ["Uploading", "UploadFailed"]
    assert any("unsupported URL" in line for line in sim.err)
    assert csms.violations == []


@pytest_runtimes
def test_broken_download_is_retried_then_download_failed(runtime, csms, web, tmp_path, sims):
    srv = web()
    srv.routes["/drop.bin"] = ("drop", IMAGE)
    srv.routes["/500.bin"] = (500, b"")
    sims.append(simproc.start(runtime, csms, tmp_path))
    update(csms, srv.url("/drop.bin"), retries=1, retryInterval=1)
    csms.wait_action("CP_1", "FirmwareStatusNotification", count=2, timeout=20)
    assert statuses(csms) == ["Downloading", "DownloadFailed"]
    assert srv.log.count(("GET", "/drop.bin")) == 2  # the try and one retry
    update(csms, srv.url("/500.bin"), retries=2, retryInterval=1)
    csms.wait_action("CP_1", "FirmwareStatusNotification", count=4, timeout=20)
    assert statuses(csms)[2:] == ["Downloading", "DownloadFailed"]
    assert srv.log.count(("GET", "/500.bin")) == 3
    assert csms.violations == []


@pytest_runtimes
def test_install_waits_for_the_running_transaction(runtime, csms, web, tmp_path, sims):
    srv = web()
    srv.routes["/fw.bin"] = ("chunked", IMAGE)
    sims.append(simproc.start(runtime, csms, tmp_path))
    sim = sims[0]
    csms.wait_action("CP_1", "StatusNotification", count=3)  # booted
    sim.cmd("plug 1", "tag 1 CARD")
    csms.wait_action("CP_1", "StartTransaction")
    update(csms, srv.url("/fw.bin"))
    csms.wait_action("CP_1", "FirmwareStatusNotification", count=2, timeout=20)
    hb = csms.mark()
    assert csms.call("CP_1", "TriggerMessage", {"requestedMessage": "Heartbeat"}) == {"status": "Accepted"}
    csms.wait_action("CP_1", "Heartbeat", since=hb)  # the charger has looked around a while
    assert statuses(csms) == ["Downloading", "Downloaded"]  # not while charging
    sim.cmd("tag 1 CARD")
    csms.wait_action("CP_1", "FirmwareStatusNotification", count=4, timeout=20)
    assert statuses(csms) == ["Downloading", "Downloaded", "Installing", "Installed"]
    order = [(r.action, r.payload.get("status")) for r in csms.calls if r.cp_id == "CP_1"]
    assert order.index(("StopTransaction", None)) < order.index(("FirmwareStatusNotification", "Installing"))
    assert csms.violations == []


@pytest_runtimes
def test_https_download_over_a_wss_link(runtime, csms_factory, web, tls, tmp_path, sims):
    csms = csms_factory(ssl_context=tls.server_context)
    srv = web(tls.server_context)
    srv.routes["/fw.bin"] = ("len", IMAGE)
    # no CA given to the firmware state: it trusts what the wss:// link trusts
    sims.append(simproc.start(runtime, csms, tmp_path, ca=tls.ca_der))
    update(csms, srv.url("/fw.bin"))
    csms.wait_action("CP_1", "FirmwareStatusNotification", count=4, timeout=20)
    assert statuses(csms) == ["Downloading", "Downloaded", "Installing", "Installed"]
    res = csms.call("CP_1", "GetDiagnostics", {"location": srv.url("/logs/")})
    csms.wait_action("CP_1", "DiagnosticsStatusNotification", count=2)
    assert statuses(csms, "DiagnosticsStatusNotification") == ["Uploading", "Uploaded"]
    assert ("PUT", "/logs/" + res["fileName"]) in srv.log
    assert csms.violations == []
