# Certificate management, OCPP 2.0.1's M03-M05 (GetInstalledCertificateIds, DeleteCertificate,
# InstallCertificate; 1.6's Security extension answers through them: security.py): root
# certificates on flash, with their hash data (SHA-256) computed here
# from the DER (a small DER reader: no X.509 library needed). Only self-signed certificates are
# installed (every type here is a root: its issuer's key is its own); the signature is not
# checked. The last CSMS root is never deleted (the link's TLS would have nothing to trust).
# Nothing stays in RAM: an index document, and one document per certificate (its PEM).
# (binascii and hashlib are imported where used: this module's dict then holds 17 names, in 17
# slots; 21 took 23. The index's name is written where used for the same reason.)
from .compat import log

# the index, certs.json: [[certificateType, issuerNameHash, issuerKeyHash, serialNumber, n]]
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
    return cp.store.load("certs.json", [], lambda d: type(d) is list and all(
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
    from binascii import a2b_base64

    return a2b_base64("".join(pem[a + 27 : z].split()))


# the fields of parse() (certificate_chains.py has the same numbers)
_ISSUER = const(1)
_SUBJECT = const(2)
_SPKI = const(3)
_SERIAL = const(4)


def parse(d):
    """The parts of DER certificate d as bytes (the field numbers above: the signed part, the
    names, the key, the serial number, the Validity and what follows the signed part, both as
    DER); ValueError if it is not one."""
    t, s, e = _tlv(d, 0)
    if t != 0x30 or e != len(d):
        raise ValueError("not a certificate")
    t, i, e = _tlv(d, s)  # tbsCertificate
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
    return (d[s:e], d[items[2][1]:items[2][3]], d[items[4][1]:items[4][3]], d[spki[1]:spki[3]],
            d[serial[2]:serial[3]], d[validity[2]:validity[3]], d[e:])


def hash_data(d):
    """(issuerNameHash, issuerKeyHash, serialNumber), hex, of self-signed DER certificate d;
    ValueError if it is not one."""
    from binascii import hexlify
    from hashlib import sha256

    c = parse(d)
    if c[_ISSUER] != c[_SUBJECT]:
        raise ValueError("not self-signed")
    return (hexlify(sha256(c[_ISSUER]).digest()).decode(), hexlify(sha256(key(c[_SPKI])).digest()).decode(),
            _serial(hexlify(c[_SERIAL]).decode()))


def key(spki):  # the key's bits in a SubjectPublicKeyInfo
    t, s, e = _tlv(spki, 0)
    t, s, z = _tlv(spki, s)  # algorithm
    t, s, z = _tlv(spki, z)  # subjectPublicKey
    if t != 0x03:
        raise ValueError("no public key")
    return spki[s + 1 : z]


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
    return {"status": "Accepted" if cp.store.save("certs.json", idx) else "Failed"}


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
            if not cp.store.save("certs.json", idx):
                return {"status": "Failed"}
            cp.store.remove("cert%d.json" % e[4])
            return {"status": "Accepted"}
    return {"status": "NotFound"}
