# Smart Charging unit tests, plain asserts: run on MicroPython by tools/mptest.py and on
# CPython by pytest. The answers' rules, replacement, clearing, persistence, the
# RemoteStartTransaction profile, a stacked composite, and an idle loop that allocates nothing.
import gc
import sys

from mpy_ocpp import ChargePoint, clock, smart_charging, smart_charging_calls
from mpy_ocpp.compat import ticks_ms
from mpy_ocpp.store import Store
from tests_host.mpy.fakes import Link, state_dir


def _dir():
    return state_dir("sc")


def _cp(d=None, connectors=2):
    return ChargePoint("CP_1", Link(online=False), Store(d or _dir()), connectors=connectors,
                       profiles=(smart_charging,))


def _prof(pid, purpose, limits, stack=0, kind="Relative", unit="A", **more):
    sch = {"chargingRateUnit": unit, "chargingSchedulePeriod": [
        {"startPeriod": i * 600, "limit": lim} for i, lim in enumerate(limits)]}
    if "startSchedule" in more:
        sch["startSchedule"] = more.pop("startSchedule")
    p = {"chargingProfileId": pid, "stackLevel": stack, "chargingProfilePurpose": purpose,
         "chargingProfileKind": kind, "chargingSchedule": sch}
    p.update(more)
    return p


def _set(cp, cid, prof):
    return smart_charging_calls.SetChargingProfile(cp, {"connectorId": cid, "csChargingProfiles": prof})["status"]


def _ids(cp):  # cp.smart_charging is None while no profile is installed
    s = cp.smart_charging
    return sorted([e[0] for e in s.profiles]) if s else []


def _start(cp, cid):
    c = cp.connectors[cid]
    c.plugged = lambda: True
    c.begin("TAG")
    cp.loop()
    assert c.tx is not None
    return c


def test_keys_and_feature_profile():
    cp = _cp()
    conf = cp.config.get_configuration(["ChargeProfileMaxStackLevel", "ChargingScheduleAllowedChargingRateUnit",
                                        "ChargingScheduleMaxPeriods", "MaxChargingProfilesInstalled"])
    assert [(k["value"], k["readonly"]) for k in conf["configurationKey"]()] == [
        ("8", True), ("Current,Power", True), ("24", True), ("8", True)]
    assert "SmartCharging" in cp.config["SupportedFeatureProfiles"].split(",")
    assert cp.config.change("ChargeProfileMaxStackLevel", "3") == "Rejected"


def test_set_charging_profile_rules():
    cp = _cp()
    tx = _prof(1, "TxProfile", [16.0])
    assert _set(cp, 1, tx) == "Rejected"  # no transaction
    assert _set(cp, 0, _prof(1, "TxDefaultProfile", [16.0], stack=9)) == "Rejected"
    assert _set(cp, 0, _prof(1, "TxDefaultProfile", [16.0] * 25)) == "Rejected"  # > ChargingScheduleMaxPeriods
    assert _set(cp, 1, _prof(1, "ChargePointMaxProfile", [16.0])) == "Rejected"  # connector 0 only
    assert _set(cp, 3, _prof(1, "TxDefaultProfile", [16.0])) == "Rejected"  # no such connector
    assert _set(cp, 0, _prof(1, "TxDefaultProfile", [16.0], kind="Recurring", recurrencyKind="Daily")) == "Rejected"
    assert _set(cp, 0, _prof(1, "TxDefaultProfile", [16.0], kind="Recurring",
                             startSchedule="2026-03-02T00:00:00Z")) == "Rejected"  # no recurrencyKind
    bad = _prof(1, "TxDefaultProfile", [16.0, 10.0])
    bad["chargingSchedule"]["chargingSchedulePeriod"][1]["startPeriod"] = 0
    assert _set(cp, 0, bad) == "Rejected"  # periods must start at 0 and increase
    bad["chargingSchedule"]["chargingSchedulePeriod"][1]["startPeriod"] = 600
    bad["chargingSchedule"]["chargingSchedulePeriod"][0]["startPeriod"] = 60
    assert _set(cp, 0, bad) == "Rejected"
    bad["chargingSchedule"]["chargingSchedulePeriod"][0]["startPeriod"] = 0
    bad["chargingSchedule"]["chargingSchedulePeriod"][0]["numberPhases"] = 4
    assert _set(cp, 0, bad) == "Rejected"
    cp.config.set_default("ChargingScheduleAllowedChargingRateUnit", "Current")
    assert _set(cp, 0, _prof(1, "TxDefaultProfile", [11000.0], unit="W")) == "Rejected"
    assert _set(cp, 0, _prof(1, "TxDefaultProfile", [16.0], stack=8)) == "Accepted"
    c = _start(cp, 1)
    assert _set(cp, 1, _prof(2, "TxProfile", [16.0], transactionId=77)) == "Rejected"  # not this transaction
    c.tx.id = 77
    assert _set(cp, 1, _prof(2, "TxProfile", [16.0], transactionId=77)) == "Accepted"
    assert _set(cp, 0, _prof(3, "TxProfile", [16.0])) == "Rejected"
    assert _ids(cp) == [1, 2]


def test_replacement_and_capacity():
    cp = _cp()
    assert _set(cp, 0, _prof(1, "TxDefaultProfile", [16.0])) == "Accepted"
    assert _set(cp, 0, _prof(1, "TxDefaultProfile", [10.0], stack=2)) == "Accepted"  # same id
    assert _ids(cp) == [1] and cp.smart_charging.profiles[0][1] == 2
    assert _set(cp, 0, _prof(2, "TxDefaultProfile", [10.0], stack=2)) == "Accepted"  # same purpose+level+connector
    assert _ids(cp) == [2]
    assert _set(cp, 1, _prof(3, "TxDefaultProfile", [10.0], stack=2)) == "Accepted"  # another connector
    for i in range(4, 10):
        assert _set(cp, 0, _prof(i, "ChargePointMaxProfile", [32.0], stack=i - 4)) == "Accepted"
    assert len(cp.smart_charging.profiles) == 8
    assert _set(cp, 0, _prof(20, "ChargePointMaxProfile", [32.0], stack=7)) == "Rejected"  # MaxChargingProfilesInstalled
    assert _set(cp, 0, _prof(4, "ChargePointMaxProfile", [20.0])) == "Accepted"  # a replacement fits


def test_clear_criteria():
    cp = _cp()
    _set(cp, 0, _prof(1, "ChargePointMaxProfile", [32.0]))
    _set(cp, 0, _prof(2, "TxDefaultProfile", [16.0]))
    _set(cp, 1, _prof(3, "TxDefaultProfile", [16.0], stack=1))
    _set(cp, 2, _prof(4, "TxDefaultProfile", [16.0], stack=1))
    clear = lambda p: smart_charging_calls.ClearChargingProfile(cp, p)["status"]  # noqa: E731
    assert clear({"id": 9}) == "Unknown"
    assert clear({"id": 1, "connectorId": 2}) == "Accepted" and _ids(cp) == [2, 3, 4]  # an id alone decides
    assert clear({"connectorId": 2, "stackLevel": 0}) == "Unknown"
    assert clear({"connectorId": 2}) == "Accepted" and _ids(cp) == [2, 3]
    assert clear({"chargingProfilePurpose": "TxDefaultProfile", "stackLevel": 1}) == "Accepted" and _ids(cp) == [2]
    assert clear({"chargingProfilePurpose": "ChargePointMaxProfile"}) == "Unknown"
    assert clear({}) == "Accepted" and _ids(cp) == [] and cp.smart_charging is None
    assert clear({}) == "Unknown"


def test_persisted_and_a_tx_profile_comes_back_with_its_transaction():
    d = _dir()
    cp = _cp(d)
    _set(cp, 0, _prof(1, "ChargePointMaxProfile", [32.0]))
    _set(cp, 1, _prof(2, "TxDefaultProfile", [16.0, 10.0], kind="Absolute", startSchedule="2026-03-02T10:00:00Z",
                      validTo="2036-01-01T00:00:00Z"))
    _start(cp, 2)
    assert _set(cp, 2, _prof(3, "TxProfile", [6.0])) == "Accepted"
    again = _cp(d)  # a power cut: the transaction resumes, and its TxProfile with it
    again.loop()
    assert _ids(again) == [1, 2, 3] and again.connectors[2].limit == 6.0
    assert again.connectors[2].tx.seq == cp.connectors[2].tx.seq
    again.connectors[2].end()
    again.loop()
    assert _ids(again) == [1, 2]
    third = _cp(d)
    third.loop()
    assert _ids(third) == [1, 2]


def test_remote_start_profile_and_end_of_transaction():
    cp = _cp()
    c = cp.connectors[1]
    assert not smart_charging_calls.remote_start(cp, c, _prof(1, "TxDefaultProfile", [6.0]))
    assert cp.smart_charging is None
    assert smart_charging_calls.remote_start(cp, c, _prof(1, "TxProfile", [6.0]))
    assert cp.smart_charging._pending[1]  # held while its profile waits
    _set(cp, 0, _prof(2, "TxDefaultProfile", [16.0]))
    cp.loop()
    assert c.limit == 16.0
    _start(cp, 1)
    cp.loop()
    assert c.limit == 6.0 and _ids(cp) == [1, 2]
    c.end()
    cp.loop()
    assert c.limit == 16.0 and _ids(cp) == [2]  # the TxProfile went with its transaction
    _start(cp, 1)
    cp.loop()
    assert c.limit == 16.0  # the remote start's profile was for that one transaction only


def test_stacked_composite():
    # TxDefault level 0: 16 A then 10 A at +600; level 1 (connector 1): 8 A from 10:05 to 10:15.
    # ChargePointMax: 12 A. From 10:00 for 30 min on connector 1: min(12, 16) = 12, level 1
    # takes over at +300 with 8, 10 at +900 (level 1 not valid any more, level 0 is at 10 A).
    cp = _cp()
    t0 = clock.parse("2026-03-02T10:00:00Z")
    _set(cp, 0, _prof(1, "TxDefaultProfile", [16.0, 10.0], kind="Absolute", startSchedule="2026-03-02T10:00:00Z"))
    _set(cp, 1, _prof(2, "TxDefaultProfile", [8.0], stack=1, kind="Absolute", startSchedule="2026-03-02T10:00:00Z",
                      validFrom="2026-03-02T10:05:00Z", validTo="2026-03-02T10:15:00Z"))
    _set(cp, 0, _prof(3, "ChargePointMaxProfile", [12.0]))
    s = smart_charging_calls.composite(cp.smart_charging, cp.connectors[1], t0, 1800, False)
    assert [(p["startPeriod"], p["limit"]) for p in s["chargingSchedulePeriod"]] == [(0, 12.0), (300, 8.0), (900, 10.0)]
    s = smart_charging_calls.composite(cp.smart_charging, cp.connectors[2], t0, 1800, True)
    assert [(p["startPeriod"], p["limit"]) for p in s["chargingSchedulePeriod"]] == [(0, 8280.0), (600, 6900.0)]


def _idle(cp, n):
    now = ticks_ms()
    loop = smart_charging.loop
    gc.collect()
    before = gc.mem_alloc()
    for _ in range(n):
        loop(cp, now)
    return gc.mem_alloc() - before


def test_idle_loop_allocates_nothing():
    cp = _cp()
    _set(cp, 0, _prof(1, "ChargePointMaxProfile", [32.0, 20.0], kind="Absolute",
                      startSchedule="2026-03-02T10:00:00Z"))
    _set(cp, 0, _prof(2, "TxDefaultProfile", [16.0], kind="Recurring", recurrencyKind="Daily",
                      startSchedule="2026-03-02T10:00:00Z"))
    _start(cp, 1)
    _set(cp, 1, _prof(3, "TxProfile", [10.0, 8.0]))
    cp.loop()
    cp.loop()
    assert cp.connectors[1].limit == 10.0 and cp.connectors[2].limit == 16.0
    if sys.implementation.name == "micropython":
        assert _idle(cp, 1000) == 0


def test_relative_start_follows_a_clock_change():
    # A Relative profile counts from the transaction's start; when the CSMS sets the clock
    # (here one hour on), that start moves with it: the schedule does not jump.
    cp = _cp()
    _set(cp, 0, _prof(1, "TxDefaultProfile", [16.0, 10.0]))
    _start(cp, 1)
    cp.loop()
    sc = cp.smart_charging
    before = sc._starts[1]
    saved = clock.offset
    try:
        clock.offset += 3600
        cp.loop()
        assert sc._starts[1] == before + 3600 and cp.connectors[1].limit == 16.0
    finally:
        clock.offset = saved


def test_a_clear_the_flash_could_not_take_is_not_undone():
    # the object stays while its file lags behind: one made afresh would read the cleared one
    d = _dir()
    cp = _cp(d)
    assert _set(cp, 0, _prof(1, "TxDefaultProfile", [16.0])) == "Accepted"
    save = cp.store.save
    cp.store.save = lambda name, data: False  # flash full
    assert smart_charging_calls.ClearChargingProfile(cp, {"id": 1})["status"] == "Accepted"
    assert cp.smart_charging is not None and _ids(cp) == []
    cp.store.save = save
    _start(cp, 1)  # a change of nothing (the transaction's TxProfiles) writes the file again
    cp.loop()
    assert cp.smart_charging is None and _ids(_cp(d)) == []
    assert _set(cp, 0, _prof(2, "TxDefaultProfile", [10.0])) == "Accepted"
    assert _ids(cp) == [2] and _ids(_cp(d)) == [2]
