"""Shared fixtures: a local CSMS per test, and a test PKI for wss://."""

import ssl
from types import SimpleNamespace

import pytest
import trustme
from cryptography.hazmat.primitives import serialization

from tests_host import simproc
from tools.csms import CSMS

CLIENT_CN = "CP_1"  # the client certificate's CN (Security Profile 3: the charge box id)


@pytest.fixture
def csms_factory():
    """make(**CSMS kwargs) -> a started CSMS, stopped after the test."""
    started = []

    def make(**kwargs):
        csms = CSMS(**kwargs).start()
        started.append(csms)
        return csms

    yield make
    for csms in started:
        csms.stop()


@pytest.fixture
def csms(csms_factory):
    """A plain ws:// CSMS without auth on a free port: csms.url_for("CP_1")."""
    return csms_factory()


def _write(path, data):
    path.write_bytes(data)
    return str(path)


def _key_der(pem):
    key = serialization.load_pem_private_key(pem, password=None)
    return key.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


@pytest.fixture(scope="session")
def tls(tmp_path_factory):
    """A trustme CA (ECDSA), a server certificate for localhost/127.0.0.1 and
    a client certificate with CN=CP_1, as PEM and DER files (paths are str),
    plus ready SSL contexts:
      server_context  server side, no client certificate
      mtls_context    server side, requires a client certificate from the CA
      client_context  CPython client side, trusts the CA
    """
    d = tmp_path_factory.mktemp("pki")
    ca = trustme.CA()
    server = ca.issue_cert("localhost", "127.0.0.1")
    client = ca.issue_cert(common_name=CLIENT_CN)
    ca_pem = ca.cert_pem.bytes()
    cert_pem = server.cert_chain_pems[0].bytes()
    key_pem = server.private_key_pem.bytes()
    ccert_pem = client.cert_chain_pems[0].bytes()
    ckey_pem = client.private_key_pem.bytes()
    t = SimpleNamespace(
        dir=d, ca=ca, client_cn=CLIENT_CN,
        ca_pem=_write(d / "ca.pem", ca_pem),
        ca_der=_write(d / "ca.der", ssl.PEM_cert_to_DER_cert(ca_pem.decode())),
        cert_pem=_write(d / "cert.pem", cert_pem),
        cert_der=_write(d / "cert.der", ssl.PEM_cert_to_DER_cert(cert_pem.decode())),
        key_pem=_write(d / "key.pem", key_pem),
        key_der=_write(d / "key.der", _key_der(key_pem)),
        client_cert_pem=_write(d / "client_cert.pem", ccert_pem),
        client_cert_der=_write(d / "client_cert.der", ssl.PEM_cert_to_DER_cert(ccert_pem.decode())),
        client_key_pem=_write(d / "client_key.pem", ckey_pem),
        client_key_der=_write(d / "client_key.der", _key_der(ckey_pem)),
    )
    t.server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server.configure_cert(t.server_context)
    t.mtls_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server.configure_cert(t.mtls_context)
    ca.configure_trust(t.mtls_context)
    t.mtls_context.verify_mode = ssl.CERT_REQUIRED
    t.client_context = ssl.create_default_context(ssl.Purpose.SERVER_AUTH)
    ca.configure_trust(t.client_context)
    return t


@pytest.fixture
def sims(csms, tmp_path):
    """start(runtime, server=csms, boot=True, booted=False, **sim options): tools/sim.py as a
    child process, stopped after the test. `boot`: wait for its BootNotification; `booted`:
    wait until its first three StatusNotifications are in."""
    started = []

    def start(runtime, server=None, booted=False, **kw):
        server = server or csms
        mark = server.mark()
        sim = simproc.start(runtime, server, tmp_path, **kw)
        started.append(sim)
        if booted:
            server.wait_action("CP_1", "StatusNotification", count=3, since=mark, timeout=15)
        return sim
    yield start
    for s in started:
        s.stop()


@pytest.fixture(scope="module")
def loop():
    """An asyncio loop on a background thread for the transport's test peers (wsserver.py)."""
    from wsserver import Loop
    lp = Loop()
    yield lp
    lp.stop()


@pytest.fixture
def run(sims):
    """run(runtime, **sim options): a simulator whose first StatusNotifications are in."""
    return lambda runtime, **kw: sims(runtime, booted=True, boot=False, **kw)
