# Reservation profile (OCPP 1.6 §5.13 ReserveNow, §5.2 CancelReservation): who may use a
# reserved connector, the Reserved status, expiry. Reservations are few: a list, saved as JSON.
#
# A reservation on connector 0 holds no connector of its own, it keeps one free: with k such
# reservations, a connector is Reserved (and refuses other idTags) while no more than k
# connectors are free (operative, not faulted, no cable, no session or transaction, no
# reservation of their own). A matching idTag may take any free connector.
# A reservation ends (§5.13) when the wall clock passes its expiryDate (a clock change is
# followed), or when its connector or the charge point becomes Faulted or Unavailable.
from . import clock
from .authorization_cache import same
from .compat import log, ticks_diff, ticks_ms
from .connector import later
from .store import NONE, rows

PROFILE = "Reservation"
CALLS = ("ReserveNow", "CancelReservation")  # reservation_calls.py, imported for the call only

_FILE = "reservations.json"
# a reservation: [reservationId, connectorId, idTag, parentIdTag or None, expiry seconds]
_ID = const(0)
_CID = const(1)
_TAG = const(2)
_PARENT = const(3)
_EXP = const(4)
_DOWN = ("Faulted", "Unavailable")  # a reservation ends when its connector is in one


_KEYS = (("ReserveConnectorZeroSupported", 0, 1, True),)  # config.BOOL, RO: a constant in flash


def setup(cp):
    cp.config.add(_KEYS)
    cp.reservation = Reservations(cp)


def loop(cp, now):
    r = cp.reservation
    if r.due is not None and (ticks_diff(now, r.due) >= 0 or r.offset != clock.offset or r.down()):
        r.expire()


def _match(e, tag, parent):
    """§5.13: the idTag or its parent matches the reservation's idTag or parentIdTag."""
    rt, rp = e[_TAG], e[_PARENT]
    return same(tag, rt) or same(tag, rp) or same(parent, rt) or same(parent, rp)


class Reservations:
    def __init__(self, cp):
        self.cp = cp
        n = len(cp.connectors)
        self.items = cp.store.load(_FILE, [], lambda d: rows(d, int, int, str, (str, NONE), int) and all(
            [0 <= e[_CID] < n for e in d]))
        self.due = None  # ticks of the next expiry check, None: no reservation
        self.offset = 0  # clock.offset when `due` was computed: a clock change recomputes it
        self._schedule()

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
        self._schedule()
        return self.cp.store.save(_FILE, self.items)

    def _schedule(self):
        if not self.items:
            self.due = None
            return
        self.offset = clock.offset
        left = max(0, min([e[_EXP] for e in self.items]) - clock.now())
        # until the CSMS sets the clock (persisted reservations at boot), look again soon
        self.due = later(ticks_ms(), left if clock.known else min(left, 10))
