# Smart Charging (OCPP 1.6 §3.13): charging profiles, the composite schedule and the limit
# output. Decisions (README / DESIGN say the same):
# - connector.limit, handed to the firmware's on_limit, is always amps per phase rounded to
#   0.1 A (the control pilot signals amps); W converts with `voltage` (230 V) × numberPhases
#   (3 when the period does not say). None = no limit.
# - Effective limit = min(ChargePointMaxProfile, TxProfile in effect, else TxDefaultProfile).
#   The ChargePointMaxProfile applies in full to each connector (it is not shared out).
#   Within a purpose the highest stack level in effect wins; a TxDefaultProfile of the
#   connector beats connector 0's on the same level. A profile whose schedule has ended
#   (duration) or is not valid (validFrom/validTo) makes way for lower stack levels.
# - A Recurring schedule repeats before its startSchedule too (validFrom bounds it).
# - Relative schedules start with the connector's transaction (without one: now, and for
#   GetCompositeSchedule at scheduleStart); Absolute without startSchedule starts when received.
# - GetCompositeSchedule reports `max_current` where no profile limits; for connector 0 it
#   gives the ChargePointMaxProfile. minChargingRate is reported there, it never changes the limit.
# - Profiles are compact lists (limits in tenths, periods flat), persisted in _FILE when the
#   set changes. A TxProfile is saved with its transaction's journal record number: it dies
#   with the transaction and comes back with it when a power cut resumes it.
from . import clock
from .compat import log, ticks_diff
from .connector import later
from .store import NONE, rows

PROFILE = "SmartCharging"
# smart_charging_calls.py, imported for the call only
CALLS = ("SetChargingProfile", "ClearChargingProfile", "GetCompositeSchedule")

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


# config.INT, LIST, RO: constants of this module, so that the table is one constant in flash
_INT = const(1)
_LIST = const(5)
_RO = const(1)
_KEYS = (("ChargeProfileMaxStackLevel", _INT, _RO, 8),
         ("ChargingScheduleAllowedChargingRateUnit", _LIST, _RO, "Current,Power"),
         ("ChargingScheduleMaxPeriods", _INT, _RO, 24), ("MaxChargingProfilesInstalled", _INT, _RO, 8))


def setup(cp):
    cfg = cp.config
    # A microcontroller keeps every profile in RAM: 8 profiles of up to 24 periods (an hourly
    # day plan) are about 4 KB of heap and a 5 KB file at most, and 8 levels cover the usual
    # CSMS layering (base, tariff, grid operator, override).
    cfg.add(_KEYS)
    cp.smart_charging = SmartCharging(cp)


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
    def __init__(self, cp):
        self.cp = cp
        self.voltage = 230  # V per phase, for W <-> A
        self.max_current = 32.0  # A per phase: what GetCompositeSchedule shows where no profile limits
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
        old = self.profiles
        if self._set(keep):
            return True
        self.profiles = old  # not on flash: refused (ClearChargingProfile takes effect in RAM)
        return False

    def _set(self, profiles):
        """False if the file could not be written."""
        saved = self._saved()
        self.profiles = profiles
        self._due = None
        return self._saved() == saved or self.cp.store.save(_FILE, self._saved())

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


def loop(cp, now):
    s = cp.smart_charging
    if s._due is not None and ticks_diff(now, s._due) < 0 and s._offset == clock.offset:
        for c in cp.connectors:  # allocates nothing until a transaction starts or ends
            if c.tx is not s._txs[c.id]:
                break
        else:
            return
    s.update(now)
