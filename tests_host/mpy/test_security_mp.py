# The Security extension's state machines, plain asserts: run on MicroPython by
# tools/mptest.py and on CPython by pytest, against a fake transport (the end-to-end proof is
# tests_host/test_security.py).
from mpy_ocpp import ChargePoint, certificates, security
from mpy_ocpp.store import Store
from tests_host.mpy.fakes import Link, state_dir

_PEM = "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"  # der() takes it


class TrustingLink(Link):
    def __init__(self):
        Link.__init__(self)
        self.trusted = []

    def trust(self, der):
        self.trusted.append(der)


def test_roots_installed_and_deleted_over_and_over_add_a_bounded_number_to_tls():
    # a TLS context only grows: a CSMS cycling roots must not make it grow without a bound
    link = TrustingLink()
    cp = ChargePoint("CP_1", link, Store(state_dir("sec")), profiles=(security,))
    for n in range(1, 3 * certificates.MAX):
        cp.store.save("cert%d.json" % n, _PEM)
        cp.store.save("certs.json", [["CSMSRootCertificate", "a", "b", "%x" % n, n]])
        link.online = False
        cp.loop()  # the link went down: the next handshake is prepared
        link.online = True
        cp.loop()
    assert len(link.trusted) == certificates.MAX and len(cp.trusted) == certificates.MAX
    assert link.trusted[0] == b"\x00\x00\x00"


def test_a_transport_without_trust_is_left_alone():
    cp = ChargePoint("CP_1", Link(), Store(state_dir("sec")), profiles=(security,))
    cp.store.save("cert1.json", _PEM)
    cp.store.save("certs.json", [["CSMSRootCertificate", "a", "b", "1", 1]])
    certificates.trust(cp)
    assert cp.trusted == ()
