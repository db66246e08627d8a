# The Smart Charging profile's profiles, limits and calls from the CSMS (smart_charging.py
# declares the profile, and says what was decided). Imported for one call, or at boot, and let
# go (ocpp16.load); a SmartCharging object holds it while a profile is installed or waits
# for its transaction: `cp.smart_charging`, None when there is none.
from . import clock
from .compat import log, ticks_diff, ticks_ms
from .connector import later
from .store import NONE, rows

_FILE = "smart_charging.json"
_PURPOSES = ("ChargePointMaxProfile", "TxDefaultProfile", "TxProfile")
_MAX = const(0)
_DEFAULT = const(1)
_TXP = const(2)
_KINDS = ("Absolute", "Recurring", "Relative")
_RELATIVE = const(2)
_STEPS = const(64)  # composite schedule: at most this many periods
# entry fields: a list; _TX is the Transaction a TxProfile belongs to (saved as its journal
# record number, so that the profile survives a power cut with its transaction)
_ID = const(0)
_STACK = const(1)
_PURPOSE = const(2)
_CID = const(3)
_KIND = const(4)
_REC = const(5)  # recurrence in seconds, 0 = none
_FROM = const(6)
_TO = const(7)
_START = const(8)
_DUR = const(9)
_W = const(10)  # limits in W (else A)
_MINR = const(11)  # minChargingRate in tenths
_PERIODS = const(12)  # flat, 3 items a period: startPeriod, limit in tenths, numberPhases or None
# (a list per period took 32 B of heap: 24 periods, 0.5 KB more)
_TX = const(13)


def _min(a, b):
    return b if a is None else a if b is None or a < b else b


def _at(p, t, rel):
    """(period or None, until) of profile p at time t; `until` is when that may change (None:
    never). rel: where a Relative schedule starts (None: at t, wherever t is)."""
    vf, end = p[_FROM], p[_TO]
    if end is not None and t >= end:
        return None, None
    if vf is not None and t < vf:
        return None, vf
    start = p[_START]
    if p[_KIND] == _RELATIVE:
        if rel is None:
            return 0, end
        start = rel
    rec = p[_REC]
    if rec:
        start += (t - start) // rec * rec
        end = _min(end, start + rec)
    off = t - start
    if off < 0:
        return None, _min(end, start)
    dur = p[_DUR]
    if dur is not None:
        if off >= dur:
            return None, end
        end = _min(end, start + dur)
    per = None  # the period in effect: its index in p[_PERIODS]
    ps = p[_PERIODS]
    for i in range(0, len(ps), 3):  # the first one starts at 0 (SetChargingProfile checks it)
        if ps[i] > off:
            return per, _min(end, start + ps[i])
        per = i
    return per, end


def _flat(ps):
    """The periods of a saved entry, flat; a file written before they were flat has a list
    per period. None if neither."""
    t = (int, NONE)
    if rows(ps, int, int, t):
        return [x for q in ps for x in q]
    return ps if rows([ps[i:i + 3] for i in range(0, len(ps), 3)], int, int, t) else None


class SmartCharging:
    unsaved = False  # the file lags behind (flash full): held until a write succeeds
    voltage = 230  # V per phase, for W <-> A
    max_current = 32.0  # A per phase: what GetCompositeSchedule shows where no profile limits

    def __init__(self, cp):
        self.cp = cp
        # a TxProfile's _TX is bound in update()
        self.profiles = cp.store.load(_FILE, [], self._saved_ok)[:cp.config["MaxChargingProfilesInstalled"]]
        for e in self.profiles:
            e[_PERIODS] = _flat(e[_PERIODS])
        n = len(cp.connectors)
        self._txs = [None] * n  # each connector's transaction when the limits were computed
        self._starts = [None] * n  # and when it started (seconds): where Relative schedules start
        self._pending = [None] * n  # (entry, deadline): RemoteStartTransaction's TxProfile
        self._due = None  # ticks of the next recomputation, None = now
        self._offset = None
        self._held()

    def _held(self):
        """After loading or changing: held as cp.smart_charging while a profile is installed or
        waits for its transaction; without one, no connector is limited."""
        cp = self.cp
        if self.profiles or any(self._pending) or self.unsaved:
            cp.smart_charging = self
        else:
            cp.smart_charging = None
            for c in cp.connectors:
                c.limit = None

    def loop(self, now):  # smart_charging.loop's, while held
        if self._due is not None and ticks_diff(now, self._due) < 0 and self._offset == clock.offset:
            for c in self.cp.connectors:  # allocates nothing until a transaction starts or ends
                if c.tx is not self._txs[c.id]:
                    break
            else:
                return
        self.update(now)

    def _saved_ok(self, d):
        """The shape of what _saved() writes."""
        t, n = (int, NONE), len(self.cp.connectors)
        if not rows(d, int, int, int, int, int, int, t, t, t, t, bool, t, list, t):
            return False
        for e in d:
            if not (0 <= e[_PURPOSE] < 3 and 0 <= e[_CID] < n and 0 <= e[_KIND] < 3 and e[_REC] >= 0
                    and (e[_START] is not None or e[_KIND] == _RELATIVE) and e[_PERIODS]
                    and _flat(e[_PERIODS])):
                return False
        return True

    # profiles in, profiles out

    def install(self, e):
        """Add an entry: it replaces the same id, and the same purpose, level and connector."""
        keep = [p for p in self.profiles if p[_ID] != e[_ID] and not (
            p[_PURPOSE] == e[_PURPOSE] and p[_STACK] == e[_STACK] and p[_CID] == e[_CID])]
        if len(keep) >= self.cp.config["MaxChargingProfilesInstalled"]:
            return False
        keep.append(e)
        old, unsaved = self.profiles, self.unsaved
        if self._set(keep):
            return True
        # not on flash: refused, the profiles and their file as they were (ClearChargingProfile
        # takes effect in RAM)
        self.profiles, self.unsaved = old, unsaved
        self._held()
        return False

    def _set(self, profiles):
        """False if the file could not be written."""
        saved = self._saved()
        self.profiles = profiles
        self._due = None
        if self.unsaved or self._saved() != saved:  # a file that lags behind is written again
            self.unsaved = not self.cp.store.save(_FILE, self._saved())
        self._held()
        return not self.unsaved

    def _saved(self):
        out = []
        for p in self.profiles:
            tx = p[_TX]
            if p[_PURPOSE] != _TXP:
                out.append(p[:_TX] + [None])
            elif type(tx) is int or tx.seq:  # not for a transaction charged unreported
                out.append(p[:_TX] + [tx if type(tx) is int else tx.seq])
        return out

    def _bind(self):
        """After a boot: TxProfiles find their resumed transaction, or go with it."""
        keep = []
        for p in self.profiles:
            tx = p[_TX]
            if p[_PURPOSE] == _TXP and type(tx) is int:
                c = self.cp.connectors[p[_CID]] if p[_CID] < len(self.cp.connectors) else None
                if c is None or c.tx is None or c.tx.seq != tx:
                    continue
                p[_TX] = c.tx
            keep.append(p)
        if len(keep) != len(self.profiles):
            self._set(keep)

    # the limits

    def limit(self, c, t, rel):
        """(amps or None, numberPhases or None, until, minChargingRate in A or None) of
        connector c at time t; rel: where Relative schedules start (None: at t)."""
        best = [None, None, None]  # per purpose: (rank, period, entry)
        until = None
        for p in self.profiles:
            pur, cid = p[_PURPOSE], p[_CID]
            if pur == _TXP and p[_TX] is not c.tx or pur != _MAX and (
                    c.id == 0 or cid not in (0, c.id)):
                continue
            q, u = _at(p, t, rel)
            until = _min(until, u)
            if q is not None:
                rank = p[_STACK] * 2 + (cid != 0)
                b = best[pur]
                if b is None or rank > b[0]:
                    best[pur] = (rank, p[_PERIODS][q + 1], p[_PERIODS][q + 2], p)  # limit, phases
        amps = phases = mr = None
        tx = best[_TXP] or best[_DEFAULT]
        for b in (best[_MAX], tx):
            if b is not None:
                a = self._amps(b[3], b[1], b[2])
                if amps is None or a < amps:
                    amps, phases = a, b[2]
        if tx is not None and tx[3][_MINR] is not None:
            mr = self._amps(tx[3], tx[3][_MINR], tx[2])
        return amps, phases, until, mr

    def _amps(self, p, tenths, phases):
        a = tenths / 10
        return a / (self.voltage * (phases or 3)) if p[_W] else a

    def update(self, now):
        """Recompute every connector's limit; schedule the next time one can change."""
        t = clock.now()
        if self._offset is None:
            self._bind()
        d = clock.offset - (self._offset or 0)  # the clock was set: starts move with it
        self._offset = clock.offset
        for i in range(len(self._starts)):
            if self._starts[i] is not None:
                self._starts[i] += d
        keep = [p for p in self.profiles if p[_TO] is None or p[_TO] > t]
        if len(keep) != len(self.profiles):
            self._set(keep)
        nxt = None
        for c in self.cp.connectors[1:]:
            if c.tx is not self._txs[c.id]:
                self._tx_changed(c, now, t)
            a, _, u, _ = self.limit(c, t, self._starts[c.id] if c.tx else None)
            c.limit = None if a is None else round(a, 1)
            nxt = _min(nxt, u)
        self._due = later(now, 500000 if nxt is None else nxt - t)

    def _tx_changed(self, c, now, t):
        """A transaction started or ended: TxProfiles of another transaction go, a
        RemoteStartTransaction's TxProfile comes."""
        tx = self._txs[c.id] = c.tx
        s = getattr(tx, "start", None)  # ISO, or a marker while the clock is unknown
        self._starts[c.id] = type(s) is str and clock.parse(s) or t
        self._set([p for p in self.profiles if p[_PURPOSE] != _TXP or p[_TX] is c.tx])
        pend = self._pending[c.id]
        self._pending[c.id] = None
        if pend and c.tx and ticks_diff(now, pend[1]) < 0:
            pend[0][_TX] = c.tx
            if not self.install(pend[0]):
                log("connector %d: TxProfile of RemoteStartTransaction dropped" % c.id)


def SetChargingProfile(cp, p):
    s = cp.smart_charging or SmartCharging(cp)
    cid = p["connectorId"]
    prof = p["csChargingProfiles"]
    purpose = prof["chargingProfilePurpose"]
    ok = 0 <= cid < len(cp.connectors)
    if ok and purpose == "TxProfile":
        tx = cp.connectors[cid].tx
        txid = prof.get("transactionId")
        ok = tx is not None and (txid is None or txid == tx.id)
    elif purpose == "ChargePointMaxProfile":
        ok = cid == 0
    e = ok and parse(s, cid, prof, clock.now())
    if e and purpose == "TxProfile":
        e[_TX] = tx
    return {"status": "Accepted" if e and s.install(e) else "Rejected"}


def ClearChargingProfile(cp, p):
    s = cp.smart_charging
    if s is None:
        return {"status": "Unknown"}
    pid, cid, st = p.get("id"), p.get("connectorId"), p.get("stackLevel")
    pur = p.get("chargingProfilePurpose")
    pur = pur and _PURPOSES.index(pur)

    def match(e):  # an id alone decides; otherwise every criterion given must match
        if pid is not None:
            return e[_ID] == pid
        return ((cid is None or e[_CID] == cid) and (pur is None or e[_PURPOSE] == pur)
                and (st is None or e[_STACK] == st))
    keep = [e for e in s.profiles if not match(e)]
    if len(keep) == len(s.profiles):
        return {"status": "Unknown"}
    s._set(keep)
    return {"status": "Accepted"}


def GetCompositeSchedule(cp, p):
    cid, duration = p["connectorId"], p["duration"]
    if not 0 <= cid < len(cp.connectors) or duration < 0:
        return {"status": "Rejected"}
    t0 = clock.now()
    sch = composite(cp.smart_charging or SmartCharging(cp), cp.connectors[cid], t0, duration, p.get("chargingRateUnit") == "W")
    return {"status": "Accepted", "connectorId": cid, "scheduleStart": clock.iso(t0), "chargingSchedule": sch}


def parse(self, cid, p, now):
    """The entry of SmartCharging `self` for a csChargingProfiles payload, or None if this
    charger refuses it."""
    cfg = self.cp.config
    sch = p["chargingSchedule"]
    w = sch["chargingRateUnit"] == "W"
    stack = p["stackLevel"]
    ps = sch["chargingSchedulePeriod"]
    if (("Power" if w else "Current") not in cfg["ChargingScheduleAllowedChargingRateUnit"]
            or not 0 <= stack <= cfg["ChargeProfileMaxStackLevel"]
            or not 0 < len(ps) <= cfg["ChargingScheduleMaxPeriods"]):
        return None
    periods = []
    last = -1
    for q in ps:  # the first period starts at 0, the others later each
        sp, n = q["startPeriod"], q.get("numberPhases")
        if sp <= last or last < 0 < sp or q["limit"] < 0 or n is not None and not 0 < n < 4:
            return None
        last = sp
        periods.extend((sp, int(q["limit"] * 10 + 0.5), n))
    times = []
    for v in (p.get("validFrom"), p.get("validTo"), sch.get("startSchedule")):
        t = v and clock.parse(v)
        if v and t is None:
            return None
        times.append(t)
    kind = _KINDS.index(p["chargingProfileKind"])
    rec = 0
    if kind == 1:
        rec = {"Daily": 86400, "Weekly": 604800}.get(p.get("recurrencyKind"))
        if rec is None or times[2] is None:
            return None
    elif kind == 0 and times[2] is None:
        times[2] = now
    mr = sch.get("minChargingRate")
    return [p["chargingProfileId"], stack, _PURPOSES.index(p["chargingProfilePurpose"]), cid,
            kind, rec, times[0], times[1], times[2], sch.get("duration"), w,
            None if mr is None else int(mr * 10 + 0.5), periods, None]


def remote_start(cp, c, p):
    """RemoteStartTransaction's chargingProfile: a TxProfile for the transaction that starts."""
    self = cp.smart_charging or SmartCharging(cp)
    e = p["chargingProfilePurpose"] == "TxProfile" and parse(self, c.id, p, clock.now())
    if not e or len(self.profiles) >= self.cp.config["MaxChargingProfilesInstalled"]:
        return False
    wait = self.cp.config["ConnectionTimeOut"] + self.cp.call_timeout
    self._pending[c.id] = (e, later(ticks_ms(), wait))
    self._held()
    return True


def composite(self, c, t0, duration, w):
    """GetCompositeSchedule's chargingSchedule for connector c from time t0 (unit W if w)."""
    if c.tx is not self._txs[c.id]:  # made for this call: where the transaction started
        self.update(ticks_ms())
    rel = self._starts[c.id] if c.tx is not None else t0
    periods = []
    t = t0
    mr = None
    for i in range(_STEPS):
        a, n, u, m = self.limit(c, t, rel)
        if i == 0:
            mr = m
        if a is None:
            a, n = self.max_current, None
        q = {"startPeriod": t - t0, "limit": _out(self, a, n, w)}
        if n:
            q["numberPhases"] = n
        if not periods or periods[-1]["limit"] != q["limit"] or periods[-1].get("numberPhases") != n:
            periods.append(q)
        if u is None or u >= t0 + duration:
            break
        t = u
    s = {"duration": duration, "startSchedule": clock.iso(t0),
         "chargingRateUnit": "W" if w else "A", "chargingSchedulePeriod": periods}
    if mr is not None:
        s["minChargingRate"] = _out(self, mr, None, w)
    return s


def _out(self, amps, phases, w):
    return round(amps * self.voltage * (phases or 3) if w else amps, 1)
