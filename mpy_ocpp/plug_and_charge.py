# ISO 15118 Plug & Charge, the OCPP side, for OCPP 1.6 (OCA's application note): OCPP 2.0.1's
# messages carried in DataTransfer, vendorId org.openchargealliance.iso15118pnc, messageId the
# 2.0.1 name, data its payload as JSON text. The EVSE's ISO 15118 stack (not ours) uses:
#   cp.pnc.authorize(emaid, hash_data, cb)          Authorize with iso15118CertificateHashData
#   cp.pnc.ev_certificate(version, action, exi, cb) Get15118EVCertificate (exiRequest passed through)
#   cp.pnc.certificate_status(ocsp, cb)             GetCertificateStatus (ocspRequestData)
# cb(the 2.0.1 answer as a dict, or None). A driver accepted by authorize() starts charging
# with c.begin(emaid). From the CSMS: InstallCertificate, DeleteCertificate and
# GetInstalledCertificateIds on the certificate store (certificates.py: V2GRootCertificate,
# MORootCertificate beside the others), TriggerMessage(SignV2GCertificate) -> SignCertificate
# (V2GCertificate) with the CSR of `cp.pnc.csr()` -> CertificateSigned: the chain checked
# against the installed V2G roots and handed to `cp.pnc.on_certificate(chain)` (the ISO 15118
# stack's TLS certificate). Not a feature profile: pass the module in `profiles`.
import json

from . import certificate_chains, certificates
from .compat import log

VENDOR = "org.openchargealliance.iso15118pnc"


def setup(cp):
    cp.pnc = PlugAndCharge(cp)


def data_transfer(cp, p):
    """A DataTransfer of VENDOR from the CSMS (ChargePoint.data_transfer_in)."""
    f = _IN.get(p.get("messageId"))
    if f is None:
        return {"status": "UnknownMessageId"}
    try:
        q = json.loads(p.get("data") or "")
        r = f(cp, q) if type(q) is dict else None
    # not the 2.0.1 payload (RuntimeError: nested too deep for the parser)
    except (ValueError, KeyError, TypeError, IndexError, RuntimeError) as e:
        log("pnc: %s: %r" % (p["messageId"], e))
        r = None
    if r is None:
        return {"status": "Rejected"}
    return {"status": "Accepted", "data": json.dumps(r)}


class PlugAndCharge:
    csr = None  # f() -> a PEM CSR for the EVSE's V2G certificate (the ISO 15118 stack's key)
    on_certificate = None  # f(PEM chain) -> True once the ISO 15118 stack uses it
    spki = None  # the key of the signing request under way

    def __init__(self, cp):
        self.cp = cp

    def _send(self, name, payload, cb):
        def done(res):  # the DataTransfer answer: its data is the 2.0.1 answer
            r = None
            if res and res.get("status") == "Accepted":
                try:
                    r = json.loads(res.get("data") or "")
                except ValueError:
                    log("pnc: %s: the answer is not JSON" % name)
            if cb:
                cb(r if type(r) is dict else None)
        return self.cp.data_transfer(VENDOR, name, json.dumps(payload), done)

    def authorize(self, emaid, hash_data=None, cb=None):
        p = {"idToken": {"idToken": emaid, "type": "eMAID"}}
        if hash_data:
            p["iso15118CertificateHashData"] = hash_data
        return self._send("Authorize", p, cb)

    def ev_certificate(self, version, action, exi, cb=None):
        return self._send("Get15118EVCertificate", {"iso15118SchemaVersion": version, "action": action,
                                                     "exiRequest": exi}, cb)

    def certificate_status(self, ocsp, cb=None):
        return self._send("GetCertificateStatus", {"ocspRequestData": ocsp}, cb)

    def _signed(self, res):
        if not res or res.get("status") != "Accepted":
            log("pnc: the CSMS will not sign the V2G request")
            self.spki = None


def _trigger(cp, q):
    if q["requestedMessage"] != "SignV2GCertificate":
        return {"status": "NotImplemented"}
    csr = certificate_chains.request(cp.pnc)
    if csr is None:
        return {"status": "Rejected"}
    cp.pnc._send("SignCertificate", {"csr": csr, "certificateType": "V2GCertificate"}, cp.pnc._signed)
    return {"status": "Accepted"}


def _certificate_signed(cp, q):
    why = certificate_chains.take(cp, cp.pnc, q["certificateChain"], "V2GRootCertificate")
    return {"status": "Rejected" if why else "Accepted"}


_IN = {"InstallCertificate": certificates.InstallCertificate, "DeleteCertificate": certificates.DeleteCertificate,
       "GetInstalledCertificateIds": certificates.GetInstalledCertificateIds,
       "TriggerMessage": _trigger, "CertificateSigned": _certificate_signed}
