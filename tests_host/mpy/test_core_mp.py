# Unit tests of the core's pieces, plain asserts: run on MicroPython by tools/mptest.py and
# on CPython by pytest. A fake transport here tests one state machine at a time; the proof
# that features work is the end-to-end suite against the real CSMS.
import json

from mpy_ocpp import ChargePoint, clock
from mpy_ocpp.authorization_cache import AuthorizationCache, same
from mpy_ocpp.config import BOOL, INT, LIST, MEMBERS, REBOOT, RO, STR, V201
from mpy_ocpp.rpc import error_code, find_id
from mpy_ocpp.store import Store
from tests_host.mpy.fakes import Link, state_dir


def _dir():
    return state_dir("unit")


def _booted(connectors=1, state=None):
    link = Link()
    cp = ChargePoint("CP_1", link, Store(state or _dir()), connectors=connectors)
    for c in cp.connectors[1:]:
        c.energy = lambda: 100
    cp.loop()
    _answer(cp, link, {"status": "Accepted", "currentTime": "2026-01-01T00:00:00Z", "interval": 300})
    for _ in range(connectors + 1):
        _answer(cp, link, {})
    return cp, link


def _last_call(link):
    return [m for m in link.sent if m[0] == 2][-1]


def _answer(cp, link, payload):
    cp.loop()
    link.inbox.append(json.dumps([3, _last_call(link)[1], payload]))
    cp.loop()
    cp.loop()


def _call(cp, link, action, payload):
    link.inbox.append(json.dumps([2, "t1", action, payload]))
    cp.loop()
    return [m for m in link.sent if m[1] == "t1"][-1]


def test_clock_parse_and_format():
    assert clock.parse("2026-11-21T10:00:00Z") == clock.parse("2026-11-21T11:00:00.5+01:00")
    assert clock.parse("2026-11-21T10:00:00-02:00") - clock.parse("2026-11-21T10:00:00Z") == 7200
    assert clock.parse("2026-13-21") is None and clock.parse("nonsense") is None
    assert clock.iso(clock.parse("2030-02-03T04:05:06Z")) == "2030-02-03T04:05:06Z"


def test_store_atomic_write_and_recovery():
    s = Store(_dir())
    s.save("a.json", {"x": 1})
    assert s.load("a.json") == {"x": 1}
    s.write("b.json", b"{broken")
    assert s.load("b.json", "default") == "default"
    s.write("c.json.tmp", b'{"y": 2}')  # a cut after removing c.json, before the rename
    assert s.load("c.json") == {"y": 2}


def test_rpc_ids_and_error_spellings():
    cp, link = _booted()
    for _ in range(2):
        cp.call("DataTransfer", {"vendorId": "x"})
        cp.loop()
        link.inbox.append(json.dumps([3, cp.pending[0], {"status": "Accepted"}]))
        cp.loop()
    a, b = [m[1] for m in link.sent if m[0] == 2][-2:]
    assert a != b and len(a) <= 36 and a.split("-")[0] == b.split("-")[0]
    assert error_code("FormatViolation") == "FormationViolation"
    assert error_code("OccurrenceConstraintViolation") == "OccurenceConstraintViolation"
    assert error_code("NotImplemented") == "NotImplemented"
    assert find_id('[2, "abc", "Reset", {') == "abc" and find_id('{"a": 1}') is None


def test_configuration_types_flags_and_persistence():
    d = _dir()
    cp, link = _booted(state=d)
    cfg = cp.config
    assert cfg.change("HeartbeatInterval", "60") == "Accepted" and cfg["HeartbeatInterval"] == 60
    assert cfg.change("heartbeatinterval", "-5") == "Rejected" and cfg["HeartbeatInterval"] == 60
    assert cfg.change("LocalPreAuthorize", "TRUE") == "Accepted" and cfg["LocalPreAuthorize"] is True
    assert cfg.change("LocalPreAuthorize", "yes") == "Rejected"
    assert cfg.change("NumberOfConnectors", "4") == "Rejected"
    assert cfg.change("LightIntensity", "101") == "Rejected"
    assert cfg.change("ConnectorPhaseRotation", "0.RST,1.RTS") == "Accepted"
    assert cfg.change("ConnectorPhaseRotation", "2.RST") == "Rejected"  # only connectors 0..1
    assert cfg.change("MeterValuesSampledData", "Power.Active.Import") == "Rejected"  # no such input
    assert cfg.change("MeterValuesSampledData", "Energy.Active.Import.Register") == "Accepted"
    assert cfg.change("MeterValuesSampledData", ",".join(["Energy.Active.Import.Register"] * 9)) == "Rejected"
    assert cfg.change("Nope", "1") == "NotSupported"
    cfg.declare("CsmsUrl", 2, "ws://a", REBOOT)
    assert cfg.change("CsmsUrl", "ws://b") == "RebootRequired"
    cfg.declare("FanSpeed", INT, 1, check=lambda v: v <= 3)
    assert cfg.change("FanSpeed", "4") == "Rejected" and cfg.change("FanSpeed", "3") == "Accepted"
    assert cfg.change("AuthorizationKey", "secretsecretsecret") == "Accepted"
    # a new charge point over the same state directory sees the values
    cp2 = ChargePoint("CP_1", Link(), Store(d), connectors=1)
    assert cp2.config["HeartbeatInterval"] == 60 and cp2.config["LocalPreAuthorize"] is True
    assert cp2.config["AuthorizationKey"] == "secretsecretsecret"
    assert cp2.transport.creds == ("CP_1", "secretsecretsecret")
    keys = [k["key"] for k in cp2.config.get_configuration(None)["configurationKey"]()]
    assert "AuthorizationKey" not in keys and "HeartbeatInterval" in keys


def test_profile_key_tables_spell_configs_kinds_and_flags():
    # a profile's key table writes config's kinds and flags as constants of its own module
    # (so that the table is one constant in flash): they must be config's numbers
    from mpy_ocpp import device_model, local_auth_list, reservation, smart_charging
    cp = ChargePoint("CP_1", Link(), Store(_dir()), profiles=(local_auth_list, reservation, smart_charging))
    device_model.setup(cp)  # 2.0.1's keys (its module needs no 2.0.1 charge point for that)
    want = {"LocalAuthListEnabled": (BOOL, 0), "LocalAuthListMaxLength": (INT, RO),
            "SendLocalListMaxLength": (INT, RO), "ReserveConnectorZeroSupported": (BOOL, RO),
            "ChargeProfileMaxStackLevel": (INT, RO), "ChargingScheduleAllowedChargingRateUnit": (LIST, RO),
            "ChargingScheduleMaxPeriods": (INT, RO), "MaxChargingProfilesInstalled": (INT, RO),
            "ItemsPerMessageGetReport": (INT, RO | V201), "ItemsPerMessageSetVariables": (INT, RO | V201),
            "TxStartPoint": (MEMBERS, V201), "OrganizationName": (STR, V201)}
    for name, kf in want.items():
        k = cp.config.find(name)
        assert k is not None and (k[1], k[2]) == kf, (name, k)
    assert cp.config.change("ChargeProfileMaxStackLevel", "3") == "Rejected"  # read-only
    assert cp.config.set(cp.config.find("TxStartPoint"), "Bogus") == "Rejected"  # its check


class _Holder:  # what the cache uses of a ChargePoint
    def __init__(self):
        self.store = Store(_dir())


def test_authorization_cache_bounded_and_expiry():
    cache = AuthorizationCache(_Holder(), size=3)
    for i in range(5):
        cache.update("T%d" % i, {"status": "Accepted"})
    assert len(cache.entries) == 3 and cache.lookup("T0") is None and cache.lookup("T4")
    cache.update("OLD", {"status": "Accepted", "expiryDate": "2001-01-01T00:00:00Z"})
    assert cache.lookup("OLD")["status"] == "Expired"
    cache.clear()
    assert cache.lookup("T4") is None


def test_id_tags_compare_without_case():
    assert same("abc1", "ABC1") and same("x\u00e9", "X\u00e9") and same("", "")
    assert not (same("x\u00e9", "X\u00c9") or same("a", "ab") or same(None, None) or same("A", None))
    cache = AuthorizationCache(_Holder(), size=3)
    cache.update("card7", {"status": "Accepted"})
    assert cache.lookup("CARD7") == {"status": "Accepted"}
    cache.update("Card7", {"status": "Blocked"})  # the same tag: one entry, the newest
    assert len(cache.entries) == 1 and cache.lookup("card7") == {"status": "Blocked"}


def test_cached_tag_starts_offline_and_unknown_tag_does_not():
    cp, link = _booted()
    cp.remember("KNOWN", {"status": "Accepted"})
    link.online = False
    cp.loop()
    cp.tag(1, "UNKNOWN")
    cp.loop()
    assert cp.connectors[1].session is None
    cp.tag(1, "KNOWN")  # LocalAuthorizeOffline is true by default
    cp.loop()
    assert cp.connectors[1].tx is not None and cp.connectors[1].permitted


def test_minimum_status_duration_holds_back_short_statuses():
    cp, link = _booted()
    cp.config.change("MinimumStatusDuration", "100")
    plugged = [True]
    c = cp.connectors[1]
    c.plugged = lambda: plugged[0]
    for _ in range(3):
        cp.loop()
    plugged[0] = False
    for _ in range(3):
        cp.loop()
    sent = [m[3]["status"] for m in link.sent if m[0] == 2 and m[2] == "StatusNotification"]
    assert "Preparing" not in sent


def test_answers_while_own_call_is_outstanding():
    cp, link = _booted()
    cp.call("DataTransfer", {"vendorId": "x"})
    cp.loop()
    assert cp.pending is not None
    reply = _call(cp, link, "ClearCache", {})
    assert reply == [3, "t1", {"status": "Accepted"}] and cp.pending is not None


def test_an_answer_the_transport_refuses_becomes_a_short_internal_error():
    cp, link = _booted()
    send = link.send
    link.send = lambda text: len(text) < 200 and send(text)  # no room for a long answer now
    r = _call(cp, link, "GetConfiguration", {})
    assert r[0] == 4 and r[2] == "InternalError"
    link.send = send
    assert _call(cp, link, "GetConfiguration", {})[0] == 3


def test_data_transfer_unknown_vendor_without_hook():
    cp, link = _booted()
    assert _call(cp, link, "DataTransfer", {"vendorId": "x"})[2] == {"status": "UnknownVendorId"}
    cp.on_data_transfer = lambda v, m, d: ("Accepted", None)
    assert _call(cp, link, "DataTransfer", {"vendorId": "x"})[2] == {"status": "Accepted"}


def test_reset_without_hook_is_rejected_and_with_hook_waits_for_stop():
    cp, link = _booted()
    assert _call(cp, link, "Reset", {"type": "Hard"})[2] == {"status": "Rejected"}
    done = []
    cp.on_reset = lambda hard: done.append(hard)
    cp.connectors[1].begin("TAG")
    _drain(cp, link)
    assert cp.connectors[1].tx and _calls(link, "StartTransaction")
    assert _call(cp, link, "Reset", {"type": "Hard"})[2] == {"status": "Accepted"}
    cp.loop()
    assert done == []  # the StopTransaction is not out yet
    _drain(cp, link)
    assert done == [True] and _calls(link, "StopTransaction")[-1]["reason"] == "HardReset"


def test_transaction_message_retried_then_given_up():
    cp, link = _booted()
    cp.config.change("TransactionMessageAttempts", "2")
    cp.config.change("TransactionMessageRetryInterval", "0")
    cp.connectors[1].begin("TAG")
    _drain(cp, link, 30, {"StartTransaction": None})
    assert len(_calls(link, "StartTransaction")) == 2  # two attempts, then given up
    assert cp.connectors[1].tx is None  # the charge stops
    assert not _calls(link, "StopTransaction") and not cp.journal.txs

def _calls(link, action):
    return [m[3] for m in link.sent if m[0] == 2 and m[2] == action]


def _drain(cp, link, n=20, answers=None):
    """Answer every call as a patient CSMS would; `answers` overrides by action (None =
    a CALLERROR)."""
    for _ in range(n):
        cp.loop()
        p = cp.pending
        if p is None:
            continue
        action = p[1][1]
        if answers and action in answers:
            res = answers[action]
        elif action == "StartTransaction":
            res = {"transactionId": 7, "idTagInfo": {"status": "Accepted"}}
        elif action in ("Authorize", "StopTransaction"):
            res = {"idTagInfo": {"status": "Accepted"}}
        else:
            res = {}
        if res is None:
            link.inbox.append(json.dumps([4, p[0], "InternalError", "", {}]))
        else:
            link.inbox.append(json.dumps([3, p[0], res]))


def _until(cp, link, pred, seconds=3):
    import time
    t = time.time()
    while not pred():
        assert time.time() - t < seconds, "condition not reached"
        _drain(cp, link, 1)


def test_clock_aligned_values_and_stop_transaction_data():
    cp, link = _booted()
    cp.config.change("StopTxnAlignedData", "Energy.Active.Import.Register")
    cp.config.change("MeterValueSampleInterval", "0")
    cp.connectors[1].begin("TAG")
    _drain(cp, link)
    cp.config.change("ClockAlignedDataInterval", "1")
    _until(cp, link, lambda: _calls(link, "MeterValues"))
    mv = _calls(link, "MeterValues")[0]
    ctx = [sv["context"] for m in mv["meterValue"] for sv in m["sampledValue"]]
    assert set(ctx) == {"Sample.Clock"}
    cp.connectors[1].end()
    _drain(cp, link)
    stop = _calls(link, "StopTransaction")[-1]
    contexts = [m["sampledValue"][0]["context"] for m in stop["transactionData"]]
    assert contexts[0] == "Transaction.Begin" and "Sample.Clock" in contexts
    assert contexts[-1] == "Transaction.End"


def test_ev_side_disconnect_suspends_when_configured_not_to_stop():
    cp, link = _booted()
    cp.config.change("StopTransactionOnEVSideDisconnect", "false")
    plugged = [True]
    c = cp.connectors[1]
    c.plugged = lambda: plugged[0]
    c.begin("TAG")
    _drain(cp, link)
    assert c.status == "Charging" and c.permitted
    plugged[0] = False
    _drain(cp, link)
    assert c.tx is not None and c.status == "SuspendedEV" and not c.permitted
    plugged[0] = True
    _drain(cp, link)
    assert c.status == "Charging"


def test_invalid_id_in_start_answer_stops_or_suspends():
    cp, link = _booted()
    c = cp.connectors[1]
    blocked = {"StartTransaction": {"transactionId": 3, "idTagInfo": {"status": "Blocked"}}}
    c.begin("BAD")
    _drain(cp, link, 20, blocked)
    assert c.tx is None and _calls(link, "StopTransaction")[-1]["reason"] == "DeAuthorized"
    cp.config.change("StopTransactionOnInvalidId", "false")
    c.begin("BAD")
    _drain(cp, link, 20, blocked)
    assert c.tx is not None and not c.permitted and c.status == "SuspendedEVSE"


def test_connection_timeout_drops_an_unused_authorization():
    cp, link = _booted()
    cp.config.change("ConnectionTimeOut", "1")
    c = cp.connectors[1]
    c.plugged = lambda: False
    c.begin("TAG")
    _drain(cp, link, 3)
    assert c.status == "Preparing"
    _until(cp, link, lambda: c.session is None)
    _drain(cp, link)
    assert c.status == "Available" and not _calls(link, "StartTransaction")


def test_remote_start_without_authorize_when_configured():
    cp, link = _booted()
    cp.config.change("AuthorizeRemoteTxRequests", "false")
    assert _call(cp, link, "RemoteStartTransaction", {"idTag": "R1"})[2] == {"status": "Accepted"}
    _drain(cp, link)
    assert not _calls(link, "Authorize") and _calls(link, "StartTransaction")[0]["idTag"] == "R1"


def test_queue_is_bounded_and_keeps_transaction_messages():
    cp, link = _booted()
    link.online = False
    cp.loop()
    cp.connectors[1].begin("TAG")
    cp.loop()
    for i in range(40):
        cp.data_transfer("v", str(i))
    assert len(cp.queue) <= cp.queue_size
    assert [m[1] for m in cp.journal.txs[0].msgs] == ["StartTransaction"]
    link.online = True
    _drain(cp, link, 60)
    assert not cp.queue and _calls(link, "StartTransaction")


def test_action_of_a_profile_left_out_is_not_supported():
    cp, link = _booted()  # core only
    reply = _call(cp, link, "TriggerMessage", {"requestedMessage": "Heartbeat"})
    assert reply[0] == 4 and reply[2] == "NotSupported"
    reply = _call(cp, link, "Dance", {})
    assert reply[0] == 4 and reply[2] == "NotImplemented"


def test_trigger_of_firmware_status_without_that_profile():
    from mpy_ocpp import remote_trigger
    link = Link()
    cp = ChargePoint("CP_1", link, Store(_dir()), connectors=1, profiles=(remote_trigger,))
    assert "RemoteTrigger" in cp.config["SupportedFeatureProfiles"]
    reply = _call(cp, link, "TriggerMessage", {"requestedMessage": "DiagnosticsStatusNotification"})
    assert reply[2] == {"status": "NotImplemented"}


def test_triggered_messages_go_out_while_boot_is_pending():
    # §4.2: while Pending only BootNotification goes out, and what the CSMS triggers
    from mpy_ocpp import remote_trigger
    link = Link()
    cp = ChargePoint("CP_1", link, Store(_dir()), connectors=2, profiles=(remote_trigger,))
    cp.connectors[1].energy = lambda: 100
    cp.loop()
    pending = {"status": "Pending", "currentTime": "2026-01-01T00:00:00Z", "interval": 300}
    _answer(cp, link, pending)
    assert not cp.accepted and len(cp.queue) == 3  # the three statuses wait for Accepted
    for what, cid in (("StatusNotification", 1), ("Heartbeat", None), ("MeterValues", 1)):
        p = {"requestedMessage": what}
        if cid is not None:
            p["connectorId"] = cid
        assert _call(cp, link, "TriggerMessage", p)[2] == {"status": "Accepted"}
        _answer(cp, link, {"currentTime": "2026-01-01T00:00:01Z"} if what == "Heartbeat" else {})
        sent = _last_call(link)
        assert sent[2] == what and (cid is None or sent[3]["connectorId"] == cid), sent
    assert [m[2] for m in link.sent if m[0] == 2] == [
        "BootNotification", "StatusNotification", "Heartbeat", "MeterValues"]
    assert not cp.accepted and len(cp.queue) == 2  # the other statuses still wait
    link.inbox.append(json.dumps([2, "t2", "TriggerMessage", {"requestedMessage": "BootNotification"}]))
    _answer(cp, link, dict(pending, status="Accepted"))
    _drain(cp, link)
    assert cp.accepted and not cp.queue
    assert sorted([p["connectorId"] for p in _calls(link, "StatusNotification")]) == [0, 1, 2]
