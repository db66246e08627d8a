# OCPP 1.6 Security extension (whitepaper edition 3), built so far: certificate management
# (InstallCertificate, DeleteCertificate, GetInstalledCertificateIds) on the store of
# certificates.py, the one 2.0.1's M03-M05 use: a root installed under one version is listed
# and deleted under the other (1.6's CentralSystemRootCertificate is 2.0.1's
# CSMSRootCertificate). Not a feature profile: SupportedFeatureProfiles does not name it.
from . import certificates
from .config import BOOL, INT, RO

_CSMS = ("CentralSystemRootCertificate", "CSMSRootCertificate")


def setup(cp):
    d = cp.config.declare
    d("CertificateStoreMaxLength", INT, certificates.MAX, RO)
    d("AdditionalRootCertificateCheck", BOOL, False, RO)  # no fallback root to check against


def _201(kind):  # a 1.6 certificateType as the store names it, and back
    return _CSMS[1] if kind == _CSMS[0] else _CSMS[0] if kind == _CSMS[1] else kind


def InstallCertificate(cp, p):
    return certificates.InstallCertificate(cp, {"certificateType": _201(p["certificateType"]),
                                                "certificate": p["certificate"]})


def GetInstalledCertificateIds(cp, p):
    r = certificates.GetInstalledCertificateIds(cp, {"certificateType": [_201(p["certificateType"])]})
    if r["status"] == "Accepted":
        r = {"status": "Accepted", "certificateHashData": [
            e["certificateHashData"] for e in r["certificateHashDataChain"]]}
    return r


DeleteCertificate = certificates.DeleteCertificate  # the same request and answer in 1.6
