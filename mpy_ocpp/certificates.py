# Certificate management, OCPP 2.0.1's M03-M05 (GetInstalledCertificateIds, DeleteCertificate,
# InstallCertificate; 1.6's Security extension answers through them: security.py): root
# certificates on flash, with their hash data (SHA-256) computed here
# from the DER (a small DER reader: no X.509 library needed). Only self-signed certificates are
# installed (every type here is a root: its issuer's key is its own); the signature is not
# checked. The last CSMS root is never deleted (the link's TLS would have nothing to trust).
# Nothing stays in RAM: an index document, and one document per certificate (its PEM).
from binascii import a2b_base64, hexlify
from hashlib import sha256

from . import clock
from .compat import const, log

_INDEX = "certs.json"  # [[certificateType, issuerNameHash, issuerKeyHash, serialNumber, n]]
MAX = const(8)  # certificates installed at most
_CSMS = "CSMSRootCertificate"


def setup(cp):  # the transport trusts the CSMS roots installed here (see trust)
    cp.trust = trust
    cp.trusted = ()  # the numbers of those given to the transport (a tuple: no heap until one is)


def trust(cp):
    """Before a handshake: the transport (its trust(der), if it has one) adds the CSMS roots
    installed since the last time, beside the CA the firmware gave it. One deleted stays
    trusted until a reboot (a TLS context only grows: at most MAX are added per boot); the
    firmware's CA always is (a wrong root cannot lock it out)."""
    f = getattr(cp.transport, "trust", None)
    if f is None:
        return
    for e in installed(cp):
        if e[0] == _CSMS and e[4] not in cp.trusted:
            if len(cp.trusted) >= MAX:
                log("certificate %d trusted after a reboot" % e[4])
                continue
            try:
                f(der(cp.store.load("cert%d.json" % e[4], "")))
            except (ValueError, OSError) as x:  # not a certificate TLS can use: skipped
                log("certificate %d not trusted: %s" % (e[4], x))
            cp.trusted += (e[4],)


def installed(cp):
    """[[certificateType, issuerNameHash, issuerKeyHash, serialNumber, n], ...] (the index)."""
    return cp.store.load(_INDEX, [], lambda d: type(d) is list and all(
        [type(e) is list and len(e) == 5 and type(e[4]) is int for e in d]))


def _tlv(b, i):
    """(tag, start, end) of the DER element at i: its value is b[start:end]."""
    n = b[i + 1]
    j = i + 2
    if n & 0x80:
        k = n & 0x7F
        if not 0 < k < 4:
            raise ValueError("DER length")
        n = int.from_bytes(b[j : j + k], "big")
        j += k
    if j + n > len(b):
        raise ValueError("DER cut short")
    return b[i], j, j + n


def der(pem):
    """The DER bytes of the first certificate of a PEM text."""
    a = pem.find("-----BEGIN CERTIFICATE-----")
    z = pem.find("-----END CERTIFICATE-----", a + 1)
    if a < 0 or z < 0:
        raise ValueError("not a PEM certificate")
    return a2b_base64("".join(pem[a + 27 : z].split()))


# the fields of parse()
TBS = const(0)
ISSUER = const(1)
SUBJECT = const(2)
SPKI = const(3)
_SERIAL = const(4)
_FROM = const(5)
_TO = const(6)
_ALG = const(7)
_SIG = const(8)
_RSA_SHA256 = b"\x2a\x86\x48\x86\xf7\x0d\x01\x01\x0b"  # OID 1.2.840.113549.1.1.11
ECDSA_SHA256 = b"\x2a\x86\x48\xce\x3d\x04\x03\x02"  # OID 1.2.840.10045.4.3.2
_RSA_KEY = b"\x2a\x86\x48\x86\xf7\x0d\x01\x01\x01"  # OID 1.2.840.113549.1.1.1
_MANUFACTURER = "ManufacturerRootCertificate"
_SHA256_INFO = b"\x30\x31\x30\x0d\x06\x09\x60\x86\x48\x01\x65\x03\x04\x02\x01\x05\x00\x04\x20"


def parse(d):
    """The parts of DER certificate d as bytes (see the field numbers above; the validity as
    seconds); ValueError if it is not one."""
    t, s, e = _tlv(d, 0)
    if t != 0x30 or e != len(d):
        raise ValueError("not a certificate")
    t, i, e = _tlv(d, s)  # tbsCertificate
    tbs_end = e
    items = []
    while i < e and len(items) < 7:
        t, s2, z = _tlv(d, i)
        items.append((t, i, s2, z))
        i = z
    if items and items[0][0] == 0xA0:  # [0] version
        items.pop(0)
    if len(items) < 6 or [x[0] for x in items[:6]] != [0x02, 0x30, 0x30, 0x30, 0x30, 0x30]:
        raise ValueError("not a certificate")
    serial, validity, spki = items[0], items[3], items[5]
    t, a, z = _tlv(d, validity[2])
    t2, a2, z2 = _tlv(d, z)
    t, a3, z3 = _tlv(d, tbs_end)  # signatureAlgorithm
    t, o, oz = _tlv(d, a3)  # its OID
    t, b, bz = _tlv(d, z3)  # signatureValue
    return (d[s:tbs_end], d[items[2][1]:items[2][3]], d[items[4][1]:items[4][3]], d[spki[1]:spki[3]],
            d[serial[2]:serial[3]], _time(d[a:z]), _time(d[a2:z2]), d[o:oz], d[b + 1:bz])


def _time(v):  # UTCTime YYMMDDHHMMSSZ or GeneralizedTime YYYYMMDDHHMMSSZ -> seconds
    v = v.decode()
    if len(v) == 13:
        v = ("19" if v[:2] >= "50" else "20") + v
    t = clock.parse("%s-%s-%sT%s:%s:%sZ" % (v[:4], v[4:6], v[6:8], v[8:10], v[10:12], v[12:14]))
    if t is None:
        raise ValueError("certificate validity")
    return t


def hash_data(d):
    """(issuerNameHash, issuerKeyHash, serialNumber), hex, of self-signed DER certificate d;
    ValueError if it is not one."""
    c = parse(d)
    if c[ISSUER] != c[SUBJECT]:
        raise ValueError("not self-signed")
    return (hexlify(sha256(c[ISSUER]).digest()).decode(), hexlify(sha256(_key(c[SPKI])).digest()).decode(),
            _serial(hexlify(c[_SERIAL]).decode()))


def _key(spki):  # the key's bits in a SubjectPublicKeyInfo
    t, s, e = _tlv(spki, 0)
    t, s, z = _tlv(spki, s)  # algorithm
    t, s, z = _tlv(spki, z)  # subjectPublicKey
    if t != 0x03:
        raise ValueError("no public key")
    return spki[s + 1 : z]


def pems(text):
    """The DER bytes of every certificate of a PEM text, in order."""
    out = []
    i = text.find("-----BEGIN CERTIFICATE-----")
    while i >= 0:
        out.append(der(text[i:]))
        i = text.find("-----BEGIN CERTIFICATE-----", i + 27)
    return out


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
        if not certs or spki is not None and certs[0][SPKI] != spki:
            return "not the key of the signing request" if spki else "no certificate"
        roots = [parse(der(cp.store.load("cert%d.json" % e[4], ""))) for e in installed(cp) if e[0] == root]
        now = clock.now() if clock.known else None
        for i, c in enumerate(certs):
            if now and not c[_FROM] <= now <= c[_TO]:
                return "certificate %d expired or not valid yet" % i
            up = certs[i + 1] if i + 1 < len(certs) else None
            if up is None or up[SUBJECT] != c[ISSUER]:  # the end of the chain: a root signed it
                for r in roots:
                    if r[SUBJECT] == c[ISSUER] and _signed(c, r, verify):
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
    return c[_ALG] in (_RSA_SHA256, ECDSA_SHA256) and signed(sha256(c[TBS]).digest(), c[_SIG], by[SPKI], verify)


def signed(digest, sig, spki, verify):
    """True if `sig` is the signature of a SHA-256 `digest` by the key of `spki` (DER
    SubjectPublicKeyInfo): RSA (PKCS #1 v1.5) is checked here, with one pow(); an EC key
    through verify(ECDSA_SHA256, digest, signature, spki) -> bool (a board's crypto, or the
    simulator's `cryptography`); without it, never."""
    t, s, e = _tlv(spki, 0)
    t, s, e = _tlv(spki, s)  # AlgorithmIdentifier
    t, s, e = _tlv(spki, s)  # its OID
    if spki[s:e] == _RSA_KEY:
        return _rsa(digest, sig, _key(spki))
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


def _serial(h):  # 2.0.1: hexadecimal without leading zeroes
    return h.lower().lstrip("0") or "0"


def InstallCertificate(cp, p):
    try:
        h = hash_data(der(p["certificate"]))
    except (ValueError, IndexError, TypeError) as e:
        log("InstallCertificate: %s" % e)
        return {"status": "Rejected"}
    kind = p["certificateType"]
    idx = installed(cp)
    for e in idx:
        if e[0] == kind and tuple(e[1:4]) == h:
            return {"status": "Accepted"}  # installed already
    if len(idx) >= MAX:
        return {"status": "Failed"}
    n = max([e[4] for e in idx] + [0]) + 1
    # the certificate first, then the index that names it: a cut leaves an unnamed file at worst
    if not cp.store.save("cert%d.json" % n, p["certificate"]):
        return {"status": "Failed"}
    idx.append([kind, h[0], h[1], h[2], n])
    return {"status": "Accepted" if cp.store.save(_INDEX, idx) else "Failed"}


def GetInstalledCertificateIds(cp, p):
    kinds = p.get("certificateType")
    out = []
    for e in installed(cp):
        if not kinds or e[0] in kinds:
            out.append({"certificateType": e[0], "certificateHashData": {
                "hashAlgorithm": "SHA256", "issuerNameHash": e[1], "issuerKeyHash": e[2],
                "serialNumber": e[3]}})
    return {"status": "Accepted", "certificateHashDataChain": out} if out else {"status": "NotFound"}


def DeleteCertificate(cp, p):
    h = p["certificateHashData"]
    idx = installed(cp)
    for e in idx:
        if h["hashAlgorithm"] == "SHA256" and [e[1].lower(), e[2].lower(), _serial(e[3])] == [
                h["issuerNameHash"].lower(), h["issuerKeyHash"].lower(), _serial(h["serialNumber"])]:
            if e[0] == _CSMS and [x[0] for x in idx].count(_CSMS) == 1:
                return {"status": "Failed"}
            idx.remove(e)
            if not cp.store.save(_INDEX, idx):
                return {"status": "Failed"}
            cp.store.remove("cert%d.json" % e[4])
            return {"status": "Accepted"}
    return {"status": "NotFound"}
