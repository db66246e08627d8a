# Configuration keys (OCPP 1.6 §9): type, flags, default, validation, persistence.
from .compat import log

BOOL = const(0)
INT = const(1)
STR = const(2)
MEASURANDS = const(3)  # comma-separated measurand list, checked against what the meters offer
ROTATION = const(4)  # ConnectorPhaseRotation: "0.RST,1.RTS"
LIST = const(5)  # comma-separated list, read-only
MEMBERS = const(6)  # comma-separated list checked by its key's check (2.0.1 MemberList)

RO = const(1)  # read-only
WO = const(2)  # write-only: never returned, never logged
REBOOT = const(4)  # a change takes effect after a reboot
KEEP = const(8)  # needed to reach the CSMS: also kept in secret.json (see Config.load)
V201 = const(16)  # an OCPP 2.0.1 variable with no 1.6 key: hidden from the 1.6 messages

_FILE = "config.json"
_SECRET = "secret.json"
_GEN = "#"  # in both files: the generation of the KEEP values, counted up when one changes

# (name, type, flags, default). Defaults that depend on the charger are set by ChargePoint.
CORE = (
    ("AllowChargingWhenJournalFull", BOOL, 0, False),  # ours: charge unreported, see journal.py
    ("AllowOfflineTxForUnknownId", BOOL, 0, False),
    ("AuthorizationCacheEnabled", BOOL, 0, True),
    ("AuthorizationKey", STR, WO | KEEP, ""),
    ("AuthorizeRemoteTxRequests", BOOL, 0, True),
    ("BlinkRepeat", INT, 0, 3),
    ("ClockAlignedDataInterval", INT, 0, 0),
    ("ConnectionTimeOut", INT, 0, 60),
    ("ConnectorPhaseRotation", ROTATION, 0, "0.Unknown"),
    ("ConnectorPhaseRotationMaxLength", INT, RO, 8),
    ("GetConfigurationMaxKeys", INT, RO, 64),
    ("HeartbeatInterval", INT, 0, 300),
    ("LightIntensity", INT, 0, 100),
    ("LocalAuthorizeOffline", BOOL, 0, True),
    ("LocalPreAuthorize", BOOL, 0, False),
    ("MaxEnergyOnInvalidId", INT, 0, 0),
    ("MeterValuesAlignedData", MEASURANDS, 0, "Energy.Active.Import.Register"),
    ("MeterValuesAlignedDataMaxLength", INT, RO, 8),
    ("MeterValuesSampledData", MEASURANDS, 0, "Energy.Active.Import.Register,Power.Active.Import"),
    ("MeterValuesSampledDataMaxLength", INT, RO, 8),
    ("MeterValueSampleInterval", INT, 0, 60),
    ("MinimumStatusDuration", INT, 0, 0),
    ("NumberOfConnectors", INT, RO, 1),
    ("ResetRetries", INT, 0, 2),
    ("StopTransactionOnEVSideDisconnect", BOOL, 0, True),
    ("StopTransactionOnInvalidId", BOOL, 0, True),
    ("StopTxnAlignedData", MEASURANDS, 0, ""),
    ("StopTxnAlignedDataMaxLength", INT, RO, 8),
    ("StopTxnSampledData", MEASURANDS, 0, "Energy.Active.Import.Register"),
    ("StopTxnSampledDataMaxLength", INT, RO, 8),
    ("SupportedFeatureProfiles", LIST, RO, "Core"),
    ("SupportedFeatureProfilesMaxLength", INT, RO, 6),
    ("TransactionMessageAttempts", INT, 0, 3),
    ("TransactionMessageRetryInterval", INT, 0, 60),
    ("UnlockConnectorOnEVSideDisconnect", BOOL, 0, True),
    ("WebSocketPingInterval", INT, 0, 60),
)

_ROTATIONS = ("NotApplicable", "Unknown", "RST", "RTS", "SRT", "STR", "TRS", "TSR")


def _text(kind, v):
    if kind == BOOL:
        return "true" if v else "false"
    return str(v)


class Config:
    """Values by exact key name; `measurand_ok(name, available)` and `connectors` come from
    ChargePoint."""

    def __init__(self, store, measurand_ok, connectors):
        self.store = store
        self.measurand_ok = measurand_ok
        self.connectors = connectors
        self.tables = [CORE]  # CORE and the key tables added to it (not copies: they stay in flash)
        self.checks = {}  # custom validators of declared keys
        # The values set (from flash, by the CSMS, by set_default); a key that has none reads
        # its default from its table, in flash (a dict of every key took ~600 B of heap)
        self.values = {}
        self.gen = 0  # of the KEEP values
        self.on_change = None  # f(name), set by ChargePoint

    def add(self, table):
        """A profile's keys: a tuple of (name, kind, flags, default) entries like CORE, made of
        constants so that it stays in flash on a frozen build (a custom key's entry would take
        32 B of heap). Checks go in `checks`."""
        self.tables.append(table)

    def declare(self, name, kind, default, flags=0, check=None):
        """Add a key (a custom one). `check(value) -> bool` for extra validation."""
        self.add(((name, kind, flags, default),))
        if check:
            self.checks[name] = check

    def keys(self):  # every key entry, CORE's first
        for t in self.tables:
            yield from t

    def __getitem__(self, name):  # allocates nothing: loop() reads keys
        v = self.values
        if name in v:
            return v[name]
        k = self.entry(name)
        if k:
            return k[3]
        raise KeyError(name)

    def value(self, k):  # of key entry k
        return self.values.get(k[0], k[3])

    def entry(self, name):
        """The key entry of exactly this name, or None (no generator: nothing allocated)."""
        for t in self.tables:
            for k in t:
                if k[0] == name:
                    return k

    def set_default(self, name, value):
        self.values[name] = value

    def load(self):
        """The stored values. A bad value is dropped (the others stay); a bad file is set aside.
        KEEP values survive the loss of either file: both hold them with their generation, the
        newer copy wins (secret.json on a tie: nothing else writes it), and a missing or stale
        copy is written again so that the next loss is survivable too."""
        doc = self.store.load(_FILE, {}, lambda d: type(d) is dict)
        sec = self.store.load(_SECRET, None, self._secret_ok)
        gen = doc.pop(_GEN, 0)
        gen = gen if type(gen) is int else 0
        for name, text in doc.items():
            self._restore(name, text)
        kept = self._kept()
        if sec and sec[_GEN] >= gen:
            for k in kept:
                self._restore(k[0], sec[k[0]])
        self.gen = max(gen, sec[_GEN] if sec else 0)
        mine = self._secrets()
        blank = not self.gen and all([mine[k[0]] == _text(k[1], k[3]) for k in kept])
        if sec != mine and not (sec is None and blank):
            self.store.save(_SECRET, mine)
        if gen != self.gen or [k for k in kept if doc.get(k[0], _text(k[1], k[3])) != mine[k[0]]]:
            self.save()

    def _restore(self, name, text):
        k = self.find(name)
        v = self.parse(k, text, False) if k and not k[2] & RO and type(text) is str else None
        if v is None:
            log("config: stored %s ignored" % name)
        else:
            self.values[k[0]] = v

    def _kept(self):
        return [k for k in self.keys() if k[2] & KEEP]

    def _secrets(self):
        doc = {_GEN: self.gen}
        for k in self._kept():
            doc[k[0]] = _text(k[1], self.value(k))
        return doc

    def _secret_ok(self, d):
        if type(d) is not dict or type(d.get(_GEN)) is not int:
            return False
        for k in self._kept():
            if type(d.get(k[0])) is not str:
                return False
        return True

    def find(self, name):
        """The key entry for a name (keys are case-insensitive CiStrings), or None."""
        k = self.entry(name)  # the exact spelling first
        if k:
            return k
        n = name.lower()
        for k in self.keys():
            if k[0].lower() == n:
                return k
        return None

    def parse(self, k, text, strict=True):
        """The typed value of `text` for key `k`, or None if it is not valid. Stored values are
        read before the firmware has wired its meters: `strict=False` checks names only."""
        name, kind = k[0], k[1]
        if kind == BOOL:
            t = text.lower()
            v = True if t == "true" else False if t == "false" else None
        elif kind == INT:
            v = int(text) if text.isdigit() and len(text) < 10 else None
            if name == "LightIntensity" and v is not None and v > 100:
                v = None
        elif kind in (MEASURANDS, ROTATION):
            v = self._list(k, text, strict)
        else:
            v = text
        check = self.checks.get(name)
        if v is not None and check and not check(v):
            v = None
        return v

    def _list(self, k, text, strict):
        items = [i.strip() for i in text.split(",")] if text.strip() else []
        m = self.entry(k[0] + "MaxLength")
        limit = m and self.value(m)
        if limit is not None and len(items) > limit:
            return None
        for i in items:
            if k[1] == MEASURANDS:
                ok = self.measurand_ok(i, strict)
            else:
                c, _, r = i.partition(".")
                ok = c.isdigit() and int(c) <= self.connectors and r in _ROTATIONS
            if not ok:
                return None
        return ",".join(items)

    def change(self, key, text):
        """ChangeConfiguration: the status to answer."""
        k = self.find(key)
        if k is None or k[2] & V201:
            return "NotSupported"
        return self.set(k, text)

    def set(self, k, text):
        """A new value (its text) for key entry k: "Accepted", "RebootRequired" or "Rejected"
        (read-only, invalid, or not on flash)."""
        if k[2] & RO:
            return "Rejected"
        v = self.parse(k, text)
        if v is None:
            return "Rejected"
        old = self.value(k)
        self.values[k[0]] = v
        if old != v and k[2] & KEEP:  # the second copy first: the newer one wins at load()
            self.gen += 1
            ok = self.store.save(_SECRET, self._secrets())
            if ok:
                self.save()  # config.json: load() repairs a stale copy
        else:
            ok = self.save()
        if not ok:  # not on flash: the old value stays (a reboot would bring it back)
            self.values[k[0]] = old
            return "Rejected"
        if old != v and self.on_change:
            self.on_change(k[0])
        return "RebootRequired" if k[2] & REBOOT else "Accepted"

    def save(self):
        doc = {_GEN: self.gen} if self.gen else {}
        for k in self.keys():
            if not k[2] & RO and self.value(k) != k[3]:
                doc[k[0]] = _text(k[1], self.value(k))
        return self.store.save(_FILE, doc)

    def get_configuration(self, names):
        """GetConfiguration.conf payload for the requested names (all if none). Its
        configurationKey is a function that yields the entries one at a time (rpc.dump writes
        them as they come: the whole answer, 60 objects, never exists at once)."""
        unknown = []  # asked for by name: unknown, or write-only (never listed)
        for n in names or ():
            k = self.find(n)
            if k is None or k[2] & (WO | V201):
                unknown.append(n)

        def known():
            for name in names or self.keys():
                k = name if type(name) is tuple else self.find(name)
                if k is not None and not k[2] & (WO | V201):
                    yield {"key": k[0], "readonly": bool(k[2] & RO), "value": _text(k[1], self.value(k))}
        out = {"configurationKey": known}
        if unknown:
            out["unknownKey"] = unknown
        return out
