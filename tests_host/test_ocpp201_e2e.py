"""OCPP 2.0.1 end to end, so far: version negotiation, provisioning (B01-B03), status (G01),
heartbeat (G02) and DataTransfer (P02), tools/sim.py against tools/csms.py speaking 2.0.1 over
a real WebSocket, on CPython and on the MicroPython unix port. The CSMS checks every frame
against the official 2.0.1 schemas and error codes; `csms.violations` must stay empty."""
import time

import pytest

from tests_host import simproc

pytestmark = pytest.mark.parametrize("runtime", simproc.RUNTIMES)
BOTH = ("ocpp1.6", "ocpp2.0.1")


def evse_statuses(csms, evse, since=0):
    return [p["connectorStatus"] for p in csms.received("CP_1", "StatusNotification", since)
            if p.get("evseId") == evse]


def test_provisioning_status_heartbeat_data_transfer(runtime, csms_factory, sims):
    csms = csms_factory(versions=BOTH, heartbeat_interval=1)
    sim = sims(runtime, server=csms, ocpp="2.0.1")
    boot = csms.wait_action("CP_1", "BootNotification")
    assert boot == {"reason": "PowerUp", "chargingStation": {
        "model": "sim", "vendorName": "mpy_ocpp", "firmwareVersion": "sim-1"}}
    csms.wait_for(lambda: evse_statuses(csms, 1) == ["Available"] and evse_statuses(csms, 2) == ["Available"])
    assert all(p["connectorId"] == 1 for p in csms.received("CP_1", "StatusNotification"))
    csms.wait_action("CP_1", "Heartbeat", timeout=5)
    assert sim.status()["ocpp"] == "2.0.1"
    # Preparing, SuspendedEV... are all Occupied: one notification, then Available again
    sim.cmd("plug 1", "wait 0.3", "evready 1 0", "wait 0.3", "unplug 1")
    csms.wait_for(lambda: evse_statuses(csms, 1) == ["Available", "Occupied", "Available"])
    # the CSMS's calls: the 2.0.1 error codes
    call = lambda a, p, **kw: csms.call("CP_1", a, p, **kw)  # noqa: E731
    assert call("DataTransfer", {"vendorId": "acme", "data": {"x": [1]}}) == {
        "status": "Accepted", "data": {"x": [1]}}
    for action, payload, code in (
            ("GetLog", {"log": {"remoteLocation": "x"}}, "NotSupported"),
            ("StartTransaction", {}, "NotImplemented"),  # 1.6's name: no such 2.0.1 action
            ("DataTransfer", {"data": 1}, "OccurrenceConstraintViolation"),
            ("DataTransfer", {"vendorId": "a", "x": 1}, "FormatViolation")):
        with pytest.raises(Exception) as e:
            call(action, payload, validate=False)
        assert getattr(e.value, "code", None) == code, (action, e.value)
    assert [v for v in csms.violations if "sent to it" not in v] == []  # validate=False frames
    assert not [v for v in csms.violations if "FormationViolation" in v]


@pytest.mark.parametrize("served,offer,chosen", [
    (("ocpp1.6",), "auto", "1.6"),
    (("ocpp2.0.1",), "auto", "2.0.1"),
    (BOTH, "auto", "2.0.1"),  # our order wins: 2.0.1 first
    (BOTH, "1.6,2.0.1", "1.6"),
    (BOTH, "2.0.1,1.6", "2.0.1"),
])
def test_negotiation(runtime, csms_factory, sims, served, offer, chosen):
    csms = csms_factory(versions=served)
    sim = sims(runtime, server=csms, ocpp=offer)
    boot = csms.wait_action("CP_1", "BootNotification")
    assert ("reason" in boot) == (chosen == "2.0.1")
    csms.wait_action("CP_1", "StatusNotification", count=3 if chosen == "1.6" else 2)
    assert sim.status()["ocpp"] == chosen
    assert [e[2] for e in csms.events if e[1] == "connect"] == ["ocpp" + chosen]
    # what was queued before the link came up was made for the version offered first
    assert len(csms.received("CP_1", "BootNotification")) == 1
    assert csms.violations == []


def test_no_version_in_common(runtime, csms_factory, sims):
    csms = csms_factory(versions=("ocpp2.0.1",))
    sim = sims(runtime, server=csms, ocpp="1.6", boot=False)
    csms.wait_for(lambda: len(csms.handshakes) >= 1)
    end = time.monotonic() + 5
    while time.monotonic() < end and not any("HTTP 400" in ln for ln in sim.err):
        time.sleep(0.05)
    assert any("HTTP 400" in ln for ln in sim.err), sim.err[-5:]
    assert csms.calls == [] and sim.status()["online"] is False


def test_boot_pending_then_accepted(runtime, csms_factory, sims):
    csms = csms_factory(versions=("ocpp2.0.1",), boot_status=["Pending", "Accepted"])
    csms.boot_retry_interval = 1
    sims(runtime, server=csms, ocpp="2.0.1")
    csms.wait_action("CP_1", "StatusNotification", count=2, timeout=10)
    actions = [c.action for c in csms.calls]
    assert actions[:2] == ["BootNotification", "BootNotification"], actions  # nothing else while Pending
    assert csms.violations == []


def test_version_kept_while_transactions_owed(runtime, csms_factory, sims, tmp_path):
    # a transaction made in 1.6 ends offline: until its StopTransaction is in, the charge point
    # offers only 1.6 (a 2.0.1 CSMS could not take it); then it offers 2.0.1 first again
    csms = csms_factory(versions=("ocpp1.6",))
    sim = sims(runtime, server=csms, ocpp="2.0.1,1.6", booted=True)
    assert sim.status()["ocpp"] == "1.6"
    sim.cmd("plug 1", "tag 1 CARD")
    csms.wait_action("CP_1", "StartTransaction")
    port = csms.port
    csms.stop()
    sim.wait_status(lambda s: not s["online"])
    sim.cmd("tag 1 CARD")  # stopped offline: StopTransaction owed
    sim.wait_status(lambda s: s["connectors"][1]["transaction"] is None)
    csms.versions = BOTH
    csms.start(port=port)
    csms.wait_action("CP_1", "StopTransaction", timeout=20)
    assert [e[2] for e in csms.events if e[1] == "connect"][-1] == "ocpp1.6"
    assert csms.handshakes[-1]["headers"] and dict(csms.handshakes[-1]["headers"])[
        "Sec-WebSocket-Protocol"] == "ocpp1.6"
    csms.disconnect("CP_1")  # the next handshake offers 2.0.1 first again, and gets it
    csms.wait_for(lambda: [e[2] for e in csms.events if e[1] == "connect"][-1:] == ["ocpp2.0.1"], timeout=20)
    csms.wait_for(lambda: len(evse_statuses(csms, 1)) >= 1, timeout=10)
    assert sim.status()["ocpp"] == "2.0.1"
    assert csms.violations == []


def _gv(comp, var, **kw):
    d = {"component": comp if isinstance(comp, dict) else {"name": comp},
         "variable": var if isinstance(var, dict) else {"name": var}}
    d.update(kw)
    return d


def test_device_model(runtime, csms_factory, sims):
    csms = csms_factory(versions=("ocpp2.0.1",))
    sims(runtime, server=csms, ocpp="2.0.1")
    csms.wait_action("CP_1", "StatusNotification", count=2)
    call = lambda a, p: csms.call("CP_1", a, p)  # noqa: E731

    def get(*items):
        return [(r["attributeStatus"], r.get("attributeValue"))
                for r in call("GetVariables", {"getVariableData": list(items)})["getVariableResult"]]
    assert get(_gv("OCPPCommCtrlr", "HeartbeatInterval"),
               _gv("ocppcommctrlr", "heartbeatinterval"),  # names are case-insensitive
               _gv("OCPPCommCtrlr", {"name": "MessageAttempts", "instance": "TransactionEvent"}),
               _gv({"name": "EVSE", "evse": {"id": 1}}, "AvailabilityState"),
               _gv({"name": "Connector", "evse": {"id": 2, "connectorId": 1}}, "Available"),
               _gv({"name": "EVSE", "evse": {"id": 3}}, "AvailabilityState"),
               _gv("EVSE", "AvailabilityState"),  # no evse: not the EVSE component
               _gv("OCPPCommCtrlr", "Nope"),
               _gv("Nope", "HeartbeatInterval"),
               _gv("SecurityCtrlr", "BasicAuthPassword"),
               _gv("OCPPCommCtrlr", "HeartbeatInterval", attributeType="Target"),
               _gv("ChargingStation", "Model")) == [
        ("Accepted", "300"), ("Accepted", "300"), ("Accepted", "3"), ("Accepted", "Available"),
        ("Accepted", "true"), ("UnknownComponent", None), ("UnknownComponent", None),
        ("UnknownVariable", None), ("UnknownComponent", None), ("Rejected", None),
        ("NotSupportedAttributeType", None), ("Accepted", "sim")]

    def set_(*items):
        return [r["attributeStatus"] for r in
                call("SetVariables", {"setVariableData": list(items)})["setVariableResult"]]
    assert set_(_gv("OCPPCommCtrlr", "HeartbeatInterval", attributeValue="60"),
                _gv("TxCtrlr", "TxStartPoint", attributeValue="EVConnected,Authorized"),
                _gv("TxCtrlr", "TxStopPoint", attributeValue="Bogus"),
                _gv("ChargingStation", "Model", attributeValue="x"),
                _gv("DeviceDataCtrlr", {"name": "ItemsPerMessage", "instance": "GetReport"}, attributeValue="99"),
                _gv("OCPPCommCtrlr", "HeartbeatInterval", attributeValue="-1"),
                _gv("Nope", "X", attributeValue="1")) == [
        "Accepted", "Accepted", "Rejected", "Rejected", "Rejected", "Rejected", "UnknownComponent"]
    assert get(_gv("OCPPCommCtrlr", "HeartbeatInterval"), _gv("TxCtrlr", "TxStartPoint")) == [
        ("Accepted", "60"), ("Accepted", "EVConnected,Authorized")]
    with pytest.raises(Exception) as e:  # more than ItemsPerMessageGetVariables (16)
        call("GetVariables", {"getVariableData": [_gv("OCPPCommCtrlr", "HeartbeatInterval")] * 17})
    assert getattr(e.value, "code", None) == "OccurrenceConstraintViolation"
    # a full report in parts of ItemsPerMessageGetReport (8), seqNo 0.., tbc until the last
    assert call("GetBaseReport", {"requestId": 7, "reportBase": "FullInventory"}) == {"status": "Accepted"}
    parts = csms.wait_for(lambda: [p for p in csms.received("CP_1", "NotifyReport")
                                   if p["requestId"] == 7 and not p["tbc"]] and
                          [p for p in csms.received("CP_1", "NotifyReport") if p["requestId"] == 7])
    assert [p["seqNo"] for p in parts] == list(range(len(parts)))
    assert [p["tbc"] for p in parts] == [True] * (len(parts) - 1) + [False]
    items = [i for p in parts for i in p["reportData"]]
    assert all(len(p["reportData"]) <= 8 for p in parts) and len(items) == 43
    named = {(i["component"]["name"], i["component"].get("evse", {}).get("id"), i["variable"]["name"]): i
             for i in items}
    pw = named[("SecurityCtrlr", None, "BasicAuthPassword")]["variableAttribute"][0]
    assert pw["mutability"] == "WriteOnly" and "value" not in pw
    assert named[("EVSE", 2, "AvailabilityState")]["variableAttribute"][0]["value"] == "Available"
    assert named[("TxCtrlr", None, "TxStartPoint")]["variableCharacteristics"]["dataType"] == "MemberList"
    assert call("GetBaseReport", {"requestId": 8, "reportBase": "ConfigurationInventory"}) == {"status": "Accepted"}
    conf = csms.wait_for(lambda: [p for p in csms.received("CP_1", "NotifyReport")
                                  if p["requestId"] == 8 and not p["tbc"]] and
                         [p for p in csms.received("CP_1", "NotifyReport") if p["requestId"] == 8])
    muts = {i["variableAttribute"][0]["mutability"] for p in conf for i in p["reportData"]}
    assert muts == {"ReadWrite", "WriteOnly"}
    assert csms.violations == []


def test_201_variables_are_not_16_keys(runtime, csms_factory, sims):
    csms = csms_factory(versions=("ocpp1.6",))
    sims(runtime, server=csms, ocpp="auto", booted=True)
    keys = {k["key"] for k in csms.call("CP_1", "GetConfiguration", {})["configurationKey"]}
    assert "HeartbeatInterval" in keys and not {"TxStartPoint", "ItemsPerMessageGetReport"} & keys
    assert csms.call("CP_1", "GetConfiguration", {"key": ["TxStartPoint"]})["unknownKey"] == ["TxStartPoint"]
    assert csms.call("CP_1", "ChangeConfiguration", {"key": "TxStartPoint", "value": "EVConnected"}) == {
        "status": "NotSupported"}
    assert csms.violations == []


def test_reset_availability_trigger_unlock(runtime, csms_factory, sims):
    csms = csms_factory(versions=("ocpp2.0.1",))
    sims(runtime, server=csms, ocpp="2.0.1")
    csms.wait_for(lambda: evse_statuses(csms, 1) and evse_statuses(csms, 2))
    call = lambda a, p: csms.call("CP_1", a, p)  # noqa: E731
    # G03-G04: an EVSE, then the whole station
    assert call("ChangeAvailability", {"operationalStatus": "Inoperative", "evse": {"id": 3}}) == {
        "status": "Rejected"}
    assert call("ChangeAvailability", {"operationalStatus": "Inoperative",
                                       "evse": {"id": 1, "connectorId": 2}}) == {"status": "Rejected"}
    assert call("ChangeAvailability", {"operationalStatus": "Inoperative", "evse": {"id": 1}}) == {
        "status": "Accepted"}
    csms.wait_for(lambda: evse_statuses(csms, 1)[-1:] == ["Unavailable"])
    assert call("ChangeAvailability", {"operationalStatus": "Operative", "evse": {"id": 1}}) == {
        "status": "Accepted"}
    csms.wait_for(lambda: evse_statuses(csms, 1)[-1:] == ["Available"])
    assert call("ChangeAvailability", {"operationalStatus": "Inoperative"}) == {"status": "Accepted"}
    csms.wait_for(lambda: evse_statuses(csms, 1)[-1:] == evse_statuses(csms, 2)[-1:] == ["Unavailable"])
    assert call("ChangeAvailability", {"operationalStatus": "Operative"}) == {"status": "Accepted"}
    csms.wait_for(lambda: evse_statuses(csms, 2)[-1:] == ["Available"])
    # F06
    mark = csms.mark()
    assert call("TriggerMessage", {"requestedMessage": "Heartbeat"}) == {"status": "Accepted"}
    csms.wait_action("CP_1", "Heartbeat", since=mark)
    n = len(evse_statuses(csms, 2))
    assert call("TriggerMessage", {"requestedMessage": "StatusNotification",
                                   "evse": {"id": 2, "connectorId": 1}}) == {"status": "Accepted"}
    csms.wait_for(lambda: len(evse_statuses(csms, 2)) == n + 1)  # sent again, unchanged
    assert call("TriggerMessage", {"requestedMessage": "BootNotification"}) == {"status": "Rejected"}
    assert call("TriggerMessage", {"requestedMessage": "LogStatusNotification"}) == {"status": "NotImplemented"}
    assert call("TriggerMessage", {"requestedMessage": "Heartbeat", "evse": {"id": 7}}) == {
        "status": "Rejected"}
    # F05
    assert call("UnlockConnector", {"evseId": 1, "connectorId": 1}) == {"status": "Unlocked"}
    assert call("UnlockConnector", {"evseId": 9, "connectorId": 1}) == {"status": "UnknownConnector"}
    # B11-B12: one EVSE cannot be reset; the station comes back with reason RemoteReset
    assert call("Reset", {"type": "Immediate", "evseId": 1}) == {"status": "Rejected"}
    assert call("Reset", {"type": "OnIdle"}) == {"status": "Accepted"}
    boots = csms.wait_action("CP_1", "BootNotification", count=2, timeout=20)
    assert [b["reason"] for b in boots] == ["PowerUp", "RemoteReset"]
    csms.wait_for(lambda: [(e["type"], e.get("techInfo")) for e in csms.received(
        "CP_1", "SecurityEventNotification") if e["type"] == "ResetOrReboot"] == [("ResetOrReboot", "OnIdle")])
    assert csms.violations == []


def test_meter_values_outside_transactions(runtime, csms_factory, sims):
    # J01 (triggered) and J02-style clock-aligned samples, in 2.0.1's shape: evseId, numbers
    csms = csms_factory(versions=("ocpp2.0.1",))
    sims(runtime, server=csms, ocpp="2.0.1")
    csms.wait_for(lambda: evse_statuses(csms, 1) and evse_statuses(csms, 2))
    assert csms.call("CP_1", "TriggerMessage", {"requestedMessage": "MeterValues",
                                                "evse": {"id": 2, "connectorId": 1}}) == {"status": "Accepted"}
    mv = csms.wait_action("CP_1", "MeterValues")
    assert mv["evseId"] == 2
    sv = mv["meterValue"][0]["sampledValue"]
    assert sv[0]["measurand"] == "Energy.Active.Import.Register" and sv[0]["context"] == "Trigger"
    assert isinstance(sv[0]["value"], (int, float)) and sv[0]["unitOfMeasure"] == {"unit": "Wh"}
    assert csms.call("CP_1", "SetVariables", {"setVariableData": [_gv(
        "AlignedDataCtrlr", "Interval", attributeValue="1")]})["setVariableResult"][0]["attributeStatus"] == "Accepted"
    mvs = csms.wait_action("CP_1", "MeterValues", count=3, timeout=10)
    assert {m["meterValue"][0]["sampledValue"][0]["context"] for m in mvs[1:]} == {"Sample.Clock"}
    assert csms.violations == []


def _root(serial):
    """A self-signed root with this serial number (trustme's are random)."""
    import datetime
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(x509.NameOID.COMMON_NAME, "root %x" % serial)])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(serial).not_valid_before(now).not_valid_after(now + datetime.timedelta(days=9))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    return cert.public_bytes(serialization.Encoding.PEM)


def _cert_id(pem, issuer_pem=None):
    """The OCSP CertID hash data of a certificate, by the `cryptography` package (the oracle)."""
    from cryptography import x509
    from cryptography.hazmat.primitives.hashes import SHA256
    from cryptography.x509.ocsp import OCSPRequestBuilder
    cert = x509.load_pem_x509_certificate(pem)
    issuer = x509.load_pem_x509_certificate(issuer_pem or pem)
    req = OCSPRequestBuilder().add_certificate(cert, issuer, SHA256()).build()
    return {"hashAlgorithm": "SHA256", "issuerNameHash": req.issuer_name_hash.hex(),
            "issuerKeyHash": req.issuer_key_hash.hex(), "serialNumber": "%x" % req.serial_number}


def test_certificates(runtime, csms_factory, sims):
    import trustme
    csms = csms_factory(versions=("ocpp2.0.1",))
    sims(runtime, server=csms, ocpp="2.0.1")
    csms.wait_for(lambda: evse_statuses(csms, 1))
    call = lambda a, p: csms.call("CP_1", a, p)  # noqa: E731
    roots = [trustme.CA(), trustme.CA()]
    pems = [r.cert_pem.bytes() for r in roots] + [_root(0x0384DB91A06C)]  # a leading zero nibble
    leaf = roots[0].issue_cert("cs.example").cert_chain_pems[0].bytes()
    assert call("GetInstalledCertificateIds", {}) == {"status": "NotFound"}
    for kind, pem in (("CSMSRootCertificate", pems[0]), ("ManufacturerRootCertificate", pems[1]),
                      ("CSMSRootCertificate", pems[2])):
        assert call("InstallCertificate", {"certificateType": kind, "certificate": pem.decode()}) == {
            "status": "Accepted"}
    for bad in ("not a certificate", leaf.decode(),  # not self-signed: no root
                "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"):
        assert call("InstallCertificate", {"certificateType": "V2GRootCertificate",
                                           "certificate": bad}) == {"status": "Rejected"}
    got = call("GetInstalledCertificateIds", {})
    assert got["status"] == "Accepted"
    assert [(c["certificateType"], c["certificateHashData"]) for c in got["certificateHashDataChain"]] == [
        ("CSMSRootCertificate", _cert_id(pems[0])), ("ManufacturerRootCertificate", _cert_id(pems[1])),
        ("CSMSRootCertificate", _cert_id(pems[2]))]
    only = call("GetInstalledCertificateIds", {"certificateType": ["ManufacturerRootCertificate"]})
    assert [c["certificateHashData"] for c in only["certificateHashDataChain"]] == [_cert_id(pems[1])]
    assert call("DeleteCertificate", {"certificateHashData": _cert_id(pems[0])}) == {"status": "Accepted"}
    assert call("DeleteCertificate", {"certificateHashData": _cert_id(pems[0])}) == {"status": "NotFound"}
    # the last CSMS root stays: TLS would have nothing to trust
    assert call("DeleteCertificate", {"certificateHashData": _cert_id(pems[2])}) == {"status": "Failed"}
    assert call("DeleteCertificate", {"certificateHashData": _cert_id(pems[1])}) == {"status": "Accepted"}
    assert [c["certificateType"] for c in call("GetInstalledCertificateIds", {})[
        "certificateHashDataChain"]] == ["CSMSRootCertificate"]
    assert csms.violations == []


def test_damaged_certificate_index(runtime, csms_factory, sims, tmp_path):
    state = tmp_path / "state-CP_1"
    state.mkdir()
    (state / "certs.json").write_text('[["CSMSRootCertificate", "ab", 1]')  # cut short
    csms = csms_factory(versions=("ocpp2.0.1",))
    sims(runtime, server=csms, ocpp="2.0.1")
    csms.wait_for(lambda: evse_statuses(csms, 1))
    assert csms.call("CP_1", "GetInstalledCertificateIds", {}) == {"status": "NotFound"}
    assert (state / "certs.json.bad").exists()  # set aside, with a log line
    assert csms.violations == []


def test_security_profile_1_variables(runtime, csms_factory, sims):
    csms = csms_factory(versions=("ocpp2.0.1",))
    sims(runtime, server=csms, ocpp="2.0.1")
    csms.wait_for(lambda: evse_statuses(csms, 1))
    call = lambda a, p: csms.call("CP_1", a, p)  # noqa: E731
    got = call("GetVariables", {"getVariableData": [_gv("SecurityCtrlr", v) for v in (
        "SecurityProfile", "Identity", "CertificateEntries", "OrganizationName")]})
    assert [r.get("attributeValue") for r in got["getVariableResult"]] == ["1", "CP_1", "0", ""]
    set_pw = lambda pw: call("SetVariables", {"setVariableData": [_gv(  # noqa: E731
        "SecurityCtrlr", "BasicAuthPassword", attributeValue=pw)]})["setVariableResult"][0]["attributeStatus"]
    assert set_pw("too-short") == "Rejected"  # 2.0.1: 16 to 40 characters
    csms.auth = {"CP_1": "0123456789abcdef-new"}  # from now on the CSMS asks for it
    assert set_pw("0123456789abcdef-new") == "Accepted"
    # the charge point reconnects with Basic auth (user: its id), once the answer is out
    h = csms.wait_for(lambda: [x for x in csms.handshakes if x["accepted"] and x["user"] == "CP_1"])
    assert h[-1]["password"] == b"0123456789abcdef-new"
    csms.wait_for(lambda: csms.connected("CP_1"))
    assert csms.violations == []


KEY = "0123456789abcdef-2.0.1"


def test_security_profile_2_wss_basic_auth(runtime, csms_factory, sims, tls):
    csms = csms_factory(versions=("ocpp2.0.1",), auth={"CP_1": KEY}, ssl_context=tls.server_context)
    sim = sims(runtime, server=csms, ocpp="2.0.1", ca=tls.ca_der, auth_key=KEY)
    csms.wait_for(lambda: evse_statuses(csms, 2))
    hs = [h for h in csms.handshakes if h["accepted"]][-1]
    assert hs["user"] == "CP_1" and hs["password"] == KEY.encode()
    got = csms.call("CP_1", "GetVariables", {"getVariableData": [_gv("SecurityCtrlr", "SecurityProfile")]})
    assert got["getVariableResult"][0]["attributeValue"] == "2"
    sim.cmd("plug 1", "tag 1 CARD")
    csms.wait_action("CP_1", "TransactionEvent")
    assert csms.violations == []


def test_security_profile_3_client_certificate(runtime, csms_factory, sims, tls):
    csms = csms_factory(versions=("ocpp2.0.1",), ssl_context=tls.mtls_context)
    der = runtime != "cpython"  # MicroPython's mbedTLS: DER
    sims(runtime, server=csms, ocpp="2.0.1", ca=tls.ca_der,
         cert=tls.client_cert_der if der else tls.client_cert_pem,
         key=tls.client_key_der if der else tls.client_key_pem)
    csms.wait_for(lambda: evse_statuses(csms, 2))
    got = csms.call("CP_1", "GetVariables", {"getVariableData": [_gv("SecurityCtrlr", "SecurityProfile")]})
    assert got["getVariableResult"][0]["attributeValue"] == "3"
    assert csms.violations == []


def test_offline_idle_b04(runtime, csms_factory, sims):
    # B04: statuses that changed while the link was down are sent once it is back, only the
    # newest per EVSE
    csms = csms_factory(versions=("ocpp2.0.1",))
    sim = sims(runtime, server=csms, ocpp="2.0.1")
    csms.wait_for(lambda: evse_statuses(csms, 2))
    port = csms.port
    csms.stop()
    sim.wait_status(lambda s: not s["online"])
    sim.cmd("plug 1", "wait 0.3", "unplug 1", "wait 0.3", "plug 2")
    sim.wait_status(lambda s: s["connectors"][2]["status"] == "Preparing")
    mark = csms.mark()
    csms.start(port=port)
    csms.wait_for(lambda: evse_statuses(csms, 2, mark) == ["Occupied"], timeout=20)
    sim.cmd("wait 0.5")
    sim.status()
    assert evse_statuses(csms, 1, mark) == ["Available"]  # the newest only: no Occupied
    assert csms.violations == []


def test_errors_go_as_notify_event(runtime, csms_factory, sims):
    # the firmware's error input (1.6 errorCode) under 2.0.1: StatusNotification Faulted and a
    # NotifyEvent (Problem true, the code as techCode); NoError clears it; the station's own
    csms = csms_factory(versions=("ocpp2.0.1",))
    sim = sims(runtime, server=csms, ocpp="2.0.1")
    csms.wait_for(lambda: evse_statuses(csms, 2))
    sim.cmd("fault 1 GroundFailure")
    csms.wait_for(lambda: csms.received("CP_1", "NotifyEvent"))
    csms.wait_for(lambda: evse_statuses(csms, 1)[-1:] == ["Faulted"])
    sim.cmd("fault 1 NoError", "fault 0 PowerMeterFailure")
    csms.wait_for(lambda: len(csms.received("CP_1", "NotifyEvent")) == 3)
    csms.wait_for(lambda: evse_statuses(csms, 1)[-1:] == ["Available"])
    events = [p["eventData"][0] for p in csms.received("CP_1", "NotifyEvent")]
    seen = [(e["component"], e["variable"]["name"], e["actualValue"], e["techCode"], e.get("cleared"),
             e["trigger"], e["eventNotificationType"]) for e in events]
    evse1 = {"name": "Connector", "evse": {"id": 1, "connectorId": 1}}
    assert sorted(seen, key=str) == sorted([
        (evse1, "Problem", "true", "GroundFailure", None, "Delta", "HardWiredNotification"),
        (evse1, "Problem", "false", "GroundFailure", True, "Delta", "HardWiredNotification"),
        ({"name": "ChargingStation"}, "Problem", "true", "PowerMeterFailure", None, "Delta",
         "HardWiredNotification")], key=str)
    assert seen[0][2] == "true" and len({e["eventId"] for e in events}) == 3
    assert csms.violations == []
