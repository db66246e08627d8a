"""Smart Charging: composite schedules checked against hand-worked examples, the limit output
as time passes, and the profile end to end against the real CSMS on both runtimes.

The composite examples call `smart_charging_calls.composite(cp.smart_charging, connector, t0, duration, w)` with a
fixed t0 (GetCompositeSchedule uses clock.now() for t0); where no profile limits, a composite
shows `max_current` (32.0 A)."""
import json
import time

import pytest

from mpy_ocpp import ChargePoint, clock, smart_charging, smart_charging_calls
from mpy_ocpp.compat import ticks_ms
from mpy_ocpp.store import Store
from tests_host import simproc


class Link:
    """A transport that is never online: handlers are called directly."""
    online = False
    error = None

    def connect(self, user, password):
        pass

    def poll(self):
        return None

    def send(self, text):
        return False

    def close(self):
        pass


def make_cp(tmp_path, connectors=2):
    return ChargePoint("CP_1", Link(), Store(str(tmp_path / "state")), connectors=connectors,
                       profiles=(smart_charging,))


def T(text):
    return clock.parse(text)


def profile(pid, purpose, periods, stack=0, kind="Absolute", unit="A", **more):
    sch = {"chargingRateUnit": unit,
           "chargingSchedulePeriod": [dict(startPeriod=p[0], limit=p[1], **({"numberPhases": p[2]} if len(p) > 2 else {}))
                                      for p in periods]}
    for k in ("duration", "startSchedule", "minChargingRate"):
        if k in more:
            sch[k] = more.pop(k)
    return dict(chargingProfileId=pid, stackLevel=stack, chargingProfilePurpose=purpose,
                chargingProfileKind=kind, chargingSchedule=sch, **more)


def setp(cp, cid, prof):
    return smart_charging_calls.SetChargingProfile(cp, {"connectorId": cid, "csChargingProfiles": prof})["status"]


def periods(cp, cid, t0, duration, w=False):
    sc = cp.smart_charging or smart_charging_calls.SmartCharging(cp)  # None: no profile installed
    s = smart_charging_calls.composite(sc, cp.connectors[cid], t0, duration, w)
    return [(p["startPeriod"], p["limit"]) + ((p["numberPhases"],) if "numberPhases" in p else ())
            for p in s["chargingSchedulePeriod"]]


def start_tx(cp, cid, start):
    """A transaction on connector cid that started at `start` (seconds), as the loop sees it."""
    c = cp.connectors[cid]
    c.plugged = lambda: True
    c.begin("TAG")
    cp.loop()
    assert c.tx is not None
    c.tx.start = clock.iso(start)
    if cp.smart_charging:  # (else a profile installed later finds it)
        cp.smart_charging._txs[cid] = None  # seen afresh: picks up the start time
    smart_charging.loop(cp, ticks_ms())
    return c.tx


# --- composite schedules, worked out by hand --------------------------------------------

def test_absolute(tmp_path):
    # 16 A from 10:00, 10 A from 10:30, 6 A from 11:00, for 90 min: over at 11:30.
    # Asked at 10:15 for 2 h: 16 until 10:30 (+900), 10 until 11:00 (+2700),
    # 6 until 11:30 (+4500), then nothing limits (32 = max_current).
    cp = make_cp(tmp_path)
    assert setp(cp, 1, profile(1, "TxDefaultProfile", [(0, 16.0), (1800, 10.0), (3600, 6.0)],
                               duration=5400, startSchedule="2026-03-02T10:00:00Z")) == "Accepted"
    assert periods(cp, 1, T("2026-03-02T10:15:00Z"), 7200) == [
        (0, 16.0), (900, 10.0), (2700, 6.0), (4500, 32.0)]
    assert periods(cp, 2, T("2026-03-02T10:15:00Z"), 7200) == [(0, 32.0)]  # another connector


def test_recurring_daily(tmp_path):
    # Every day from 22:00: 10 A for 8 h (until 06:00), then 16 A until 22:00 again.
    # Asked on 03-02 at 04:00 for 24 h: in the recurrence of 03-01 22:00 (6 h in) → 10 A,
    # 06:00 (+7200) → 16 A, 22:00 (+64800) → 10 A; 06:00 on 03-03 is +93600, after the end.
    cp = make_cp(tmp_path)
    assert setp(cp, 0, profile(2, "TxDefaultProfile", [(0, 10.0), (28800, 16.0)], kind="Recurring",
                               recurrencyKind="Daily", startSchedule="2026-03-01T22:00:00Z")) == "Accepted"
    assert periods(cp, 1, T("2026-03-02T04:00:00Z"), 86400) == [(0, 10.0), (7200, 16.0), (64800, 10.0)]
    # a week later the same hours
    assert periods(cp, 2, T("2026-03-09T04:00:00Z"), 86400) == [(0, 10.0), (7200, 16.0), (64800, 10.0)]


def test_recurring_weekly(tmp_path):
    # From Monday 2026-03-02 00:00 every week: 16 A on weekdays, 25 A from Saturday 00:00
    # (+5 days = 432000 s) until Monday. Asked on Friday 03-06 20:00 for 4 days: 16 A until
    # Saturday 00:00 (+14400), 25 A until Monday 03-09 00:00 (+14400 + 2 days = 187200), 16 A.
    start = T("2026-03-02T00:00:00Z")
    assert time.gmtime(start)[6] == 0 and time.gmtime(T("2026-03-07T00:00:00Z"))[6] == 5  # Mon, Sat
    cp = make_cp(tmp_path)
    assert setp(cp, 0, profile(3, "TxDefaultProfile", [(0, 16.0), (432000, 25.0)], kind="Recurring",
                               recurrencyKind="Weekly", startSchedule="2026-03-02T00:00:00Z")) == "Accepted"
    assert periods(cp, 1, T("2026-03-06T20:00:00Z"), 4 * 86400) == [(0, 16.0), (14400, 25.0), (187200, 16.0)]


def test_relative(tmp_path):
    # A Relative TxProfile: 16 A for 10 min, then 10 A, for 20 min from the transaction's start.
    # The transaction started at 10:00; asked at 10:05 for 30 min: 16 until 10:10 (+300),
    # 10 until 10:20 (+900), then nothing limits.
    cp = make_cp(tmp_path)
    t0 = T("2026-03-02T10:00:00Z")
    start_tx(cp, 1, t0)
    assert setp(cp, 1, profile(4, "TxProfile", [(0, 16.0), (600, 10.0)], kind="Relative",
                               duration=1200, transactionId=123)) == "Rejected"  # not its transaction
    assert setp(cp, 1, profile(4, "TxProfile", [(0, 16.0), (600, 10.0)], kind="Relative",
                               duration=1200)) == "Accepted"
    assert periods(cp, 1, t0 + 300, 1800) == [(0, 16.0), (300, 10.0), (900, 32.0)]
    # without a transaction a Relative schedule starts with the composite (connector 2)
    assert setp(cp, 2, profile(5, "TxDefaultProfile", [(0, 12.0), (600, 8.0)], kind="Relative")) == "Accepted"
    assert periods(cp, 2, t0 + 300, 1800) == [(0, 12.0), (600, 8.0)]


def test_two_stack_levels(tmp_path):
    # Level 0 on connector 0: 16 A from 10:00. Level 1: 8 A from 10:30 for 30 min.
    # From 10:00 for 90 min: 16, 8 at +1800 (level 1 wins), 16 again at +3600 (its duration over).
    cp = make_cp(tmp_path)
    assert setp(cp, 0, profile(6, "TxDefaultProfile", [(0, 16.0)], startSchedule="2026-03-02T10:00:00Z")) == "Accepted"
    assert setp(cp, 0, profile(7, "TxDefaultProfile", [(0, 8.0)], stack=1, duration=1800,
                               startSchedule="2026-03-02T10:30:00Z")) == "Accepted"
    assert periods(cp, 1, T("2026-03-02T10:00:00Z"), 5400) == [(0, 16.0), (1800, 8.0), (3600, 16.0)]


def test_max_default_and_tx_combined(tmp_path):
    # ChargePointMax: 20 A from 10:00, 12 A from 11:00. TxDefault: 16 A. TxProfile on
    # connector 1: 32 A, 10 A from 10:30, for 45 min. From 10:00 for 90 min, connector 1:
    #   +0    min(max 20, tx 32) = 20
    #   +1800 min(20, tx 10) = 10
    #   +2700 the TxProfile is over: min(20, default 16) = 16
    #   +3600 min(max 12, 16) = 12
    # Connector 2 (no transaction): 16, then 12 at +3600. Connector 0: the ChargePointMaxProfile.
    cp = make_cp(tmp_path)
    t0 = T("2026-03-02T10:00:00Z")
    start_tx(cp, 1, t0)
    assert setp(cp, 0, profile(8, "ChargePointMaxProfile", [(0, 20.0), (3600, 12.0)],
                               startSchedule="2026-03-02T10:00:00Z")) == "Accepted"
    assert setp(cp, 0, profile(9, "TxDefaultProfile", [(0, 16.0)], startSchedule="2026-03-02T10:00:00Z")) == "Accepted"
    assert setp(cp, 1, profile(10, "TxProfile", [(0, 32.0), (1800, 10.0)], duration=2700,
                               startSchedule="2026-03-02T10:00:00Z")) == "Accepted"
    assert periods(cp, 1, t0, 5400) == [(0, 20.0), (1800, 10.0), (2700, 16.0), (3600, 12.0)]
    assert periods(cp, 2, t0, 5400) == [(0, 16.0), (3600, 12.0)]
    assert periods(cp, 0, t0, 5400) == [(0, 20.0), (3600, 12.0)]


def test_valid_from_and_to(tmp_path):
    # Level 0: 16 A. Level 1: 10 A, valid from 10:20 to 10:40. From 10:00 for 1 h:
    # 16, 10 at +1200, 16 at +2400.
    cp = make_cp(tmp_path)
    assert setp(cp, 0, profile(11, "TxDefaultProfile", [(0, 16.0)], startSchedule="2026-03-02T00:00:00Z")) == "Accepted"
    assert setp(cp, 0, profile(12, "TxDefaultProfile", [(0, 10.0)], stack=1, startSchedule="2026-03-02T00:00:00Z",
                               validFrom="2026-03-02T10:20:00Z", validTo="2026-03-02T10:40:00Z")) == "Accepted"
    assert periods(cp, 1, T("2026-03-02T10:00:00Z"), 3600) == [(0, 16.0), (1200, 10.0), (2400, 16.0)]


def test_watts_to_amps(tmp_path):
    # 11040 W on 3 phases (the default) = 11040 / (230 × 3) = 16 A; 4600 W on 1 phase = 20 A.
    # In W the same periods read back as W. A ChargePointMax of 18 A then binds from +1800
    # (18 < 20 A per phase); it names no phases, so in W it reads 18 × 230 × 3 = 12420 W.
    cp = make_cp(tmp_path)
    assert setp(cp, 0, profile(13, "TxDefaultProfile", [(0, 11040.0), (1800, 4600.0, 1)], unit="W",
                               startSchedule="2026-03-02T10:00:00Z")) == "Accepted"
    t0 = T("2026-03-02T10:00:00Z")
    assert periods(cp, 1, t0, 3600) == [(0, 16.0), (1800, 20.0, 1)]
    assert periods(cp, 1, t0, 3600, w=True) == [(0, 11040.0), (1800, 4600.0, 1)]
    assert setp(cp, 0, profile(14, "ChargePointMaxProfile", [(0, 18.0)], startSchedule="2026-03-02T10:00:00Z")) == "Accepted"
    assert periods(cp, 1, t0, 3600) == [(0, 16.0), (1800, 18.0)]
    assert periods(cp, 1, t0, 3600, w=True) == [(0, 11040.0), (1800, 12420.0)]


def test_get_composite_schedule_answer(tmp_path, monkeypatch):
    cp = make_cp(tmp_path)
    t0 = T("2026-03-02T10:00:00Z")
    monkeypatch.setattr(clock, "now", lambda: t0)
    assert setp(cp, 1, profile(15, "TxDefaultProfile", [(0, 16.0), (600, 10.0)], kind="Relative",
                               minChargingRate=6.0)) == "Accepted"
    got = smart_charging_calls.GetCompositeSchedule(cp, {"connectorId": 1, "duration": 900, "chargingRateUnit": "W"})
    assert got == {"status": "Accepted", "connectorId": 1, "scheduleStart": "2026-03-02T10:00:00Z",
                   "chargingSchedule": {"duration": 900, "startSchedule": "2026-03-02T10:00:00Z",
                                        "chargingRateUnit": "W", "minChargingRate": 4140.0,
                                        "chargingSchedulePeriod": [{"startPeriod": 0, "limit": 11040.0},
                                                                   {"startPeriod": 600, "limit": 6900.0}]}}
    assert smart_charging_calls.GetCompositeSchedule(cp, {"connectorId": 3, "duration": 60})["status"] == "Rejected"


# --- the limit output as time passes -------------------------------------------------------

def test_limit_reaches_on_limit_as_time_passes(tmp_path):
    cp = make_cp(tmp_path, connectors=1)
    seen = []
    cp.connectors[1].on_limit = seen.append
    start = clock.now() + 1  # 16 A from the next second, 10 A a second later, 6 A, then none
    assert setp(cp, 1, profile(1, "TxDefaultProfile", [(0, 16.0), (1, 10.0), (2, 6.0)],
                               duration=3, startSchedule=clock.iso(start))) == "Accepted"
    end = time.monotonic() + 8
    while time.monotonic() < end and (not seen or seen[-1] is not None):
        cp.loop()
        time.sleep(0.002)
    assert [x for x in seen if x is not None] == [16.0, 10.0, 6.0]
    assert seen[-1] is None and seen.count(None) == 1  # limit gone at the end of the duration


def test_clear_takes_the_limit_away(tmp_path):
    cp = make_cp(tmp_path, connectors=1)
    seen = []
    cp.connectors[1].on_limit = seen.append
    assert setp(cp, 0, profile(1, "ChargePointMaxProfile", [(0, 20.0)], kind="Relative")) == "Accepted"
    cp.loop()
    cp.loop()
    assert seen == [20.0]
    assert smart_charging_calls.ClearChargingProfile(cp, {"chargingProfilePurpose": "ChargePointMaxProfile"}) == {
        "status": "Accepted"}
    cp.loop()
    cp.loop()
    assert seen == [20.0, None]


# --- end to end against the CSMS ------------------------------------------------------------

def limit_of(sim, cid):
    return sim.status()["connectors"][cid]["limit"]


@pytest.mark.parametrize("runtime", simproc.RUNTIMES)
def test_end_to_end(runtime, csms, tmp_path):
    sim = simproc.start(runtime, csms, tmp_path)
    try:
        csms.wait_action("CP_1", "StatusNotification", count=3)
        call = lambda action, p: csms.call("CP_1", action, p)  # noqa: E731
        conf = call("GetConfiguration", {"key": [
            "SupportedFeatureProfiles", "ChargeProfileMaxStackLevel", "ChargingScheduleAllowedChargingRateUnit",
            "ChargingScheduleMaxPeriods", "MaxChargingProfilesInstalled"]})
        assert "unknownKey" not in conf
        listed = {k["key"] for k in call("GetConfiguration", {})["configurationKey"]}
        assert {"ChargeProfileMaxStackLevel", "MaxChargingProfilesInstalled"} <= listed
        keys = {k["key"]: (k["value"], k["readonly"]) for k in conf["configurationKey"]}
        assert "SmartCharging" in keys["SupportedFeatureProfiles"][0].split(",")
        assert keys["ChargeProfileMaxStackLevel"] == ("8", True)
        assert keys["ChargingScheduleAllowedChargingRateUnit"] == ("Current,Power", True)
        assert keys["ChargingScheduleMaxPeriods"] == ("24", True)
        assert keys["MaxChargingProfilesInstalled"] == ("8", True)

        def scp(cid, prof):
            return call("SetChargingProfile", {"connectorId": cid, "csChargingProfiles": prof})["status"]
        # a TxDefaultProfile for connector 1
        assert scp(1, profile(1, "TxDefaultProfile", [(0, 16.0)], kind="Relative")) == "Accepted"
        sim.wait_status(lambda s: s["connectors"][1]["limit"] == 16.0)
        assert limit_of(sim, 2) is None
        assert scp(1, profile(2, "TxProfile", [(0, 10.0)], kind="Relative")) == "Rejected"  # no transaction
        assert scp(1, profile(2, "ChargePointMaxProfile", [(0, 10.0)], kind="Relative")) == "Rejected"
        assert scp(0, profile(2, "TxDefaultProfile", [(0, 10.0)], stack=9, kind="Relative")) == "Rejected"
        # a TxProfile during a transaction
        sim.cmd("plug 1", "tag 1 CARD")
        csms.wait_action("CP_1", "StartTransaction")
        tx = sim.wait_status(lambda s: s["connectors"][1]["transaction"])["connectors"][1]["transaction"]
        assert scp(1, profile(3, "TxProfile", [(0, 10.0)], kind="Relative", transactionId=tx + 1)) == "Rejected"
        assert scp(1, profile(3, "TxProfile", [(0, 10.0)], kind="Relative", transactionId=tx)) == "Accepted"
        sim.wait_status(lambda s: s["connectors"][1]["limit"] == 10.0)
        # the simulated EV draws within the limit: 10 A x 3 phases x 230 V, not its 11 kW
        sim.wait_status(lambda s: s["connectors"][1]["power_w"] == 6900)
        comp = call("GetCompositeSchedule", {"connectorId": 1, "duration": 600, "chargingRateUnit": "W"})
        assert comp["status"] == "Accepted" and comp["connectorId"] == 1
        assert comp["chargingSchedule"]["chargingRateUnit"] == "W"
        assert comp["chargingSchedule"]["chargingSchedulePeriod"] == [{"startPeriod": 0, "limit": 6900.0}]
        assert call("GetCompositeSchedule", {"connectorId": 5, "duration": 600}) == {"status": "Rejected"}
        # clear by id: the TxDefaultProfile governs again; nothing more to clear by that id
        assert call("ClearChargingProfile", {"id": 3}) == {"status": "Accepted"}
        sim.wait_status(lambda s: s["connectors"][1]["limit"] == 16.0)
        assert call("ClearChargingProfile", {"id": 3}) == {"status": "Unknown"}
        sim.cmd("tag 1 CARD")
        csms.wait_action("CP_1", "StopTransaction")
        # RemoteStartTransaction with a TxProfile: it governs the transaction that starts
        prof = profile(4, "TxProfile", [(0, 6.0)], kind="Relative")
        assert call("RemoteStartTransaction", {"connectorId": 2, "idTag": "R", "chargingProfile": prof}) == {
            "status": "Accepted"}
        sim.cmd("plug 2")
        csms.wait_action("CP_1", "StartTransaction", count=2)
        sim.wait_status(lambda s: s["connectors"][2]["limit"] == 6.0)
        bad = profile(5, "TxDefaultProfile", [(0, 6.0)], kind="Relative")
        assert call("RemoteStartTransaction", {"connectorId": 1, "idTag": "R", "chargingProfile": bad}) == {
            "status": "Rejected"}
        comp = call("GetCompositeSchedule", {"connectorId": 2, "duration": 60})
        assert comp["chargingSchedule"]["chargingSchedulePeriod"] == [{"startPeriod": 0, "limit": 6.0}]
        # clear by purpose, then everything
        assert call("ClearChargingProfile", {"chargingProfilePurpose": "TxProfile", "connectorId": 2}) == {
            "status": "Accepted"}
        sim.wait_status(lambda s: s["connectors"][2]["limit"] is None)
        assert call("ClearChargingProfile", {}) == {"status": "Accepted"}
        sim.wait_status(lambda s: s["connectors"][1]["limit"] is None)
        assert call("ClearChargingProfile", {}) == {"status": "Unknown"}
        assert csms.violations == []
    finally:
        sim.stop()


@pytest.mark.parametrize("runtime", simproc.RUNTIMES)
def test_profiles_survive_a_reboot(runtime, csms, tmp_path):
    sim = simproc.start(runtime, csms, tmp_path)
    try:
        csms.wait_action("CP_1", "StatusNotification", count=3)
        prof = profile(1, "ChargePointMaxProfile", [(0, 32.0)], kind="Relative")
        assert csms.call("CP_1", "SetChargingProfile", {"connectorId": 0, "csChargingProfiles": prof}) == {
            "status": "Accepted"}
        sim.wait_status(lambda s: s["connectors"][2]["limit"] == 32.0)
        assert csms.call("CP_1", "Reset", {"type": "Soft"}) == {"status": "Accepted"}
        csms.wait_action("CP_1", "BootNotification", count=2)
        sim.wait_status(lambda s: s["connectors"][1]["limit"] == 32.0 and s["connectors"][2]["limit"] == 32.0)
        assert csms.violations == []
    finally:
        sim.stop()


def test_profiles_are_stored_compactly(tmp_path):
    cp = make_cp(tmp_path)
    assert setp(cp, 0, profile(1, "TxDefaultProfile", [(p * 3600, 16.0) for p in range(24)],
                               kind="Recurring", recurrencyKind="Daily",
                               startSchedule="2026-03-02T00:00:00Z")) == "Accepted"
    text = (tmp_path / "state" / "smart_charging.json").read_text()
    assert len(text) < 600 and json.loads(text)[0][0] == 1  # 24 periods: about 22 bytes each
