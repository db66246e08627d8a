# What a user can get wrong in the library's arguments, plain asserts on MicroPython (through
# tools/mptest.py) and on CPython (pytest): the charge point id percent-encoded for the URL,
# the number of connectors bounded, and every connector's status kept until the boot is
# accepted (the queue holds one per connector).
import json

from mpy_ocpp import ChargePoint
from mpy_ocpp.chargepoint import MAX_CONNECTORS
from mpy_ocpp.compat import url_quote
from mpy_ocpp.store import Store
from tests_host.mpy.fakes import Link, state_dir


def test_url_quote_keeps_only_unreserved_characters():
    # the same as CPython's urllib.parse.quote(s, safe="")
    assert url_quote("CP_1-a.b~") == "CP_1-a.b~"
    assert url_quote("CP 1/#?%") == "CP%201%2F%23%3F%25"
    assert url_quote("Zürich-€") == "Z%C3%BCrich-%E2%82%AC"
    assert url_quote("a+b&c=d:e@f") == "a%2Bb%26c%3Dd%3Ae%40f"
    assert url_quote("") == ""


def test_connectors_out_of_range_are_refused():
    for n in (0, -1, MAX_CONNECTORS + 1):
        try:
            ChargePoint("CP_1", Link(), Store(state_dir("limits")), connectors=n)
        except ValueError:
            continue
        raise AssertionError("connectors=%d accepted" % n)


def test_every_status_survives_the_boot_at_the_most_connectors():
    link = Link()
    cp = ChargePoint("CP_1", link, Store(state_dir("limits")), connectors=MAX_CONNECTORS)
    for _ in range(3):
        cp.loop()
    assert [m[2] for m in link.sent] == ["BootNotification"]
    link.inbox.append(json.dumps([3, link.sent[0][1], {
        "status": "Accepted", "currentTime": "2026-01-01T00:00:00Z", "interval": 300}]))
    seen = []
    for _ in range(4 * MAX_CONNECTORS):
        cp.loop()
        m = link.sent[-1]
        if m[2] == "StatusNotification" and m[1] not in [s[0] for s in seen]:
            seen.append((m[1], m[3]["connectorId"]))
            link.inbox.append(json.dumps([3, m[1], {}]))
    assert sorted([cid for _, cid in seen]) == list(range(MAX_CONNECTORS + 1))
