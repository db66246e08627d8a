# The Smart Charging profile's calls from the CSMS (smart_charging.py has the profiles and
# the limits). Imported for one call and let go (ocpp16.run_in): no heap while idle.
from . import clock
from .compat import ticks_ms
from .connector import later
from .smart_charging import _KINDS, _PURPOSES

# the entry fields and constants of smart_charging.py (its consts are not module names)
_TXP = const(2)
_STEPS = const(64)
_ID = const(0)
_STACK = const(1)
_PURPOSE = const(2)
_CID = const(3)
_TX = const(13)


def SetChargingProfile(cp, p):
    s = cp.smart_charging
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
    sch = composite(cp.smart_charging, cp.connectors[cid], t0, duration, p.get("chargingRateUnit") == "W")
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


def remote_start(self, c, p):
    """RemoteStartTransaction's chargingProfile: a TxProfile for the transaction that starts."""
    e = p["chargingProfilePurpose"] == "TxProfile" and parse(self, c.id, p, clock.now())
    if not e or len(self.profiles) >= self.cp.config["MaxChargingProfilesInstalled"]:
        return False
    wait = self.cp.config["ConnectionTimeOut"] + self.cp.call_timeout
    self._pending[c.id] = (e, later(ticks_ms(), wait))
    return True


def composite(self, c, t0, duration, w):
    """GetCompositeSchedule's chargingSchedule for connector c from time t0 (unit W if w)."""
    rel = self._starts[c.id] if c.tx is not None and c.tx is self._txs[c.id] else t0
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
