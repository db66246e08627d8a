"""The OCPP 1.6 Security extension (whitepaper edition 3), as far as it is built: certificate
management on the store OCPP 2.0.1 uses. tools/sim.py against tools/csms.py over a real
WebSocket, on CPython and on the MicroPython unix port; the CSMS checks every frame against
the Security extension's schemas shipped with the `ocpp` package. The hash data is checked
against `cryptography`'s OCSP CertID."""
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
    for what in ("FirmwareStatusNotification", "SignChargePointCertificate"):
        assert trig(what) == {"status": "NotImplemented"}  # signed firmware, SignCertificate: to come
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
