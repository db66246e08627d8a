# The Reservation profile's reservations and calls from the CSMS (reservation.py declares
# the profile). Imported for one call, or at boot, and let go (ocpp16.load); a Reservations
# object holds it while there is a reservation: `cp.reservation`, None when there is none.
from . import clock
from .compat import log, ticks_diff, ticks_ms
from .connector import later
from .store import NONE, rows
from .transaction import same

_FILE = "reservations.json"
# a reservation: [reservationId, connectorId, idTag, parentIdTag or None, expiry seconds]
_ID = const(0)
_CID = const(1)
_TAG = const(2)
_PARENT = const(3)
_EXP = const(4)
_DOWN = ("Faulted", "Unavailable")  # a reservation ends when its connector is in one


def ReserveNow(cp, p):
    cid = p["connectorId"]
    exp = clock.parse(p["expiryDate"])
    if (not 0 <= cid < len(cp.connectors) or exp is None or exp <= clock.now()
            or (cid == 0 and not cp.config["ReserveConnectorZeroSupported"])):
        return {"status": "Rejected"}
    r = cp.reservation or Reservations(cp)
    old = r._find(p["reservationId"])
    unsaved = r.unsaved  # a refusal leaves the list, and so its file, as they were
    if old:  # the same reservationId replaces it (kept if the new one cannot be made)
        r.items.remove(old)
    status = _state(r, cid)
    if status == "Accepted":
        r.items.append([p["reservationId"], cid, p["idTag"], p.get("parentIdTag"), exp])
        if not r._save():  # not on flash: it would vanish at a reboot
            r.items.pop()
            r.unsaved = unsaved
            status = "Rejected"
    if old and status != "Accepted":
        r.items.append(old)
    r._schedule()
    return {"status": status}


def CancelReservation(cp, p):
    r = cp.reservation
    return {"status": "Accepted" if r and r.cancel(p["reservationId"]) else "Rejected"}


def _state(r, cid):
    cs = r.cp.connectors
    c = cs[cid]
    if c.status == "Faulted" or cs[0].status == "Faulted":
        return "Faulted"
    if not c.operative:
        return "Unavailable"
    if cid:  # free, and not the one a connector 0 reservation still needs
        ok = r._free(c) and r._count_free(cid) >= r._zero()
        return "Accepted" if ok else "Occupied"
    for c in cs[1:]:
        if c.operative:
            return "Accepted" if r._count_free(0) > r._zero() else "Occupied"
    return "Unavailable"


def _match(e, tag, parent):
    """§5.13: the idTag or its parent matches the reservation's idTag or parentIdTag."""
    rt, rp = e[_TAG], e[_PARENT]
    return same(tag, rt) or same(tag, rp) or same(parent, rt) or same(parent, rp)


class Reservations:
    unsaved = False  # the file lags behind (flash full): held until a write succeeds

    def __init__(self, cp):
        self.cp = cp
        n = len(cp.connectors)
        self.items = cp.store.load(_FILE, [], lambda d: rows(d, int, int, str, (str, NONE), int) and all(
            [0 <= e[_CID] < n for e in d]))
        self.due = None  # ticks of the next expiry check, None: no reservation
        self.offset = 0  # clock.offset when `due` was computed: a clock change recomputes it
        self._schedule()

    def loop(self, now):  # reservation.loop's, while there are reservations
        if self.due is not None and (ticks_diff(now, self.due) >= 0 or self.offset != clock.offset
                                     or self.down()):
            self.expire()

    # what the core asks (reserved() runs in every loop: it allocates nothing)

    def reserved(self, cid):
        """The connector shows Reserved: its own reservation, or held for connector 0 ones."""
        if not self.items:
            return False
        if self._on(cid) is not None:
            return True
        k = self._zero()
        return k > 0 and self._free(self.cp.connectors[cid]) and self._count_free(0) <= k

    def allows(self, cid, tag, parent):
        """May `tag` (with `parent`) start charging at connector `cid`?"""
        e = self._on(cid)
        if e is not None:
            return _match(e, tag, parent)
        k = 0
        for e in self.items:
            if e[_CID] == 0:
                if _match(e, tag, parent):
                    return True
                k += 1
        return self._count_free(cid) >= k  # enough stay free once this one is taken

    def use(self, cid, tag, parent):
        """The id of the reservation a transaction starting here fulfils, or None; cancel()
        ends it once the transaction is on."""
        e = self._on(cid)
        if e is None or not _match(e, tag, parent):
            e = None
            for z in self.items:
                if z[_CID] == 0 and _match(z, tag, parent):
                    e = z
                    break
        return e and e[_ID]

    def cancel(self, rid):
        """End a reservation (in RAM even if the file cannot be written: the next write that
        succeeds stores it); False if there is none with this id."""
        e = self._find(rid)
        if e:
            self.items.remove(e)
            self._save()
        return e is not None

    def down(self):
        """Is a reserved connector, or the charge point, Faulted or Unavailable (§5.13: the
        reservation ends)? Runs in every loop while there are reservations: no allocation."""
        cs = self.cp.connectors
        if cs[0].live in _DOWN:
            return True
        for e in self.items:
            if cs[e[_CID]].live in _DOWN:
                return True
        return False

    def expire(self):
        """End the reservations past their expiryDate (wall clock) or on a connector that is down."""
        now = clock.now()
        cs = self.cp.connectors
        keep = [e for e in self.items if e[_EXP] > now and cs[e[_CID]].live not in _DOWN
                and cs[0].live not in _DOWN]
        if len(keep) < len(self.items):
            for e in self.items:
                if e not in keep:
                    log("reservation %d ended" % e[_ID])
            self.items = keep
            self._save()
        else:
            self._schedule()

    # helpers

    def _find(self, rid):
        for e in self.items:
            if e[_ID] == rid:
                return e
        return None

    def _on(self, cid):
        for e in self.items:
            if e[_CID] == cid:
                return e
        return None

    def _zero(self):
        k = 0
        for e in self.items:
            if e[_CID] == 0:
                k += 1
        return k

    def _free(self, c):
        return (c.operative and c.status != "Faulted" and not (c.tx or c.session or c.finishing)
                and not (c.plugged and c.plugged()) and self._on(c.id) is None)

    def _count_free(self, skip):
        n = 0
        for c in self.cp.connectors:
            if c.id and c.id != skip and self._free(c):
                n += 1
        return n

    def _save(self):
        self.unsaved = not self.cp.store.save(_FILE, self.items)
        self._schedule()
        return not self.unsaved

    def _schedule(self):
        """After every change: the next expiry check; held as cp.reservation while there are
        reservations (or the file still has ended ones: made afresh, this would read them)."""
        self.cp.reservation = self if self.items or self.unsaved else None
        if not self.items:
            self.due = None
            return
        self.offset = clock.offset
        left = max(0, min([e[_EXP] for e in self.items]) - clock.now())
        # until the CSMS sets the clock (persisted reservations at boot), look again soon
        self.due = later(ticks_ms(), left if clock.known else min(left, 10))
