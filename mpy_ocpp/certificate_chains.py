# Certificate chains, for the Security extension (security.py) and Plug & Charge
# (plug_and_charge.py): a signing request from the firmware's hook, the chain the CSMS signs
# checked against the roots installed in the store (certificates.py), signatures checked on
# the device (RSA/SHA-256 with one pow(); an EC key through the firmware's verify hook).
from binascii import a2b_base64
from hashlib import sha256

from . import clock
from .certificates import _CSMS, _tlv, der, installed, key, parse
from .compat import log

# the fields of certificates.parse()
_TBS = const(0)
_ISSUER = const(1)
_SUBJECT = const(2)
_SPKI = const(3)
_VALIDITY = const(5)
_SIGNATURE = const(6)

_RSA_SHA256 = b"\x2a\x86\x48\x86\xf7\x0d\x01\x01\x0b"  # OID 1.2.840.113549.1.1.11
ECDSA_SHA256 = b"\x2a\x86\x48\xce\x3d\x04\x03\x02"  # OID 1.2.840.10045.4.3.2
_RSA_KEY = b"\x2a\x86\x48\x86\xf7\x0d\x01\x01\x01"  # OID 1.2.840.113549.1.1.1
_SHA256_INFO = b"\x30\x31\x30\x0d\x06\x09\x60\x86\x48\x01\x65\x03\x04\x02\x01\x05\x00\x04\x20"


def pems(text):
    """The DER bytes of every certificate of a PEM text, in order."""
    out = []
    i = text.find("-----BEGIN CERTIFICATE-----")
    while i >= 0:
        out.append(der(text[i:]))
        i = text.find("-----BEGIN CERTIFICATE-----", i + 27)
    return out


def _time(v):  # UTCTime YYMMDDHHMMSSZ or GeneralizedTime YYYYMMDDHHMMSSZ -> seconds
    v = v.decode()
    if len(v) == 13:
        v = ("19" if v[:2] >= "50" else "20") + v
    t = clock.parse("%s-%s-%sT%s:%s:%sZ" % (v[:4], v[4:6], v[6:8], v[8:10], v[10:12], v[12:14]))
    if t is None:
        raise ValueError("certificate validity")
    return t


def _valid(c, now):  # is certificate c (parse()) valid at `now`?
    v = c[_VALIDITY]
    t, a, z = _tlv(v, 0)
    t, b, e = _tlv(v, z)
    return _time(v[a:z]) <= now <= _time(v[b:e])


def _algorithm(c):  # (signature algorithm OID, signature) of certificate c (parse())
    x = c[_SIGNATURE]
    t, s, z = _tlv(x, 0)  # signatureAlgorithm
    t, o, oz = _tlv(x, s)  # its OID
    t, b, bz = _tlv(x, z)  # signatureValue (a BIT STRING: its first byte counts unused bits)
    return x[o:oz], x[b + 1:bz]


def request_key(pem):
    """The SubjectPublicKeyInfo (DER) of a PEM certificate signing request."""
    a = pem.find("REQUEST-----")
    z = pem.find("-----END", a)
    d = a2b_base64("".join(pem[a + 12 : z].split()))
    t, s, e = _tlv(d, 0)
    t, s, e = _tlv(d, s)  # certificationRequestInfo
    t, s, z = _tlv(d, s)  # version
    t, s, z = _tlv(d, z)  # subject
    t, s, e = _tlv(d, z)  # subjectPKInfo
    return d[z:e]


def check_chain(cp, pem, verify=None, spki=None, root=_CSMS):
    """Why the chain of `pem` (the leaf first) is not one to take, or None: every certificate
    valid now (once the clock is known) and signed by the next one, the last by an installed
    root of type `root`; with `spki`, the leaf's key must be that one (a signing request's).
    Signatures: see signed()."""
    try:
        certs = [parse(d) for d in pems(pem)]
        if not certs or spki is not None and certs[0][_SPKI] != spki:
            return "not the key of the signing request" if spki else "no certificate"
        roots = [parse(der(cp.store.load("cert%d.json" % e[4], ""))) for e in installed(cp) if e[0] == root]
        now = clock.now() if clock.known else None
        for i, c in enumerate(certs):
            if now and not _valid(c, now):
                return "certificate %d expired or not valid yet" % i
            up = certs[i + 1] if i + 1 < len(certs) else None
            if up is None or up[_SUBJECT] != c[_ISSUER]:  # the end of the chain: a root signed it
                for r in roots:
                    if r[_SUBJECT] == c[_ISSUER] and _signed(c, r, verify):
                        return None
                return "not signed by an installed " + root
            if not _signed(c, up, verify):
                return "certificate %d: bad signature" % i
    except (ValueError, IndexError, TypeError) as e:
        return "not a certificate chain (%s)" % e


def request(owner):
    """A signing request (PEM) from owner.csr(), its key kept as owner.spki; None (with a log
    line) if the owner's firmware has no csr/on_certificate hooks or they fail."""
    if owner.csr is None or owner.on_certificate is None:  # this charger makes no key pairs
        return None
    try:
        csr = owner.csr()
        owner.spki = request_key(csr)
        return csr
    except Exception as e:  # the firmware's code must not stop the charger
        log("certificates: no signing request: %r" % e)
        return None


def take(cp, owner, chain, root=_CSMS):
    """CertificateSigned for owner's request: None once the chain checked out and
    owner.on_certificate(chain) took it; else why not, also said in a security event."""
    why = "no signing request" if owner.spki is None else check_chain(
        cp, chain, cp.security and cp.security.verify, owner.spki, root)
    if why is None:
        try:
            why = None if owner.on_certificate(chain) else "the firmware did not take it"
        except Exception as e:
            why = "the firmware did not take it: %r" % e
    if why:
        cp.security_event("InvalidChargePointCertificate", why)
    else:
        owner.spki = None
    return why


def _signed(c, by, verify):
    alg, sig = _algorithm(c)
    return alg in (_RSA_SHA256, ECDSA_SHA256) and signed(sha256(c[_TBS]).digest(), sig, by[_SPKI], verify)


def signed(digest, sig, spki, verify):
    """True if `sig` is the signature of a SHA-256 `digest` by the key of `spki` (DER
    SubjectPublicKeyInfo): RSA (PKCS #1 v1.5) is checked here, with one pow(); an EC key
    through verify(ECDSA_SHA256, digest, signature, spki) -> bool (a board's crypto, or the
    simulator's `cryptography`); without it, never."""
    t, s, e = _tlv(spki, 0)
    t, s, e = _tlv(spki, s)  # AlgorithmIdentifier
    t, s, e = _tlv(spki, s)  # its OID
    if spki[s:e] == _RSA_KEY:
        return _rsa(digest, sig, key(spki))
    return bool(verify and verify(ECDSA_SHA256, digest, sig, spki))


def _rsa(digest, sig, key):  # RSASSA-PKCS1-v1_5 with SHA-256
    t, s, e = _tlv(key, 0)  # RSAPublicKey
    t, ns, ne = _tlv(key, s)
    t, es, ee = _tlv(key, ne)
    n = int.from_bytes(key[ns:ne], "big")
    k = ne - ns - (key[ns] == 0)
    m = pow(int.from_bytes(sig, "big"), int.from_bytes(key[es:ee], "big"), n)
    pad = k - 3 - len(_SHA256_INFO) - 32
    return pad >= 8 and m.to_bytes(k, "big") == b"\x00\x01" + b"\xff" * pad + b"\x00" + _SHA256_INFO + digest
