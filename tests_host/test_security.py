"""The OCPP 1.6 Security extension (whitepaper edition 3): certificate management on the store
OCPP 2.0.1 uses, security events and the security log, GetLog, the charge point certificate,
signed firmware, security profiles by key. tools/sim.py against tools/csms.py over a real
WebSocket, on CPython and on the MicroPython unix port; the CSMS checks every frame against
the Security extension's schemas shipped with the `ocpp` package. The hash data is checked
against `cryptography`'s OCSP CertID."""
import time

import pytest

from tests_host import simproc
from tests_host.test_firmware_management import web  # noqa: F401 (a fixture)
from tests_host.test_ocpp201_e2e import _cert_id, _root

pytestmark = pytest.mark.parametrize("runtime", simproc.RUNTIMES)


def test_certificates_in_1_6_and_then_in_2_0_1(runtime, csms_factory, sims):
    import trustme
    csms = csms_factory(versions=("ocpp1.6",))  # 2.0.1 too, later
    sim = sims(runtime, server=csms, booted=True, ocpp="2.0.1,1.6")
    assert sim.status()["ocpp"] == "1.6"
    call = lambda a, p: csms.call("CP_1", a, p)  # noqa: E731
    conf = call("GetConfiguration", {"key": ["CertificateStoreMaxLength", "AdditionalRootCertificateCheck"]})
    assert {k["key"]: (k["value"], k["readonly"]) for k in conf["configurationKey"]} == {
        "CertificateStoreMaxLength": ("8", True), "AdditionalRootCertificateCheck": ("false", True)}
    ca = trustme.CA()
    csms_root, maker_root = ca.cert_pem.bytes(), _root(0x0384DB91A06C)  # a leading zero nibble
    leaf = ca.issue_cert("cs.example").cert_chain_pems[0].bytes()
    kinds = ("CentralSystemRootCertificate", "ManufacturerRootCertificate")
    for kind in kinds:
        assert call("GetInstalledCertificateIds", {"certificateType": kind}) == {"status": "NotFound"}
    for kind, pem in zip(kinds, (csms_root, maker_root)):
        assert call("InstallCertificate", {"certificateType": kind, "certificate": pem.decode()}) == {
            "status": "Accepted"}
    for bad in ("not a certificate", leaf.decode()):  # a leaf is no root
        assert call("InstallCertificate", {"certificateType": kinds[0], "certificate": bad}) == {
            "status": "Rejected"}
    for kind, pem in zip(kinds, (csms_root, maker_root)):
        assert call("GetInstalledCertificateIds", {"certificateType": kind}) == {
            "status": "Accepted", "certificateHashData": [_cert_id(pem)]}
    # the only Central System root stays (TLS would trust nothing); the other one goes
    assert call("DeleteCertificate", {"certificateHashData": _cert_id(csms_root)}) == {"status": "Failed"}
    assert call("DeleteCertificate", {"certificateHashData": _cert_id(maker_root)}) == {"status": "Accepted"}
    assert call("DeleteCertificate", {"certificateHashData": _cert_id(maker_root)}) == {"status": "NotFound"}
    assert csms.violations == []
    # the same store under 2.0.1: the root installed in 1.6 is its CSMSRootCertificate
    csms.versions = ("ocpp1.6", "ocpp2.0.1")
    csms.disconnect("CP_1")  # the next handshake gets 2.0.1, the charge point's first choice
    sim.wait_status(lambda s: s["ocpp"] == "2.0.1" and s["online"], timeout=20)
    assert call("GetInstalledCertificateIds", {}) == {"status": "Accepted", "certificateHashDataChain": [
        {"certificateType": "CSMSRootCertificate", "certificateHashData": _cert_id(csms_root)}]}
    assert csms.violations == []


def events(csms, since=0):
    return [p["type"] for p in csms.received("CP_1", "SecurityEventNotification", since)]


def test_security_events_critical_ones_survive_a_restart(runtime, csms_factory, sims):
    csms = csms_factory(versions=("ocpp1.6",))
    sim = sims(runtime, server=csms, booted=True, ocpp="1.6")
    csms.wait_for(lambda: events(csms) == ["StartupOfTheDevice"])  # the clock was right already
    csms.current_time = "2031-01-01T00:00:00Z"  # the CSMS moves it: the next Heartbeat sets it
    assert csms.call("CP_1", "TriggerMessage", {"requestedMessage": "Heartbeat"}) == {"status": "Accepted"}
    csms.wait_for(lambda: "SettingSystemTime" in events(csms))
    assert csms.received("CP_1", "SecurityEventNotification")[-1]["techInfo"] == "2031-01-01T00:00:00Z"
    csms.send_raw("CP_1", '[2, "bad-1", "Reset", {"type": ')  # cut short: not JSON
    csms.wait_for(lambda: "InvalidMessages" in events(csms))
    assert csms.call("CP_1", "ChangeConfiguration", {"key": "AuthorizationKey",
                                                     "value": "0123456789abcdef0123"}) == {"status": "Accepted"}
    csms.wait_for(lambda: "ReconfigurationOfSecurityParameters" in events(csms))
    # a critical event while the CSMS is away, then the charger restarts: it comes once, first
    port = csms.port
    csms.stop()
    sim.wait_status(lambda s: not s["online"])
    sim.cmd("event TamperDetectionActivated", "event InvalidFirmwareSignature", "wait 0.3")
    sim.status()
    sim.stop()
    mark = csms.mark()
    csms.start(port=port)
    sim = sims(runtime, server=csms, booted=True, ocpp="1.6")
    csms.wait_for(lambda: events(csms, mark)[:3] == ["TamperDetectionActivated", "StartupOfTheDevice",
                                                     "SettingSystemTime"], timeout=20)
    sim.cmd("wait 0.5")
    assert events(csms).count("TamperDetectionActivated") == 1
    assert "InvalidFirmwareSignature" not in events(csms)  # not critical: it went with the process
    assert csms.violations == []


def test_an_installed_central_system_root_is_trusted(runtime, csms_factory, sims, tls, tmp_path):
    # the CSMS moves to a server certificate of another CA: it installs that CA's root first,
    # and the charge point, given only the old CA, connects to the new server
    import ssl
    import trustme
    new_ca = trustme.CA()
    new_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    new_ca.issue_cert("localhost", "127.0.0.1").configure_cert(new_ctx)
    csms = csms_factory(versions=("ocpp1.6",), ssl_context=tls.server_context)
    sim = sims(runtime, server=csms, booted=True, ocpp="1.6", ca=tls.ca_der)
    port = csms.port
    csms.stop()
    csms.ssl_context = new_ctx  # not trusted yet: refused
    mark = csms.mark()
    csms.start(port=port)
    sim.cmd("wait 3")
    assert not sim.status(timeout=10)["online"] and csms.received("CP_1", since=mark) == []
    csms.stop()
    csms.ssl_context = tls.server_context
    csms.start(port=port)
    sim.wait_status(lambda s: s["online"], timeout=30)
    assert csms.call("CP_1", "InstallCertificate", {"certificateType": "CentralSystemRootCertificate",
                                                    "certificate": new_ca.cert_pem.bytes().decode()}) == {
        "status": "Accepted"}
    csms.stop()
    csms.ssl_context = new_ctx
    mark = csms.mark()
    csms.start(port=port)
    csms.wait_for(lambda: csms.received("CP_1", "Heartbeat", since=mark) or csms.connected("CP_1"), timeout=30)
    sim.wait_status(lambda s: s["online"], timeout=10)
    assert csms.violations == []


def test_extended_trigger_message(runtime, csms_factory, sims):
    csms = csms_factory(versions=("ocpp1.6",))
    sims(runtime, server=csms, booted=True, ocpp="1.6")
    trig = lambda what, **p: csms.call("CP_1", "ExtendedTriggerMessage", dict(p, requestedMessage=what))  # noqa: E731
    mark = csms.mark()
    assert trig("Heartbeat") == {"status": "Accepted"}
    assert trig("StatusNotification", connectorId=2) == {"status": "Accepted"}
    csms.wait_action("CP_1", "Heartbeat", since=mark)
    csms.wait_action("CP_1", "StatusNotification", since=mark, where=lambda p: p["connectorId"] == 2)
    assert trig("StatusNotification", connectorId=7) == {"status": "Rejected"}  # no such connector
    assert trig("SignChargePointCertificate") == {"status": "Rejected"}  # no CSR hook: no key pairs
    assert csms.violations == []


def test_a_flood_of_invalid_frames_is_a_few_security_events(runtime, csms_factory, sims):
    # a hostile peer's garbage must not crowd the queue: one InvalidMessages waits at a time
    csms = csms_factory(versions=("ocpp1.6",))
    sim = sims(runtime, server=csms, booted=True, ocpp="1.6")
    csms.wait_for(lambda: events(csms) == ["StartupOfTheDevice"])
    for i in range(40):
        csms.send_raw("CP_1", "not a frame %d" % i)
    sim.cmd("plug 1", "tag 1 CARD")
    csms.wait_action("CP_1", "StartTransaction")
    sim.cmd("wait 0.5")
    sim.status()
    assert 1 <= events(csms).count("InvalidMessages") <= 3, events(csms)
    assert csms.violations == []


def test_get_log_uploads_the_security_log_and_the_diagnostics(runtime, csms_factory, sims, web, tmp_path):
    srv = web()
    csms = csms_factory(versions=("ocpp1.6",))
    sim = sims(runtime, server=csms, booted=True, ocpp="1.6")
    csms.wait_for(lambda: events(csms) == ["StartupOfTheDevice"])
    sim.cmd("event TamperDetectionActivated")
    csms.wait_for(lambda: "TamperDetectionActivated" in events(csms))
    logs = lambda: csms.received("CP_1", "LogStatusNotification")  # noqa: E731
    assert csms.call("CP_1", "ExtendedTriggerMessage", {"requestedMessage": "LogStatusNotification"}) == {
        "status": "Accepted"}
    csms.wait_for(lambda: logs() == [{"status": "Idle"}])

    def get_log(kind, rid, url, **extra):
        return csms.call("CP_1", "GetLog", dict(
            {"logType": kind, "requestId": rid, "log": dict({"remoteLocation": url}, **extra.pop("log", {}))},
            **extra))

    res = get_log("SecurityLog", 7, srv.url("/logs/"))
    assert res["status"] == "Accepted" and "_security_" in res["filename"]
    csms.wait_for(lambda: logs()[1:] == [{"status": "Uploading", "requestId": 7},
                                         {"status": "Uploaded", "requestId": 7}])
    body = srv.puts["/logs/" + res["filename"]].decode()
    assert [line.split(" ")[1] for line in body.splitlines()] == ["StartupOfTheDevice", "TamperDetectionActivated"]
    # a window that ends before the events: an empty log
    res = get_log("SecurityLog", 8, srv.url("/logs/"), log={"latestTimestamp": "2020-01-01T00:00:00Z"})
    csms.wait_for(lambda: logs()[-1:] == [{"status": "Uploaded", "requestId": 8}])
    assert srv.puts["/logs/" + res["filename"]] == b""
    res = get_log("DiagnosticsLog", 9, srv.url("/logs/"))
    csms.wait_for(lambda: logs()[-1:] == [{"status": "Uploaded", "requestId": 9}])
    assert srv.puts["/logs/" + res["filename"]].startswith(b"mpy_ocpp diagnostics of CP_1")
    # a long log: the older part moves to seclog.old; a damaged line is uploaded as it is
    state = tmp_path / "state-CP_1"
    kinds = ["Flood%03d%s" % (i, "x" * 40) for i in range(90)]
    sim.cmd(*["event " + k for k in kinds])
    csms.wait_for(lambda: kinds[-1] in events(csms), timeout=20)
    assert 4096 < (state / "seclog.old").stat().st_size < 4200
    assert (state / "seclog.txt").stat().st_size < 4096
    res = get_log("SecurityLog", 12, srv.url("/logs/"))
    csms.wait_for(lambda: logs()[-1:] == [{"status": "Uploaded", "requestId": 12}])
    body = srv.puts["/logs/" + res["filename"]].decode()
    assert all(k in body for k in kinds)
    (state / "seclog.old").write_bytes(b"\xff\xfe garbage\n")
    res = get_log("SecurityLog", 13, srv.url("/logs/"), log={"oldestTimestamp": "2020-01-01T00:00:00Z"})
    csms.wait_for(lambda: logs()[-1:] == [{"status": "Uploaded", "requestId": 13}])
    assert srv.puts["/logs/" + res["filename"]].startswith(b"\xff\xfe garbage\n")
    # one upload at a time: a new request cancels the one that waits for its next try
    assert get_log("SecurityLog", 10, "ftp://127.0.0.1/logs/", retries=3, retryInterval=300)["status"] == "Accepted"
    csms.wait_for(lambda: logs()[-1:] == [{"status": "Uploading", "requestId": 10}])
    assert get_log("SecurityLog", 11, srv.url("/logs/"))["status"] == "AcceptedCanceled"
    csms.wait_for(lambda: logs()[-1:] == [{"status": "Uploaded", "requestId": 11}])
    assert csms.call("CP_1", "GetDiagnostics", {"location": srv.url("/d/")})["fileName"]  # GetDiagnostics still its own
    csms.wait_action("CP_1", "DiagnosticsStatusNotification", count=2)
    assert sorted(p.name for p in state.iterdir() if p.name.endswith(".txt")) == ["seclog.txt"]  # no upload left
    assert csms.violations == []


def _pki(tmp_path, kind="RSA"):
    """A CA (RSA: its signatures are checked on the device without a hook), a server certificate,
    the charge point's first client certificate, and a new key with its CSR (CN=CP_1)."""
    import ssl

    import trustme
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    ca = trustme.CA(key_type=getattr(trustme.KeyType, kind))
    server, client = ca.issue_cert("127.0.0.1", "localhost"), ca.issue_cert(common_name="CP_1")
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server.configure_cert(ctx)
    ca.configure_trust(ctx)
    ctx.verify_mode = ssl.CERT_REQUIRED
    key = ec.generate_private_key(ec.SECP256R1())
    csr = x509.CertificateSigningRequestBuilder().subject_name(
        x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "CP_1")])).sign(key, hashes.SHA256())

    def write(name, data):
        (tmp_path / name).write_bytes(data)
        return str(tmp_path / name)
    der = lambda pem: ssl.PEM_cert_to_DER_cert(pem.decode())  # noqa: E731
    pk = lambda k, enc: k.private_bytes(enc, serialization.PrivateFormat.PKCS8,  # noqa: E731
                                        serialization.NoEncryption())
    ckey = serialization.load_pem_private_key(client.private_key_pem.bytes(), None)
    files = {"ca": (ca.cert_pem.bytes(), der(ca.cert_pem.bytes())),
             "cert": (client.cert_chain_pems[0].bytes(), der(client.cert_chain_pems[0].bytes())),
             "key": (pk(ckey, serialization.Encoding.PEM), pk(ckey, serialization.Encoding.DER)),
             "csr_key": (pk(key, serialization.Encoding.PEM), pk(key, serialization.Encoding.DER))}
    paths = {"cpython": {}, "micropython": {}}
    for k, (pem, d) in files.items():
        paths["cpython"][k] = write(k + ".pem", pem)
        paths["micropython"][k] = write(k + ".der", d)
    for p in paths.values():
        p["csr"] = write("csr.pem", csr.public_bytes(serialization.Encoding.PEM))
    return ca, ctx, paths


def _sign(ca, csr_pem, days=30, public_key=None, signer=None):
    """The CSMS's side: a certificate for the CSR issued by `ca` (valid until `days` from now;
    for `public_key` instead of the CSR's; signed by `signer` instead of the CA's key)."""
    import datetime

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization

    csr = x509.load_pem_x509_csr(csr_pem.encode())
    issuer = x509.load_pem_x509_certificate(ca.cert_pem.bytes())
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(csr.subject).issuer_name(issuer.subject)
            .public_key(public_key or csr.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(days=10))
            .not_valid_after(now + datetime.timedelta(days=days))
            .sign(signer or serialization.load_pem_private_key(ca.private_key_pem.bytes(), None), hashes.SHA256()))
    return cert.public_bytes(serialization.Encoding.PEM).decode(), cert.serial_number


def test_the_charge_point_certificate_is_renewed(runtime, csms_factory, sims, tmp_path):
    import trustme
    from cryptography.hazmat.primitives.asymmetric import rsa

    ca, ctx, paths = _pki(tmp_path)
    csms = csms_factory(versions=("ocpp1.6",), ssl_context=ctx)
    sims(runtime, server=csms, booted=True, ocpp="1.6", **paths[runtime])
    call = lambda a, p: csms.call("CP_1", a, p)  # noqa: E731
    signed = lambda pem: call("CertificateSigned", {"certificateChain": pem})  # noqa: E731
    assert csms.handshakes[-1]["client_cn"] == "CP_1"
    first = csms.handshakes[-1]["client_serial"]
    assert signed(_sign(ca, open(paths[runtime]["csr"]).read())[0]) == {"status": "Rejected"}  # nothing asked
    assert call("InstallCertificate", {"certificateType": "CentralSystemRootCertificate",
                                       "certificate": ca.cert_pem.bytes().decode()}) == {"status": "Accepted"}
    assert call("ExtendedTriggerMessage", {"requestedMessage": "SignChargePointCertificate"}) == {
        "status": "Accepted"}
    csms.wait_action("CP_1", "SignCertificate")
    csr = csms.received("CP_1", "SignCertificate")[-1]["csr"]
    assert csr == open(paths[runtime]["csr"]).read()
    other = trustme.CA(key_type=trustme.KeyType.RSA)  # a CA the charge point does not know
    wrong = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    good, serial = _sign(ca, csr)
    for bad in (_sign(other, csr)[0], _sign(ca, csr, public_key=wrong.public_key())[0],
                _sign(ca, csr, signer=wrong)[0],  # the CA's name, another key's signature
                _sign(ca, csr, days=-2)[0],  # expired
                "no PEM at all", good.replace("CERTIFICATE", "CERTIFICATE REQUEST")):
        assert signed(bad) == {"status": "Rejected"}, bad[:80]
    why = lambda: [p.get("techInfo") for p in csms.received("CP_1", "SecurityEventNotification")  # noqa: E731
                   if p["type"] == "InvalidChargePointCertificate"]
    csms.wait_for(lambda: len(why()) == 7)  # with the one before anything was asked
    assert set(why()) == {"no signing request", "not signed by an installed CSMSRootCertificate",
                          "not the key of the signing request", "certificate 0 expired or not valid yet"}
    assert csms.connect_count("CP_1") == 1
    assert signed(good + ca.cert_pem.bytes().decode()) == {"status": "Accepted"}  # leaf + root
    csms.wait_for(lambda: csms.connect_count("CP_1") == 2, timeout=15, what="a reconnect with it")
    hs = [h for h in csms.handshakes if h["accepted"]]
    assert int(hs[-1]["client_serial"], 16) == serial != int(first, 16)
    assert signed(good) == {"status": "Rejected"}  # once only: the request is used up
    assert csms.violations == []


def test_an_ecdsa_chain_needs_a_verify_hook(runtime, csms_factory, sims, tmp_path):
    ca, ctx, paths = _pki(tmp_path, "ECDSA")
    csms = csms_factory(versions=("ocpp1.6",), ssl_context=ctx)
    sims(runtime, server=csms, booted=True, ocpp="1.6", **paths[runtime])
    assert csms.call("CP_1", "InstallCertificate", {"certificateType": "CentralSystemRootCertificate",
                                                    "certificate": ca.cert_pem.bytes().decode()}) == {"status": "Accepted"}
    csms.call("CP_1", "ExtendedTriggerMessage", {"requestedMessage": "SignChargePointCertificate"})
    csms.wait_action("CP_1", "SignCertificate")
    chain, _ = _sign(ca, csms.received("CP_1", "SignCertificate")[-1]["csr"])
    # CPython: the simulator's hook (the `cryptography` package) checks it; MicroPython has none
    want = "Accepted" if runtime == "cpython" else "Rejected"
    assert csms.call("CP_1", "CertificateSigned", {"certificateChain": chain}) == {"status": want}
    assert csms.violations == []


def test_signed_update_firmware(runtime, csms_factory, sims, web):
    import base64
    import os

    import trustme
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import padding

    srv = web()
    image = os.urandom(20000) + b"end"
    srv.routes["/fw.bin"] = ("len", image)
    csms = csms_factory(versions=("ocpp1.6",))
    sim = sims(runtime, server=csms, booted=True, ocpp="1.6")
    maker = trustme.CA(key_type=trustme.KeyType.RSA)
    signer = maker.issue_cert(common_name="firmware signing", key_type=trustme.KeyType.RSA)
    key = serialization.load_pem_private_key(signer.private_key_pem.bytes(), None)
    sign = lambda data: base64.b64encode(key.sign(data, padding.PKCS1v15(), hashes.SHA256())).decode()  # noqa: E731
    signed = lambda: csms.received("CP_1", "SignedFirmwareStatusNotification")  # noqa: E731
    kinds = lambda: [p["type"] for p in csms.received("CP_1", "SecurityEventNotification")]  # noqa: E731

    def update(rid, signature):
        return csms.call("CP_1", "SignedUpdateFirmware", {"requestId": rid, "retries": 0, "firmware": {
            "location": srv.url("/fw.bin"), "retrieveDateTime": "2020-01-01T00:00:00Z",
            "signingCertificate": signer.cert_chain_pems[0].bytes().decode(), "signature": signature}})

    assert update(1, sign(image)) == {"status": "InvalidCertificate"}  # no manufacturer root yet
    csms.wait_for(lambda: "InvalidFirmwareSigningCertificate" in kinds())
    assert csms.call("CP_1", "InstallCertificate", {"certificateType": "ManufacturerRootCertificate",
                                                    "certificate": maker.cert_pem.bytes().decode()}) == {"status": "Accepted"}
    assert update(2, sign(image + b"x")) == {"status": "Accepted"}  # a signature of another image
    csms.wait_for(lambda: signed()[-1:] == [{"status": "InvalidSignature", "requestId": 2}], timeout=20)
    assert [p["status"] for p in signed()] == ["Downloading", "Downloaded", "InvalidSignature"]
    csms.wait_for(lambda: "InvalidFirmwareSignature" in kinds())
    assert not any("installing" in line for line in sim.err)
    assert update(3, sign(image)) == {"status": "Accepted"}
    csms.wait_for(lambda: signed()[-1:] == [{"status": "Installed", "requestId": 3}], timeout=20)
    assert [p["status"] for p in signed()[3:]] == ["Downloading", "Downloaded", "SignatureVerified",
                                                   "Installing", "Installed"]
    assert any("installing" in line and "%d bytes" % len(image) in line for line in sim.err)
    csms.wait_for(lambda: "FirmwareUpdated" in kinds())
    assert csms.call("CP_1", "ExtendedTriggerMessage", {"requestedMessage": "FirmwareStatusNotification"}) == {
        "status": "Accepted"}
    csms.wait_for(lambda: signed()[-1:] == [{"status": "Idle"}])
    assert csms.received("CP_1", "FirmwareStatusNotification") == []  # all of it went signed
    assert csms.violations == []


def test_security_profile_only_rises_and_falls_back(runtime, csms_factory, sims, tls):
    key = "profile-key-0123456789"
    plain = csms_factory(versions=("ocpp1.6",), auth={"CP_1": key})
    secure = csms_factory(versions=("ocpp1.6",), auth={"CP_X": key}, ssl_context=tls.server_context)
    ca = tls.ca_pem if runtime == "cpython" else tls.ca_der
    opts = dict(ocpp="1.6", auth_key=key, wss_url=secure.url, ca=ca, trial=3)
    sim = sims(runtime, server=plain, booted=True, **opts)
    profile = lambda c: c.call("CP_1", "GetConfiguration", {"key": ["SecurityProfile"]})[  # noqa: E731
        "configurationKey"][0]["value"]
    change = lambda c, v: c.call("CP_1", "ChangeConfiguration", {"key": "SecurityProfile", "value": v})["status"]  # noqa: E731
    why = lambda c: [p.get("techInfo") for p in c.received("CP_1", "SecurityEventNotification")  # noqa: E731
                     if p["type"] == "ReconfigurationOfSecurityParameters"]
    assert profile(plain) == "1"
    for v in ("0", "3", "4", "x"):  # lower; no client certificate here; no such profile
        assert change(plain, v) == "Rejected", v
    # the secure CSMS refuses it (HTTP 401): 3 s later it is back where it was
    assert change(plain, "2") == "Accepted"
    plain.wait_for(lambda: plain.connect_count("CP_1") == 2, timeout=20, what="back on the plain CSMS")
    plain.wait_for(lambda: why(plain) == ["SecurityProfile 2 did not connect: back to 1"])
    plain.wait_for(lambda: "FailedToAuthenticateAtCentralSystem" in events(plain))  # the 401, once there
    assert profile(plain) == "1" and secure.handshakes and not secure.connected("CP_1")
    secure.auth = {"CP_1": key}
    assert change(plain, "2") == "Accepted"
    secure.wait_for(lambda: secure.connected("CP_1"), timeout=20, what="on the secure CSMS")
    secure.wait_for(lambda: why(secure) == ["SecurityProfile 2"])
    assert profile(secure) == "2" and change(secure, "1") == "Rejected"
    assert secure.handshakes[-1]["password"] == key.encode()  # Basic auth over TLS
    # a reboot: the link the firmware gives is plain; the stored profile takes it to TLS again
    sim.stop()
    n = secure.connect_count("CP_1")
    sims(runtime, server=plain, **opts)
    secure.wait_for(lambda: secure.connect_count("CP_1") == n + 1, timeout=20, what="TLS after the reboot")
    assert profile(secure) == "2"
    assert plain.violations == [] and secure.violations == []


def test_a_csms_certificate_that_fails_verification_is_a_security_event(runtime, csms_factory, sims, tls):
    import ssl

    import trustme
    key = "profile-key-0123456789"
    other = trustme.CA()  # the TLS CSMS's certificate is not from the CA the charge point has
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    other.issue_cert("127.0.0.1", "localhost").configure_cert(ctx)
    plain = csms_factory(versions=("ocpp1.6",), auth={"CP_1": key})
    bad = csms_factory(versions=("ocpp1.6",), auth={"CP_1": key}, ssl_context=ctx)
    ca = tls.ca_pem if runtime == "cpython" else tls.ca_der
    sims(runtime, server=plain, booted=True, ocpp="1.6", auth_key=key, wss_url=bad.url, ca=ca, trial=3)
    assert plain.call("CP_1", "ChangeConfiguration", {"key": "SecurityProfile", "value": "2"})["status"] == "Accepted"
    plain.wait_for(lambda: "InvalidCentralSystemCertificate" in events(plain), timeout=20)
    (info,) = [p.get("techInfo", "") for p in plain.received("CP_1", "SecurityEventNotification")
               if p["type"] == "InvalidCentralSystemCertificate"]
    assert ("VERIFY_FAILED" in info or info.startswith("The certificate")) and not bad.connected("CP_1")
    assert plain.violations == []


def test_profile_3_a_client_certificate_the_csms_does_not_trust_is_refused(runtime, csms_factory, sims, tmp_path):
    ca, ctx, paths = _pki(tmp_path)  # the CSMS trusts `ca`'s client certificates only
    csms = csms_factory(versions=("ocpp1.6",), ssl_context=ctx)
    (tmp_path / "other").mkdir()
    _, _, theirs = _pki(tmp_path / "other")  # a client certificate of another CA
    sim = sims(runtime, server=csms, boot=False, ocpp="1.6", ca=paths[runtime]["ca"],
               cert=theirs[runtime]["cert"], key=theirs[runtime]["key"])
    time.sleep(2)  # a few tries
    assert not csms.connected("CP_1") and csms.handshakes == []  # refused inside TLS, before HTTP
    assert sim.proc.poll() is None and sim.status()["online"] is False
