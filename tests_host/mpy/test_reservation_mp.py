# The Reservation profile, plain asserts: run on MicroPython by tools/mptest.py and on CPython
# by pytest, against a fake transport (the end-to-end proof is tests_host/test_reservation.py).
import gc
import json

from mpy_ocpp import ChargePoint, clock, reservation
from mpy_ocpp.compat import ticks_ms
from mpy_ocpp.store import Store
from tests_host.mpy.fakes import Link, state_dir


def _dir():
    return state_dir("res")


class Hw:
    def __init__(self):
        self.plugged = False
        self.fault = None


def _run(cp, link):
    """Loop and answer every call until nothing is left to send for a few loops."""
    idle = 0
    for _ in range(60):
        cp.loop()
        if cp.pending is None:
            idle = 0 if cp.queue else idle + 1
            if idle == 3:
                return
            continue
        mid, e = cp.pending[0], cp.pending[1]
        if e[1] == "BootNotification":
            p = {"status": "Accepted", "currentTime": clock.iso(), "interval": 300}
        elif e[1] == "StartTransaction":
            p = {"transactionId": 7, "idTagInfo": {"status": "Accepted"}}
        elif e[1] == "Authorize":
            p = {"idTagInfo": {"status": "Accepted", "parentIdTag": "P_" + e[2]["idTag"][:1]}}
        else:
            p = {}
        link.inbox.append(json.dumps([3, mid, p]))


def _booted(state=None, connectors=2):
    link = Link()
    cp = ChargePoint("CP_1", link, Store(state or _dir()), connectors=connectors,
                     profiles=(reservation,))
    cp.hw = [Hw() for _ in cp.connectors]
    for c, hw in zip(cp.connectors, cp.hw):
        c.error = (lambda h: lambda: h.fault)(hw)
        if c.id:
            c.energy = lambda: 100
            c.plugged = (lambda h: lambda: h.plugged)(hw)
    _run(cp, link)
    assert cp.accepted
    return cp, link


def _call(cp, link, action, payload):
    link.inbox.append(json.dumps([2, "t1", action, payload]))
    cp.loop()
    return [m for m in link.sent if m[1] == "t1"].pop()[2]


def _reserve(cp, link, cid, tag, rid=1, parent=None, seconds=600):
    p = {"connectorId": cid, "expiryDate": clock.iso(clock.now() + seconds), "idTag": tag,
         "reservationId": rid}
    if parent:
        p["parentIdTag"] = parent
    return _call(cp, link, "ReserveNow", p)["status"]


def _statuses(link, cid):
    return [m[3]["status"] for m in link.sent
            if m[0] == 2 and m[2] == "StatusNotification" and m[3]["connectorId"] == cid]


def _start(cp, link, cid, tag):
    cp.hw[cid].plugged = True
    cp.tag(cid, tag)
    _run(cp, link)
    return cp.connectors[cid].tx


def test_key_and_profile():
    cp, link = _booted()
    conf = _call(cp, link, "GetConfiguration", {"key": ["ReserveConnectorZeroSupported",
                                                        "SupportedFeatureProfiles"]})
    assert conf["configurationKey"][0] == {"key": "ReserveConnectorZeroSupported",
                                           "readonly": True, "value": "true"}
    assert "Reservation" in conf["configurationKey"][1]["value"].split(",")


def test_reserved_connector_only_for_its_tag():
    cp, link = _booted()
    assert _reserve(cp, link, 1, "ME", rid=5, parent="FAMILY") == "Accepted"
    _run(cp, link)
    assert _statuses(link, 1)[-1] == "Reserved" and _statuses(link, 2)[-1] == "Available"
    r = cp.reservation
    assert r.reserved(1) and not r.reserved(2)
    assert not r.allows(1, "YOU", None) and not r.allows(1, "YOU", "OTHER")
    assert r.allows(1, "ME", None) and r.allows(1, "KID", "FAMILY") and r.allows(1, "FAMILY", None)
    assert r.allows(2, "YOU", None)
    # the wrong tag is refused; remote start too
    assert _start(cp, link, 1, "YOU") is None
    assert _call(cp, link, "RemoteStartTransaction", {"connectorId": 1, "idTag": "YOU"}) == {
        "status": "Rejected"}
    # a tag whose parent (from the CSMS's Authorize answer) matches starts it
    cp.reservation.items[0][3] = "P_K"
    tx = _start(cp, link, 1, "KID")
    assert tx is not None and tx.reservation == 5
    start = [m[3] for m in link.sent if m[0] == 2 and m[2] == "StartTransaction"][-1]
    assert start["reservationId"] == 5 and start["idTag"] == "KID"
    assert r.items == [] and not r.reserved(1)
    assert _statuses(link, 1)[-2:] == ["Reserved", "Charging"]  # the cable was already in


def test_answers_occupied_faulted_unavailable_rejected():
    cp, link = _booted(connectors=3)
    assert _reserve(cp, link, 1, "A", rid=1) == "Accepted"
    assert _reserve(cp, link, 1, "B", rid=2) == "Occupied"  # already reserved
    assert _reserve(cp, link, 1, "A", rid=3) == "Occupied"  # even for the same idTag
    cp.hw[2].plugged = True
    assert _reserve(cp, link, 2, "B", rid=2) == "Occupied"  # a cable is in
    assert _start(cp, link, 2, "B") is not None
    assert _reserve(cp, link, 2, "C", rid=2) == "Occupied"  # a transaction runs
    cp.hw[3].fault = "GroundFailure"
    _run(cp, link)
    assert _reserve(cp, link, 3, "C", rid=2) == "Faulted"
    cp.hw[3].fault = None
    assert _call(cp, link, "ChangeAvailability", {"connectorId": 3, "type": "Inoperative"})
    _run(cp, link)
    assert _reserve(cp, link, 3, "C", rid=2) == "Unavailable"
    assert _reserve(cp, link, 4, "C", rid=2) == "Rejected"  # no such connector
    assert _reserve(cp, link, 1, "A", rid=9, seconds=-5) == "Rejected"  # already expired
    cp.config.set_default("ReserveConnectorZeroSupported", False)
    assert _reserve(cp, link, 0, "C", rid=2) == "Rejected"
    assert [e[0] for e in cp.reservation.items] == [1]


def test_same_id_replaces_and_cancel():
    d = _dir()
    cp, link = _booted(d)
    assert _reserve(cp, link, 1, "A", rid=1) == "Accepted"
    assert _reserve(cp, link, 1, "B", rid=1) == "Accepted"  # replaced on the same connector
    assert _reserve(cp, link, 2, "C", rid=1) == "Accepted"  # moved to another
    assert [e[:3] for e in cp.reservation.items] == [[1, 2, "C"]]
    cp.hw[1].plugged = True
    assert _reserve(cp, link, 1, "D", rid=1) == "Occupied"  # the old one stays
    assert [e[:3] for e in cp.reservation.items] == [[1, 2, "C"]]
    _run(cp, link)
    assert _statuses(link, 2)[-1] == "Reserved"
    # persisted across a reboot
    cp2, link2 = _booted(d)
    assert cp2.reservation.reserved(2) and _statuses(link2, 2) == ["Reserved"]
    assert _call(cp2, link2, "CancelReservation", {"reservationId": 2}) == {"status": "Rejected"}
    assert _call(cp2, link2, "CancelReservation", {"reservationId": 1}) == {"status": "Accepted"}
    _run(cp2, link2)
    assert _statuses(link2, 2) == ["Reserved", "Available"]
    assert _booted(d)[0].reservation is None


def test_expiry_ends_the_reservation():
    offset = clock.offset
    try:
        _expiry()
    finally:
        clock.offset = offset  # the clock is shared by the tests that follow


def _expiry():
    cp, link = _booted()
    assert _reserve(cp, link, 1, "A", rid=1, seconds=30) == "Accepted"
    r = cp.reservation
    assert _reserve(cp, link, 2, "B", rid=2, seconds=90) == "Accepted"
    _run(cp, link)
    assert r.due is not None
    r.due = ticks_ms()  # the tick deadline passes, the wall clock says not yet: nothing ends
    _run(cp, link)
    assert len(r.items) == 2 and r.due is not None
    clock.set_iso(clock.iso(clock.now() + 60))
    r.due = ticks_ms()
    _run(cp, link)
    assert [e[0] for e in r.items] == [2]
    assert _statuses(link, 1)[-2:] == ["Reserved", "Available"]
    clock.set_iso(clock.iso(clock.now() + 60))
    r.due = ticks_ms()
    _run(cp, link)
    assert r.items == [] and r.due is None and _statuses(link, 2)[-1] == "Available"
    assert cp.reservation is None  # and its code is let go


def test_connector_zero_keeps_one_connector_free():
    cp, link = _booted()
    assert _reserve(cp, link, 0, "Z", rid=9) == "Accepted"
    r = cp.reservation
    _run(cp, link)
    assert not r.reserved(1) and not r.reserved(2)  # two free, one is held
    assert r.allows(1, "X", None) and r.allows(2, "X", None)
    assert _reserve(cp, link, 0, "Y", rid=8) == "Accepted"  # two held now
    _run(cp, link)
    assert r.reserved(1) and r.reserved(2) and not r.allows(1, "X", None)
    assert _reserve(cp, link, 0, "W", rid=7) == "Occupied"
    assert _reserve(cp, link, 1, "W", rid=7) == "Occupied"  # connector 0 needs it
    assert _call(cp, link, "CancelReservation", {"reservationId": 8}) == {"status": "Accepted"}
    assert _start(cp, link, 2, "X") is not None  # one free connector left: held for Z
    assert r.reserved(1) and not r.allows(1, "X2", None) and r.allows(1, "Z", None)
    assert _statuses(link, 1)[-1] == "Reserved"
    assert _call(cp, link, "RemoteStartTransaction", {"idTag": "OTHER"}) == {"status": "Rejected"}
    tx = _start(cp, link, 1, "Z")
    assert tx is not None and tx.reservation == 9 and r.items == [] and cp.reservation is None


def test_zero_reservation_may_start_anywhere():
    cp, link = _booted()
    assert _reserve(cp, link, 0, "Z", rid=3) == "Accepted"
    tx = _start(cp, link, 2, "Z")
    assert tx.reservation == 3 and cp.reservation is None


def test_idle_loop_with_reservations_allocates_nothing():
    if not hasattr(gc, "mem_alloc"):
        return  # MicroPython only
    cp, link = _booted()
    assert _reserve(cp, link, 1, "A", rid=1) == "Accepted"
    assert _reserve(cp, link, 0, "Z", rid=2) == "Accepted"
    _run(cp, link)
    r = cp.reservation

    def measure():
        gc.collect()
        before = gc.mem_alloc()
        now = ticks_ms()
        for _ in range(200):
            reservation.loop(cp, now)
            r.reserved(1)
            r.reserved(2)
        return gc.mem_alloc() - before
    assert measure() == 0


def test_any_connector_means_one_not_reserved_for_someone_else():
    # RemoteStartTransaction without connectorId, and tag(0, ...), pick around reservations
    cp, link = _booted(connectors=3)
    cs = cp.connectors
    assert _reserve(cp, link, 1, "ME", rid=1, parent="P_K") == "Accepted"
    cp.hw[1].plugged = True  # a plugged connector goes first, unless it is held for another
    assert _call(cp, link, "RemoteStartTransaction", {"idTag": "YOU"}) == {"status": "Accepted"}
    _run(cp, link)
    assert cs[1].session is None and cs[2].session[:2] == ("YOU", "P_Y")
    cs[2].end()
    assert cp.tag(0, "YOU")
    _run(cp, link)
    assert cs[1].session is None and cs[2].session[:2] == ("YOU", "P_Y")
    cs[2].end()
    # its group: the parentIdTag in the CSMS's answer picks the reserved connector
    assert cp.tag(0, "KID")
    _run(cp, link)
    assert cs[1].tx is not None and cs[1].tx.reservation == 1 and cs[2].session is None
    # connector 0 reservations hold one connector each of those left free
    assert _reserve(cp, link, 0, "Z", rid=2) == "Accepted"  # 2 and 3 are free: one is Z's
    assert _call(cp, link, "RemoteStartTransaction", {"idTag": "OTHER"}) == {"status": "Accepted"}
    _run(cp, link)
    assert cs[2].session[:2] == ("OTHER", "P_O")
    assert _call(cp, link, "RemoteStartTransaction", {"idTag": "THIRD"}) == {"status": "Rejected"}
    assert not cp.tag(0, "THIRD")
    assert cp.tag(0, "Z")
    _run(cp, link)
    assert cs[3].session[:2] == ("Z", "P_Z")
    cp.hw[3].plugged = True
    _run(cp, link)
    assert cs[3].tx.reservation == 2 and cp.reservation is None


def test_clock_change_past_the_expiry_ends_it_at_once():
    offset = clock.offset
    try:
        cp, link = _booted()
        assert _reserve(cp, link, 1, "A", rid=1, seconds=3600) == "Accepted"
        _run(cp, link)
        assert _statuses(link, 1)[-1] == "Reserved"
        clock.set_iso(clock.iso(clock.now() + 7200))  # the CSMS moves the clock on
        _run(cp, link)  # no waiting for the tick deadline taken an hour before
        assert cp.reservation is None and _statuses(link, 1)[-1] == "Available"
        # and a clock set back keeps a reservation it would have ended too early
        assert _reserve(cp, link, 1, "A", rid=2, seconds=30) == "Accepted"
        clock.set_iso(clock.iso(clock.now() - 3600))
        _run(cp, link)
        r = cp.reservation
        assert [e[0] for e in r.items] == [2] and r.due is not None
    finally:
        clock.offset = offset


def test_faulted_or_unavailable_ends_it():
    cp, link = _booted(connectors=3)
    assert _reserve(cp, link, 1, "A", rid=1) == "Accepted"
    assert _reserve(cp, link, 2, "B", rid=2) == "Accepted"
    assert _reserve(cp, link, 0, "C", rid=3) == "Accepted"
    r = cp.reservation
    _run(cp, link)
    cp.hw[1].fault = "GroundFailure"
    _run(cp, link)
    assert [e[0] for e in r.items] == [2, 3]
    cp.hw[1].fault = None
    _run(cp, link)
    assert _statuses(link, 1)[-3:] == ["Reserved", "Faulted", "Available"]
    assert _call(cp, link, "ChangeAvailability", {"connectorId": 2, "type": "Inoperative"}) == {
        "status": "Accepted"}
    _run(cp, link)
    assert [e[0] for e in r.items] == [3]
    cp.hw[1].plugged = True
    assert _reserve(cp, link, 3, "D", rid=4) == "Occupied"  # the one left free is held for C
    cp.hw[0].fault = "OtherError"  # the charge point itself: every reservation ends
    _run(cp, link)
    assert r.items == []
    assert _reserve(cp, link, 3, "D", rid=4) == "Faulted"


def test_no_reservation_holds_no_code():
    # the reservations' code (reservation_calls) is held only while there is one
    import sys
    cp, link = _booted()
    assert cp.reservation is None and "mpy_ocpp.reservation_calls" not in sys.modules
    assert _call(cp, link, "CancelReservation", {"reservationId": 1}) == {"status": "Rejected"}
    assert _reserve(cp, link, 1, "A", rid=1) == "Accepted"
    assert cp.reservation.items[0][:3] == [1, 1, "A"] and "mpy_ocpp.reservation_calls" not in sys.modules
    assert _call(cp, link, "CancelReservation", {"reservationId": 1}) == {"status": "Accepted"}
    assert cp.reservation is None
    # one saved before a reboot comes back with its code
    assert _reserve(cp, link, 2, "B", rid=2) == "Accepted"
    cp2, link2 = _booted(state=cp.store.path)
    assert [e[:3] for e in cp2.reservation.items] == [[2, 2, "B"]]


def test_a_cancel_the_flash_could_not_take_is_not_undone():
    # the object stays while its file lags behind: one made afresh would read the ended one
    d = _dir()
    cp, link = _booted(d)
    assert _reserve(cp, link, 1, "A", rid=1) == "Accepted"
    save = cp.store.save
    cp.store.save = lambda name, data: False  # flash full
    assert _call(cp, link, "CancelReservation", {"reservationId": 1}) == {"status": "Accepted"}
    assert cp.reservation is not None and cp.reservation.items == []
    cp.store.save = save
    assert _reserve(cp, link, 2, "B", rid=2) == "Accepted"
    assert [e[0] for e in cp.reservation.items] == [2]
    assert [e[0] for e in _booted(d)[0].reservation.items] == [2]
