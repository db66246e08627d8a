"""ISO 15118 Plug & Charge, the OCPP 1.6 side (OCA's application note): 2.0.1 messages in
DataTransfer. tools/sim.py (its `pnc`/`pncev` commands stand in for the EVSE's ISO 15118 stack)
against tools/csms.py, which checks the DataTransfer frames against the 1.6 schemas; the test
checks every inner payload against the `ocpp` package's 2.0.1 schemas. Both runtimes."""
import json
from pathlib import Path

import jsonschema
import ocpp
import pytest
import trustme

from tests_host import simproc
from tests_host.test_security import _pki, _sign

pytestmark = pytest.mark.parametrize("runtime", simproc.RUNTIMES)
VENDOR = "org.openchargealliance.iso15118pnc"
SCHEMAS = Path(ocpp.__file__).parent / "v201" / "schemas"


def schema_check(name, payload):
    doc = json.loads((SCHEMAS / (name + ".json")).read_text(encoding="utf-8-sig"))
    jsonschema.validate(payload, doc)


def test_plug_and_charge_over_data_transfer(runtime, csms_factory, sims, tmp_path):
    csms = csms_factory(versions=("ocpp1.6",))
    got = []  # (messageId, the 2.0.1 request) from the charge point
    answers = {"Authorize": {"idTokenInfo": {"status": "Accepted"}},
               "Get15118EVCertificate": {"status": "Accepted", "exiResponse": "RVhJ"},
               "SignCertificate": {"status": "Accepted"}}

    def data_transfer(cp_id, p):
        if p["vendorId"] != VENDOR:
            return {"status": "UnknownVendorId"}
        q = json.loads(p["data"])
        schema_check(p["messageId"] + "Request", q)
        got.append((p["messageId"], q))
        return {"status": "Accepted", "data": json.dumps(answers[p["messageId"]])}
    csms.data_transfer = data_transfer
    ca, _, paths = _pki(tmp_path)  # its CSR serves the V2G certificate here
    sim = sims(runtime, server=csms, booted=True, ocpp="1.6", csr=paths[runtime]["csr"],
               csr_key=paths[runtime]["csr_key"])
    sim.cmd("pnc 1 DEMMR1234567890")  # no MO root yet: without iso15118CertificateHashData
    csms.wait_for(lambda: got)
    assert got[0] == ("Authorize", {"idToken": {"idToken": "DEMMR1234567890", "type": "eMAID"}})
    mo = trustme.CA(key_type=trustme.KeyType.RSA)
    assert csms.call("CP_1", "DataTransfer", {"vendorId": VENDOR, "messageId": "InstallCertificate", "data": json.dumps(
        {"certificateType": "MORootCertificate", "certificate": mo.cert_pem.bytes().decode()})})["status"] == "Accepted"
    # the EV's contract authorizes it (ISO 15118), then it charges
    sim.cmd("pnc 1 DEMMR1234567890", "plug 1")
    csms.wait_action("CP_1", "StartTransaction", timeout=10)
    assert csms.received("CP_1", "StartTransaction")[0]["idTag"] == "DEMMR1234567890"
    hd = got[1][1]["iso15118CertificateHashData"]
    assert len(hd) == 1 and hd[0]["responderURL"] == "http://ocsp.example/"
    answers["GetCertificateStatus"] = {"status": "Accepted", "ocspResult": "T0NTUA=="}
    sim.cmd("pncocsp http://ocsp.mo.example/")
    csms.wait_for(lambda: any("certificate status: Accepted" in line for line in sim.err))
    assert [q for m, q in got if m == "GetCertificateStatus"][0]["ocspRequestData"]["responderURL"] == \
        "http://ocsp.mo.example/"
    sim.cmd("pncev QUJD")
    csms.wait_for(lambda: any(m == "Get15118EVCertificate" for m, _ in got))
    assert ("Get15118EVCertificate", {"iso15118SchemaVersion": "urn:iso:15118:2:2013:MsgDef",
                                      "action": "Install", "exiRequest": "QUJD"}) in got
    csms.wait_for(lambda: any("EV certificate: Accepted" in line for line in sim.err))

    def call(message_id, payload, check=True):
        r = csms.call("CP_1", "DataTransfer", {"vendorId": VENDOR, "messageId": message_id,
                                               "data": json.dumps(payload) if check else payload})
        if r["status"] == "Accepted":
            a = json.loads(r["data"])
            schema_check(message_id + "Response", a)
            return a
        return r["status"]
    v2g = trustme.CA(key_type=trustme.KeyType.RSA)
    root = {"certificateType": "V2GRootCertificate", "certificate": v2g.cert_pem.bytes().decode()}
    assert call("InstallCertificate", root) == {"status": "Accepted"}
    assert call("InstallCertificate", {"certificateType": "MORootCertificate",
                                       "certificate": ca.cert_pem.bytes().decode()}) == {"status": "Accepted"}
    ids = call("GetInstalledCertificateIds", {"certificateType": ["V2GRootCertificate"]})  # one of three
    assert [e["certificateType"] for e in ids["certificateHashDataChain"]] == ["V2GRootCertificate"]
    assert call("DeleteCertificate", {"certificateHashData": call(
        "GetInstalledCertificateIds", {"certificateType": ["MORootCertificate"]})["certificateHashDataChain"][0][
        "certificateHashData"]}) == {"status": "Accepted"}
    # the V2G certificate: triggered, signed by the V2G root, checked, handed to the stack
    assert call("TriggerMessage", {"requestedMessage": "SignV2GCertificate"}) == {"status": "Accepted"}
    csms.wait_for(lambda: any(m == "SignCertificate" for m, _ in got))
    csr = [q for m, q in got if m == "SignCertificate"][0]
    assert csr["certificateType"] == "V2GCertificate"
    assert call("CertificateSigned", {"certificateChain": _sign(ca, csr["csr"])[0],  # not the V2G root's
                                      "certificateType": "V2GCertificate"}) == {"status": "Rejected"}
    assert call("CertificateSigned", {"certificateChain": _sign(v2g, csr["csr"])[0],
                                      "certificateType": "V2GCertificate"}) == {"status": "Accepted"}
    csms.wait_for(lambda: any("ISO 15118 stack took" in line for line in sim.err))
    # what is not the 2.0.1 payload, or not a message of the note
    assert call("InstallCertificate", "{not json", check=False) == "Rejected"
    assert call("InstallCertificate", "[" * 1500 + "]" * 1500, check=False) == "Rejected"  # too deep
    assert call("InstallCertificate", {"certificate": root["certificate"]}) == "Rejected"  # no type
    assert call("CostUpdated", {}) == "UnknownMessageId"
    assert csms.call("CP_1", "DataTransfer", {"vendorId": "com.other"}) == {"status": "Accepted"}  # the sim's hook
    sim.cmd("unplug 1")
    csms.wait_action("CP_1", "StopTransaction")
    assert csms.violations == []
