# OCPP 1.6 Security extension (whitepaper edition 3), built so far:
# - certificate management (InstallCertificate, DeleteCertificate, GetInstalledCertificateIds)
#   on the store of certificates.py, the one 2.0.1's M03-M05 use: a root installed under one
#   version is listed and deleted under the other (1.6's CentralSystemRootCertificate is
#   2.0.1's CSMSRootCertificate), and the wss:// link trusts it (certificates.trust);
# - ExtendedTriggerMessage, for the messages that exist;
# - SecurityEventNotification: the critical events are kept on flash until the CSMS has them,
#   in order, across reboots; the others go once, like any message;
# - the security log: every event, a line each in seclog.txt (the previous 4 KB in seclog.old),
#   which GetLog (SecurityLog) uploads; GetLog (DiagnosticsLog) uploads what GetDiagnostics
#   does. The upload is Firmware Management's (firmware_management.py): a build without it
#   answers GetLog Rejected;
# - the charge point's certificate: ExtendedTriggerMessage(SignChargePointCertificate) ->
#   SignCertificate with a CSR that the firmware's hook makes (and with it the key pair, which
#   only the firmware holds) -> CertificateSigned: the chain checked (certificate_chains.py,
#   imported when needed, like the check of a signed update)
#   and handed to the firmware's hook, then the link reconnects with it;
# - SignedUpdateFirmware: the signing certificate checked against the installed manufacturer
#   roots, then Firmware Management's update with the image's signature checked;
# - SecurityProfile: 0-3 as the link is (plain, Basic auth, TLS + Basic auth, TLS + client
#   certificate); the CSMS may only raise it, and only to a profile the firmware's hook can
#   give a transport for. The charge point then moves to that transport; if it is not online
#   within `trial` seconds it goes back to the one before (the key too) and says so in a
#   security event. At boot a stored value above what the firmware's link has is tried again
#   the same way.
# Not a feature profile: SupportedFeatureProfiles does not name it.
import os

from . import certificates, clock
from .compat import log, ticks_diff, ticks_ms
from .config import BOOL, INT, RO
from .connector import later
from .store import NONE, rm, rows

_FILE = "secevents.json"  # [[type, timestamp, techInfo or None], ...]: critical, not yet sent
_KEEP = const(16)  # the newest critical events kept
_LOG = "seclog.txt"  # the security log, and its previous part (seclog.old)
_LOG_MAX = const(4096)  # bytes of seclog.txt before it becomes seclog.old
CRITICAL = ("FirmwareUpdated", "SettingSystemTime", "StartupOfTheDevice", "ResetOrReboot",
            "SecurityLogWasCleared", "MemoryExhaustion", "TamperDetectionActivated")

_CSMS = ("CentralSystemRootCertificate", "CSMSRootCertificate")


def setup(cp):
    d = cp.config.declare
    d("SecurityProfile", INT, 0, 0, lambda v: cp.security._allowed(v))
    d("CertificateStoreMaxLength", INT, certificates.MAX, RO)
    d("AdditionalRootCertificateCheck", BOOL, False, RO)  # no fallback root to check against
    certificates.setup(cp)
    cp.security = Events(cp)


class Events:
    # the firmware's hooks for the charge point's certificate (class defaults: no heap unset)
    csr = None  # f() -> a PEM certificate signing request, CN = the charge box id, for a new
    # key pair the firmware keeps until on_certificate
    on_certificate = None  # f(PEM chain) -> True once the chain and that key are what the
    # transport's next handshakes use (Security Profile 3: WebSocket.use_cert)
    verify = None  # f(algorithm OID, SHA-256 digest, signature, signer's SubjectPublicKeyInfo)
    # -> bool: signatures by EC keys (certificate_chains.signed: ECDSA through a board's crypto)
    spki = None  # the key of the signing request under way
    transport = None  # f(profile) -> a transport for Security Profile 1-3 (e.g. a WebSocket to
    # the wss:// URL for 2, with a client certificate for 3), or None if this charger has none
    trial = 60  # s a new profile has to get online before the charge point goes back
    _next = None  # (profile before, profile, transport): a change to make at the next loop()
    _trial = None  # (profile before, transport before, deadline ticks) while a new one is tried
    _err = None  # the transport's error last looked at

    def __init__(self, cp):
        self.cp = cp
        self.owed = cp.store.load(_FILE, [], lambda d: rows(d, str, str, (str, NONE)))[-_KEEP:]
        self.out = False  # the oldest owed one is in the queue or in flight
        self.due = ticks_ms()
        self.started = False  # StartupOfTheDevice: at the first loop(), the charge point made

    def add(self, kind, info=None):
        """A security event for the CSMS (ChargePoint.security_event is how others call it)."""
        e = [kind[:50], clock.iso(), info and str(info)[:255]]
        log("security event %s%s" % (kind, ": " + e[2] if e[2] else ""))
        self._record(e)
        if kind not in CRITICAL:
            for q in self.cp.queue:  # one of a kind waiting at a time: a flood is one message
                if q[1] == "SecurityEventNotification" and q[2]["type"] == kind:
                    return False
            return self.cp.call("SecurityEventNotification", _payload(e))
        self.owed.append(e)
        del self.owed[:-_KEEP]  # a bounded file: the oldest goes (it was logged)
        self.cp.store.save(_FILE, self.owed)

    def _record(self, e):  # one line of the security log; a full flash loses the line only
        p = self.cp.store.path + "/" + _LOG
        try:
            try:
                if os.stat(p)[6] > _LOG_MAX:
                    old = p[:-3] + "old"
                    rm(old)  # FAT will not rename over it
                    os.rename(p, old)
            except OSError:
                pass  # no log yet
            with open(p, "a") as f:
                f.write("%s %s %s\n" % (e[1], e[0], e[2] or ""))
        except OSError as x:
            log("security log: %r" % x)

    def log_file(self, start, stop):
        """GetLog SecurityLog: the lines of the log from `start` to `stop` (ISO times; None:
        open), in a file for the upload. A line from before the clock was set always goes."""
        cp = self.cp
        lo, hi = start and clock.parse(start), stop and clock.parse(stop)
        path = "%s/%s_security_%s.txt" % (cp.store.path, cp.id, clock.iso().replace("-", "").replace(":", ""))
        try:
            with open(path, "wb") as out:
                for n in (_LOG[:-3] + "old", _LOG):
                    try:
                        f = open(cp.store.path + "/" + n, "rb")  # bytes: a damaged line is copied
                    except OSError:
                        continue
                    with f:
                        for line in f:
                            try:
                                t = clock.parse(line[:20].decode())  # the time clock.iso() wrote
                            except UnicodeError:
                                t = None
                            if t is None or (not lo or t >= lo) and (not hi or t <= hi):
                                out.write(line)
        except OSError:
            rm(path)
            raise
        return path

    def check_image(self, f):
        """A job for Firmware Management (f): is the downloaded image the one the signed
        update's certificate signed? Its SHA-256 from f.digest, or from the file (a block per
        step)."""
        from binascii import a2b_base64
        from hashlib import sha256

        from . import certificate_chains
        d = f.digest(f.image) if f.digest else None
        if d is None:
            h, buf = sha256(), bytearray(f.chunk)
            with open(f.image, "rb") as fh:
                n = fh.readinto(buf)
                while n:
                    h.update(memoryview(buf)[:n])
                    yield None
                    n = fh.readinto(buf)
            d = h.digest()
        spki = certificates.parse(certificates.der(f._sig[2]))[3]  # the signing certificate's key
        yield certificate_chains.signed(d, a2b_base64(f._sig[1]), spki, self.verify)

    # SecurityProfile

    def _allowed(self, v):
        """The key's check: 0-3, never lower; higher only with a transport for it (and for 1
        and 2 an AuthorizationKey). Before the first loop() (the stored value is read) the range
        only: the firmware sets its hooks after ChargePoint()."""
        if not 0 <= v <= 3:
            return False
        cur = self.cp.config["SecurityProfile"]
        if not self.started or v == cur:
            return True
        if v < cur or self._trial or v < 3 and not self.cp.config["AuthorizationKey"]:
            return False
        t = self._get(v)
        if t is not None:
            self._next = (cur, v, t)
        return t is not None

    def _get(self, v):
        try:
            return self.transport(v) if self.transport else None
        except Exception as e:  # the firmware's code must not stop the charger
            log("security: no transport for profile %d: %r" % (v, e))
            return None

    def _use(self, t, now, back=None):
        """Move to transport t (the old one is closed); back: (profile, transport) to return to
        if t is not online within `trial` seconds."""
        cp = self.cp
        old = cp.transport
        cp.transport = t
        old.close()
        cp.trusted = ()  # another TLS context: the installed roots go to it
        cp._connect()
        self._trial = back and (back[0], back[1], later(now, self.trial))

    def _profile(self, now):  # security.loop's part, while a profile changes or is tried
        cp = self.cp
        n, tr = self._next, self._trial
        if n:
            self._next = None
            if cp.config["SecurityProfile"] != n[1]:  # the change was not stored
                return n[2].close()
            self._use(n[2], now, (n[0], cp.transport))
        elif tr and cp.transport.online:  # said once it works (one event of a kind waits at a time)
            self._trial = None
            self.add("ReconfigurationOfSecurityParameters", "SecurityProfile %d" % cp.config["SecurityProfile"])
        elif tr and ticks_diff(now, tr[2]) >= 0:
            self.add("ReconfigurationOfSecurityParameters", "SecurityProfile %d did not connect: back to %d" % (
                cp.config["SecurityProfile"], tr[0]))
            cp.config.values["SecurityProfile"] = tr[0]
            cp.config.save()
            self._use(tr[1], now)

    def _boot(self, now):
        """At the first loop(): the profile the link has; a higher one kept from before is
        tried again."""
        cp = self.cp
        t = cp.transport
        have = 3 if getattr(t, "client_cert", False) else 2 if getattr(t, "ctx", None) else (
            1 if cp.config["AuthorizationKey"] else 0)
        want = cp.config["SecurityProfile"]
        cp.config.values["SecurityProfile"] = have
        if want > have:
            n = self._get(want)
            if n is not None:
                cp.config.values["SecurityProfile"] = want
                self._use(n, now, (have, t))

    def _requested(self, res):  # SignCertificate's answer
        if not res or res["status"] != "Accepted":
            log("security: the CSMS will not sign the request")
            self.spki = None

    def _sent(self, res):
        self.out = False
        if res is None:  # an error answer or none: again in 30 s
            self.due = later(ticks_ms(), 30)
            return
        self.owed.pop(0)
        self.cp.store.save(_FILE, self.owed)


def _payload(e):
    p = {"type": e[0], "timestamp": e[1]}
    if e[2]:
        p["techInfo"] = e[2]
    return p


def loop(cp, now):
    s = cp.security
    if not s.started:
        s.started = True
        s.add("StartupOfTheDevice")
        s._boot(now)
    if s._trial or s._next and not cp.pending:  # a change waits for the answer in flight
        s._profile(now)
    e = cp.transport.error
    if e is not s._err:  # why the link failed, once per new reason
        s._err = e
        if e and "HTTP 401" in e:
            s.add("FailedToAuthenticateAtCentralSystem")
        elif e and ("VERIFY_FAILED" in e or e.startswith("The certificate")):  # CPython's, mbedTLS's words
            s.add("InvalidCentralSystemCertificate", e[:255])
    if s.owed and not s.out and cp.accepted and cp.online and ticks_diff(now, s.due) >= 0:
        s.out = cp.call("SecurityEventNotification", _payload(s.owed[0]), s._sent)
        if not s.out:  # no room in the queue: again later, not at every loop()
            s.due = later(now, 30)


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


def GetLog(cp, p):
    """GetDiagnostics' upload, reported by LogStatusNotification with the request's id; a new
    request cancels the upload under way."""
    f = cp.firmware
    if f is None:  # no upload in this build
        return {"status": "Rejected"}
    status = "Accepted"
    m = f.machine()  # Firmware Management's (its functions take f)
    if f._diag:
        m._close(f._diag.job)
        m._end_upload(f)
        status = "AcceptedCanceled"
    lg = p["log"]
    make = cp.security.log_file if p["logType"] == "SecurityLog" else m.hook(f, "diagnostics", m.diagnostics_file)
    path = m._make(f, make, lg.get("oldestTimestamp"), lg.get("latestTimestamp"))
    if not path:
        return {"status": "Rejected"}
    f._tmp = path  # removed after the upload
    m._begin_upload(f, path, lg["remoteLocation"], p, p["requestId"])
    return {"status": status, "filename": path.rsplit("/", 1)[-1]}


def _log_status(cp, p):  # ExtendedTriggerMessage: the GetLog upload under way, if any
    f = cp.firmware
    up = f._diag and f._req is not None
    f.machine()._send_diag(f, "Uploading" if up else "Idle", f._req if up else -1)
    return {"status": "Accepted"}


def ExtendedTriggerMessage(cp, p):
    """Four of its messages are TriggerMessage's (remote_trigger.py, imported now: a build
    leaving it out answers NotImplemented); LogStatusNotification is GetLog's; the others
    belong to parts not built yet (signed firmware updates, SignCertificate)."""
    what = p["requestedMessage"]
    if what in ("BootNotification", "Heartbeat", "MeterValues", "StatusNotification"):
        try:
            from .remote_trigger import TriggerMessage
        except ImportError:
            return {"status": "NotImplemented"}
        return TriggerMessage(cp, p)
    if what == "LogStatusNotification" and cp.firmware:
        return cp.trigger(_log_status, p)
    if what == "FirmwareStatusNotification" and cp.firmware:  # the signed update's, if one runs
        return cp.trigger(lambda cp, p: cp.firmware.machine().notify_firmware(cp.firmware, True) or {
            "status": "Accepted"}, p)
    if what == "SignChargePointCertificate":
        return cp.trigger(_sign, p)
    return {"status": "NotImplemented"}


def SignedUpdateFirmware(cp, p):
    """UpdateFirmware (Firmware Management's machine; without it Rejected) for an image signed
    by a certificate that an installed ManufacturerRootCertificate signed; the image's
    signature is checked once it is downloaded. installDateTime is not waited for: the image
    is installed once no transaction runs, as UpdateFirmware's."""
    f, fw = cp.firmware, p["firmware"]
    if f is None:
        return {"status": "Rejected"}
    from . import certificate_chains
    why = certificate_chains.check_chain(cp, fw["signingCertificate"], cp.security.verify,
                                         root="ManufacturerRootCertificate")
    if why:
        cp.security.add("InvalidFirmwareSigningCertificate", why)
        return {"status": "InvalidCertificate"}
    busy = f._get is not None or f._job is not None or f.installing  # an update under way
    if not f.machine().update(f, fw["location"], clock.parse(fw["retrieveDateTime"]) or 0, p.get("retries", 2),
                    p.get("retryInterval", 30), [p["requestId"], fw["signature"], fw["signingCertificate"]]):
        return {"status": "Rejected"}  # installing now
    return {"status": "AcceptedCanceled" if busy else "Accepted"}


def _sign(cp, p):
    from . import certificate_chains
    csr = certificate_chains.request(cp.security)
    if csr is None:
        return {"status": "Rejected"}
    cp.call("SignCertificate", {"csr": csr}, cp.security._requested)
    return {"status": "Accepted"}


def CertificateSigned(cp, p):
    from . import certificate_chains
    if certificate_chains.take(cp, cp.security, p["certificateChain"]):
        return {"status": "Rejected"}
    cp.trusted = ()  # the transport may have a new TLS context: the roots go to it again
    cp._rekey = True  # reconnect with the new certificate once this answer is out
    return {"status": "Accepted"}
