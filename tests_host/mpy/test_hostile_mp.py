# What a hostile or broken CSMS sends, plain asserts: run on MicroPython by tools/mptest.py and
# on CPython by pytest, over the fake link (one state machine: the dispatcher). Frames nested
# thousands deep, numbers beyond 32 bits (bigints on MicroPython, >4300 digits on CPython),
# inf and nan, and absurd clock times: no exception, one answer per readable CALL, the right
# error code, and the clock never leaves its sane window.
import json
import sys

from mpy_ocpp import (ChargePoint, clock, local_auth_list, local_auth_list_calls, remote_trigger, reservation,
                      smart_charging)
from mpy_ocpp.store import Store
from tests_host.mpy.fakes import Link, state_dir

MICRO = sys.implementation.name == "micropython"
BOOT = {"status": "Accepted", "currentTime": "2026-06-01T00:00:00Z", "interval": 300}


def _booted():
    link = Link()
    cp = ChargePoint("CP_1", link, Store(state_dir("hostile")), connectors=2,
                     profiles=(local_auth_list, reservation, smart_charging, remote_trigger))
    for _ in range(20):
        cp.loop()
        p = cp.pending
        if p is not None:
            link.inbox.append(json.dumps([3, p[0], BOOT if p[1][1] == "BootNotification" else {}]))
    assert cp.accepted and not cp.queue and cp.pending is None
    return cp, link


def _feed(cp, link, text):
    """One frame in; the answers it got (CALLRESULT/CALLERROR frames)."""
    n = len(link.sent)
    link.inbox.append(text)
    cp.loop()
    return [m for m in link.sent[n:] if m[0] in (3, 4)]


def _deep(n):
    return "[" * n + "]" * n


def _deep_obj(n):
    return '{"a":' * n + "1" + "}" * n


def _profile(limit):
    return ('[2,"%s","SetChargingProfile",{"connectorId":1,"csChargingProfiles":{'
            '"chargingProfileId":1,"stackLevel":0,"chargingProfilePurpose":"TxDefaultProfile",'
            '"chargingProfileKind":"Absolute","chargingSchedule":{"chargingRateUnit":"A",'
            '"chargingSchedulePeriod":[{"startPeriod":0,"limit":%s}]}}}]') % ("L" + limit[:8], limit)


def test_deep_nesting_is_refused_with_the_id():
    cp, link = _booted()
    for mid, text in (
            ("d1", '[2,"d1","DataTransfer",' + _deep(3000) + "]"),
            ("d2", '[2,"d2","DataTransfer",{"vendorId":"v","data":' + _deep_obj(1500) + "}]"),
            ("d3", '[2,"d3","Reset",' + "[" * 5000),  # cut short as well
            ("d4", '[2, "d4", "RemoteStartTransaction", {"idTag": "A", "chargingProfile": '
                   + _deep_obj(16) + "}]"),
            ("", '[2, "", "DataTransfer", ' + _deep(20) + "]")):  # an empty id is an id
        got = _feed(cp, link, text)
        assert [(m[0], m[1], m[2]) for m in got] == [(4, mid, "FormationViolation")], (mid, got)
    for text in (_deep(4000), "[3," + _deep(2000) + "]", '[4,"x","GenericError","",'
                 + _deep_obj(2000) + "]"):
        assert _feed(cp, link, text) == []  # no id to answer: logged only


def test_brackets_inside_strings_are_not_nesting():
    cp, link = _booted()
    for data in ("[{" * 600, '\\"' + "[" * 40, "\\\\" + "{" * 40, '"]]]]' + "[" * 30):
        text = json.dumps([2, "s1", "DataTransfer", {"vendorId": "v", "data": data}])
        got = _feed(cp, link, text)
        assert got == [[3, "s1", {"status": "UnknownVendorId"}]], (data[:12], got)


def test_deep_answer_to_a_pending_call_keeps_the_charger_working():
    cp, link = _booted()
    cp.heartbeat()
    cp.loop()
    mid = cp.pending[0]
    assert _feed(cp, link, '[3,"%s",%s]' % (mid, _deep_obj(3000))) == []
    assert cp.pending is not None and cp.pending[0] == mid  # unread: still waiting for an answer
    _feed(cp, link, json.dumps([3, mid, {"currentTime": "2026-06-01T00:00:01Z"}]))
    assert cp.pending is None
    assert _feed(cp, link, '[2,"ok","ClearCache",{}]') == [[3, "ok", {"status": "Accepted"}]]


def test_escaped_surrogates_come_back_as_utf8():
    # Most peers escape an emoji as the pair "\ud83d\ude00"; MicroPython's json read it as two
    # lone surrogates, and sent back (an answer's id, an idTag, data) the frame was not UTF-8:
    # the peer fails the connection (1007). Found by the fuzz corpus (test_fuzz_mpy.py).
    from mpy_ocpp.ws import _text
    cp, link = _booted()
    raw = []
    send = link.send
    link.send = lambda text: raw.append(text.encode()) or send(text)
    cp.on_data_transfer = lambda vendor, mid, data: ("Accepted", data)
    got = _feed(cp, link, '[2,"\\ud830\\udff8","TriggerMessage",{"requestedMessage":"Heartbeat"}]')
    assert got == [[3, chr(0x1C3F8), {"status": "Accepted"}]], got
    for data, want in (
            ("A\\ud83d\\uDE00", "A" + chr(0x1F600)),
            ("\\udc00\\ud83dx", "\ufffd\ufffdx"),  # lone ones
            ("\\\\ud83d", "\\ud83d"),  # an escaped backslash, no escape
            ("\\u00e9\\ud83d\\ude01\\u0041", "\xe9" + chr(0x1F601) + "A")):
        got = _feed(cp, link, '[2,"u","DataTransfer",{"vendorId":"v","data":"%s"}]' % data)
        assert got == [[3, "u", {"status": "Accepted", "data": want}]], (data, got)
    for b in raw:
        _text(b)  # strict UTF-8, as a peer reads it (raises otherwise)


def _blocks(text, cut):
    """text as the transport hands over a long message it found no free block for: its UTF-8
    in blocks, here cut at the offsets in `cut` (an escape, a character, a token split)."""
    b = text.encode()
    at = [0] + cut + [len(b)]
    return [bytearray(b[at[i]:at[i + 1]]) for i in range(len(at) - 1)]


def test_a_message_in_blocks_is_read_as_a_whole():
    cp, link = _booted()
    cp.on_data_transfer = lambda vendor, mid, data: ("Accepted", data)
    data = "x" * 500 + "\\u00e9\\ud83d\\ude00" + "y" * 300 + "[{" * 20  # JSON escapes
    text = '[2,"b1","DataTransfer",{"vendorId":"v","data":"%s"}]' % data
    want = [[3, "b1", {"status": "Accepted", "data": "x" * 500 + "\xe9" + chr(0x1F600) + "y" * 300 + "[{" * 20}]]
    i = text.index("\\ud83d")
    for cut in ([512], [i + 1], [i + 3], [i + 2, i + 9], [100, 200, 300, 900]):
        assert _feed(cp, link, _blocks(text, cut)) == want, cut
    deep = '[2,"b2","DataTransfer",{"vendorId":"v","data":' + _deep_obj(400) + "}]"
    got = _feed(cp, link, _blocks(deep, [600, 1200, 2000]))
    assert [(m[0], m[1], m[2]) for m in got] == [(4, "b2", "FormationViolation")], got
    got = _feed(cp, link, _blocks('[2,"b3","DataTransfer",{"vendorId":"' + "v" * 900, [512]))  # cut short
    assert [(m[0], m[1], m[2]) for m in got] == [(4, "b3", "FormationViolation")], got
    entries = [{"idTag": "T%03d" % i, "idTagInfo": {"status": "Accepted"}} for i in range(50)]
    text = json.dumps([2, "b4", "SendLocalList", {"listVersion": 3, "updateType": "Full",
                                                 "localAuthorizationList": entries}])
    assert _feed(cp, link, _blocks(text, list(range(512, len(text), 512)))) == [
        [3, "b4", {"status": "Accepted"}]]
    assert local_auth_list_calls.LocalList(cp).count == 50
    assert local_auth_list_calls.lookup(cp, "T049") == {"status": "Accepted"}


def test_a_message_in_blocks_lets_each_block_go_once_parsed():
    # MicroPython parses the blocks where they are and lets each go once read (all but the
    # first, the transport's own buffer, whose head an error reply quotes): the message is not
    # held whole beside its document. CPython joins them.
    from mpy_ocpp import rpc
    text = json.dumps([2, "m1", "DataTransfer", {"vendorId": "v", "data": "d" * 700}])
    blocks = _blocks(text, [512, 768])
    first = blocks[0]
    assert rpc.loads(blocks) == json.loads(text)
    assert blocks[0] is first and blocks[1:] == ([None, None] if MICRO else blocks[1:]), blocks
    blocks = _blocks(text[:600], [512])  # cut short: an error, its head still readable
    try:
        rpc.loads(blocks)
        raise AssertionError("parsed")
    except ValueError:
        pass
    assert bytes(blocks[0][:2]) == b'[2'


def test_huge_numbers_are_out_of_range():
    cp, link = _booted()
    prop, typ, form = "PropertyConstraintViolation", "TypeConstraintViolation", "FormationViolation"
    cases = (
        ('[2,"h1","UnlockConnector",{"connectorId":99999999999999999999}]', prop),
        ('[2,"h2","UnlockConnector",{"connectorId":-99999999999999999999}]', prop),
        ('[2,"h3","UnlockConnector",{"connectorId":2147483648}]', prop),
        # 5000 digits: CPython's json refuses more than 4300, MicroPython makes a bigint
        ('[2,"h4","UnlockConnector",{"connectorId":' + "9" * 5000 + "}]", prop if MICRO else form),
        ('[2,"h5","UnlockConnector",{"connectorId":1e400}]', typ),
        ('[2,"h6","ChangeAvailability",{"connectorId":' + "1" * 40 + ',"type":"Inoperative"}]', prop),
        ('[2,"h7","TriggerMessage",{"requestedMessage":"StatusNotification","connectorId":'
         + "3" * 30 + "}]", prop),
        ('[2,"h8","ReserveNow",{"connectorId":1,"expiryDate":"2030-01-01T00:00:00Z","idTag":"A",'
         '"reservationId":' + "7" * 60 + "}]", prop),
        ('[2,"h9","RemoteStopTransaction",{"transactionId":' + "8" * 300 + "}]", prop),
        (_profile("1e400"), prop),
        (_profile("-1e400"), prop),
        (_profile("1" * 400), prop),
        (_profile("NaN"), prop if not MICRO else form),  # CPython's json reads NaN, MicroPython's not
        (_profile("Infinity"), prop if not MICRO else form),
    )
    for text, code in cases:
        mid = json.loads(text[:text.index(",", 4)] + "]")[1]
        got = _feed(cp, link, text)
        assert [(m[0], m[1], m[2]) for m in got] == [(4, mid, code)], (mid, got)
    assert cp.reservation is None and all([c.available for c in cp.connectors])
    assert _feed(cp, link, "[" + "9" * 400 + ',"x",{}]') == []  # a huge message type: logged


def test_huge_numbers_in_answers_count_as_invalid():
    cp, link = _booted()
    cp.heartbeat()
    cp.loop()
    mid = cp.pending[0]
    _feed(cp, link, '[3,"%s",{"currentTime":"2026-06-01T00:00:00Z","x":%s}]' % (mid, "9" * 3000))
    assert cp.pending is None  # refused (an unknown field), not a crash
    link2 = Link()
    cp2 = ChargePoint("CP_1", link2, Store(state_dir("hostile")))
    cp2.loop()
    mid = cp2.pending[0]
    _feed(cp2, link2, '[3,"%s",{"status":"Accepted","currentTime":"2026-06-01T00:00:00Z",'
                      '"interval":%s}]' % (mid, "9" * 50))
    assert not cp2.accepted and cp2.pending is None  # BootNotification goes again later


def test_absurd_current_time_never_sets_the_clock():
    offset, known = clock.offset, clock.known
    try:
        _absurd_times()
    finally:
        clock.offset, clock.known = offset, known  # the clock is shared by the tests that follow


def _absurd_times():
    cp, link = _booted()
    good = clock.offset
    assert clock.iso().startswith("2026-06-01T")
    for t in ("9999-12-31T23:59:59+14:00", "2100-01-01T00:00:00Z", "1970-01-01T00:00:00Z",
              "2000-01-01T00:00:00Z", "2024-12-31T23:59:59Z", "0000-01-01T00:00:00Z"):
        assert not clock.set_iso(t), t
        assert clock.offset == good, t
    # through the protocol: Heartbeat and BootNotification answers
    cp.heartbeat()
    cp.loop()
    _feed(cp, link, json.dumps([3, cp.pending[0], {"currentTime": "9999-12-31T23:59:59+14:00"}]))
    assert clock.offset == good and clock.iso().startswith("2026-06-01T")
    # a charger whose clock is unknown stays so: its timestamps stay markers, fixed later
    clock.known = False
    link2 = Link()
    cp2 = ChargePoint("CP_1", link2, Store(state_dir("hostile")))
    cp2.loop()
    boot = dict(BOOT, currentTime="1970-01-01T00:00:00Z", status="Pending", interval=1)
    _feed(cp2, link2, json.dumps([3, cp2.pending[0], boot]))
    assert not clock.known and clock.iso()[:1] == "?"
    # the window's edges
    assert clock.set_iso("2025-01-01T00:00:00Z") and clock.iso()[:4] == "2025"
    assert clock.set_iso("2099-12-31T23:59:59Z") and clock.iso()[:4] == "2099"
    assert clock.parse("9999-12-31T23:59:59Z") == clock.parse("2100-01-01T00:00:00Z")


def test_the_deepest_frames_2_0_1_allows_are_read():
    """RequestStartTransaction with a charging profile and its sales tariff: 12 levels, a valid
    2.0.1 frame (found by the fuzz test, once refused as too deep)."""
    from mpy_ocpp import ocpp201
    link = Link()
    cp = ChargePoint("CP_1", link, Store(state_dir("deep201")), connectors=2, versions=(ocpp201,))
    for _ in range(20):
        cp.loop()
        p = cp.pending
        if p is not None:
            link.inbox.append(json.dumps([3, p[0], BOOT if p[1][1] == "BootNotification" else {}]))
    cost = [{"startValue": 0.0, "cost": [{"costKind": "CarbonDioxideEmission", "amount": 0}]}]
    tariff = {"id": 0, "salesTariffEntry": [{"relativeTimeInterval": {"start": 0}, "consumptionCost": cost}]}
    prof = {"id": 0, "stackLevel": 0, "chargingProfilePurpose": "TxProfile", "chargingProfileKind": "Absolute",
            "chargingSchedule": [{"id": 0, "chargingRateUnit": "W", "salesTariff": tariff,
                                  "chargingSchedulePeriod": [{"startPeriod": 0, "limit": 0.0}]}]}
    got = _feed(cp, link, json.dumps([2, "", "RequestStartTransaction", {
        "remoteStartId": 1, "idToken": {"idToken": "A", "type": "Central"}, "chargingProfile": prof}]))
    assert [m[:2] for m in got] == [[3, ""]] and got[0][2]["status"] in ("Accepted", "Rejected"), got
