"""mpy_ocpp.ws on the MicroPython unix port (tests_host/mpy/ws_client.py) against servers
started here: echo, fragments, max_size, ping, reconnect, wss with a DER or PEM CA, client
certificates (DER), Basic auth, and zero allocation while idle (online and in backoff)."""
import json
import socket
import ssl
import sys
from pathlib import Path

import pytest
import trustme

from wsserver import EchoServer, frame, handshake, raw, run_script

MICROPYTHON = Path(sys.executable).parent / "micropython"
SCRIPT = Path(__file__).resolve().parent / "mpy" / "ws_client.py"

pytestmark = pytest.mark.skipif(not MICROPYTHON.exists(), reason="no micropython next to python")


def mpy(*args):
    return run_script(MICROPYTHON, SCRIPT, *args)


@pytest.fixture(scope="module")
def other_ca(tmp_path_factory):
    path = tmp_path_factory.mktemp("other") / "other.der"
    path.write_bytes(ssl.PEM_cert_to_DER_cert(trustme.CA().cert_pem.bytes().decode()))
    return path


def test_ws_basic(loop):
    srv = EchoServer(loop)
    try:
        mpy("basic", srv.url)
        assert srv.connections == 2  # the server closed once, the client came back
    finally:
        srv.stop()


# `tls` (conftest.py): a test CA, server and client certificates, server contexts


def test_wss(loop, tls, other_ca):
    srv = EchoServer(loop, ssl=tls.server_context)
    try:
        mpy("tls", srv.url, tls.ca_der)
        mpy("tls", srv.url, tls.ca_pem)  # converted to DER by ws.py
        out = mpy("badca", srv.url, other_ca)
        assert "not correctly signed" in out
        mpy("noverify", srv.url)
    finally:
        srv.stop()


def test_wss_frames_in_one_record(loop, tls):
    async def script(reader, writer, got):
        await handshake(reader, writer)
        writer.write(frame(1, b"one") + frame(1, b"two") + frame(1, b"three"))
        await reader.read()

    srv, _ = raw(loop, script, ssl=tls.server_context)
    try:
        mpy("burst", srv.url, tls.ca_der)
    finally:
        srv.stop()


def test_wss_client_certificate(loop, tls):
    srv = EchoServer(loop, ssl=tls.mtls_context)
    try:
        mpy("mtls", srv.url, tls.ca_der, tls.client_cert_der, tls.client_key_der)
    finally:
        srv.stop()


def test_basic_auth(loop):
    srv = EchoServer(loop, auth=("CP_1", "s3cret"))
    try:
        mpy("auth", srv.url)
        assert srv.headers["Authorization"].startswith("Basic ")
        mpy("badauth", srv.url)
    finally:
        srv.stop()


def test_subprotocol_negotiation(loop):
    for server, offer, expect in ((["ocpp1.6"], "ocpp2.0.1,ocpp1.6", "ocpp1.6"),
                                  (["ocpp2.0.1"], "ocpp2.0.1,ocpp1.6", "ocpp2.0.1"),
                                  (["ocpp2.1"], "ocpp2.0.1,ocpp1.6", "!HTTP 400")):
        srv = EchoServer(loop, subprotocols=server)
        try:
            mpy("negotiate", srv.url, offer, expect)
        finally:
            srv.stop()

    async def script(reader, writer, got):  # a server that picks what nobody offered
        await handshake(reader, writer, protocol="ocpp2.1")
        await reader.read()

    srv, _ = raw(loop, script)
    try:
        mpy("negotiate", srv.url, "ocpp2.0.1,ocpp1.6", "!subprotocol ocpp2.1 chosen by the server, not offered")
    finally:
        srv.stop()


def test_offline_backoff_allocates_nothing():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))  # a port nobody listens on
    port = s.getsockname()[1]
    try:
        mpy("offline", "ws://127.0.0.1:%d/ocpp/CP_1" % port)
    finally:
        s.close()


def test_utf8_check_agrees_with_cpython(tmp_path):
    from test_ws import utf8_cases

    path = tmp_path / "utf8.json"
    path.write_text(json.dumps([[b.hex(), ok] for b, ok in utf8_cases()]))
    assert "cases" in mpy("utf8", path)
