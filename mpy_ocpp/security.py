# OCPP 1.6 Security extension (whitepaper edition 3), built so far:
# - certificate management (InstallCertificate, DeleteCertificate, GetInstalledCertificateIds)
#   on the store of certificates.py, the one 2.0.1's M03-M05 use: a root installed under one
#   version is listed and deleted under the other (1.6's CentralSystemRootCertificate is
#   2.0.1's CSMSRootCertificate), and the wss:// link trusts it (certificates.trust);
# - ExtendedTriggerMessage, for the messages that exist;
# - SecurityEventNotification: the critical events are kept on flash until the CSMS has them,
#   in order, across reboots; the others go once, like any message.
# Not a feature profile: SupportedFeatureProfiles does not name it.
from . import certificates, clock
from .compat import const, log, ticks_diff, ticks_ms
from .config import BOOL, INT, RO
from .connector import later
from .store import NONE, rows

_FILE = "secevents.json"  # [[type, timestamp, techInfo or None], ...]: critical, not yet sent
_KEEP = const(16)  # the newest critical events kept
CRITICAL = ("FirmwareUpdated", "SettingSystemTime", "StartupOfTheDevice", "ResetOrReboot",
            "SecurityLogWasCleared", "MemoryExhaustion", "TamperDetectionActivated")

_CSMS = ("CentralSystemRootCertificate", "CSMSRootCertificate")


def setup(cp):
    d = cp.config.declare
    d("CertificateStoreMaxLength", INT, certificates.MAX, RO)
    d("AdditionalRootCertificateCheck", BOOL, False, RO)  # no fallback root to check against
    certificates.setup(cp)
    cp.security = Events(cp)


class Events:
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
        if kind not in CRITICAL:
            for q in self.cp.queue:  # one of a kind waiting at a time: a flood is one message
                if q[1] == "SecurityEventNotification" and q[2]["type"] == kind:
                    return False
            return self.cp.call("SecurityEventNotification", _payload(e))
        self.owed.append(e)
        del self.owed[:-_KEEP]  # a bounded file: the oldest goes (it was logged)
        self.cp.store.save(_FILE, self.owed)

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


def ExtendedTriggerMessage(cp, p):
    """Four of its messages are TriggerMessage's (remote_trigger.py, imported now: a build
    leaving it out answers NotImplemented); the others belong to parts not built yet (GetLog,
    signed firmware updates, SignCertificate)."""
    if p["requestedMessage"] in ("BootNotification", "Heartbeat", "MeterValues", "StatusNotification"):
        try:
            from .remote_trigger import TriggerMessage
        except ImportError:
            return {"status": "NotImplemented"}
        return TriggerMessage(cp, p)
    return {"status": "NotImplemented"}
