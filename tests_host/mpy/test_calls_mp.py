# The CSMS's calls imported for the call only (ocpp16.run_in), plain asserts: run on
# MicroPython by tools/mptest.py and on CPython by pytest, against a fake transport (the
# end-to-end proof is every profile's test against the real CSMS).
import json
import sys

import mpy_ocpp
from mpy_ocpp import (ChargePoint, clock, firmware_management, local_auth_list, remote_trigger, reservation,
                      smart_charging)
from mpy_ocpp.store import Store
from tests_host.mpy.fakes import Link, answer, state_dir

_CALLS = ("core", "reservation_calls", "local_auth_list_calls", "smart_charging_calls", "firmware_management_calls",
          "authorization_cache")
_IDS = [0]


def _booted():
    link = Link()
    cp = ChargePoint("CP_1", link, Store(state_dir("calls")), connectors=2,
                     profiles=(local_auth_list, reservation, smart_charging, remote_trigger, firmware_management))
    answer(cp, link, {}, 10)
    assert cp.accepted
    return cp, link


def _ask(cp, link, action, payload):
    _IDS[0] += 1
    mid = "c%d" % _IDS[0]
    link.inbox.append(json.dumps([2, mid, action, payload]))
    cp.loop()
    got = [f for f in link.sent if f[1] == mid]
    assert len(got) == 1, got
    return got[0]


def _forget():
    """Drop what other tests imported: {name: module} to give back with _restore."""
    out = {}
    for name in _CALLS:
        m = sys.modules.pop("mpy_ocpp." + name, None)
        if m is not None:
            out[name] = m
        if name in mpy_ocpp.__dict__:
            delattr(mpy_ocpp, name)
    return out


def _restore(saved):
    for name, m in saved.items():
        sys.modules["mpy_ocpp." + name] = m


def _loaded():
    return [n for n in _CALLS if "mpy_ocpp." + n in sys.modules or n in mpy_ocpp.__dict__]


def test_each_call_module_is_let_go_after_its_call():
    saved = _forget()
    try:
        cp, link = _booted()
        asks = (("GetConfiguration", {"key": ["HeartbeatInterval"]}),
                ("ReserveNow", {"connectorId": 1, "expiryDate": "2099-01-01T00:00:00Z", "idTag": "A",
                                "reservationId": 1}),
                ("CancelReservation", {"reservationId": 1}),
                ("SendLocalList", {"listVersion": 1, "updateType": "Full",
                                   "localAuthorizationList": [{"idTag": "A", "idTagInfo": {"status": "Accepted"}}]}),
                ("GetLocalListVersion", {}),
                ("GetCompositeSchedule", {"connectorId": 1, "duration": 60}))
        for action, payload in asks:
            f = _ask(cp, link, action, payload)
            assert f[0] == 3, f
            assert _loaded() == [], (action, _loaded())
        assert cp.local_list == 1 and cp.reservation is None
        # a call that fails in its module: the CALLERROR, and the module goes all the same
        many = [{"idTag": "T%d" % i} for i in range(51)]
        f = _ask(cp, link, "SendLocalList", {"listVersion": 2, "updateType": "Full", "localAuthorizationList": many})
        assert f[0] == 4 and f[2] == "OccurenceConstraintViolation", f
        assert _loaded() == [] and cp.local_list == 1
    finally:
        _restore(saved)


def test_a_call_module_the_firmware_holds_is_used_and_kept():
    saved = _forget()
    try:
        from mpy_ocpp import reservation_calls
        cp, link = _booted()
        asked = []
        reservation_calls.CancelReservation = lambda cp, p: asked.append(p) or {"status": "Rejected"}
        f = _ask(cp, link, "CancelReservation", {"reservationId": 5})
        assert f[2] == {"status": "Rejected"} and asked == [{"reservationId": 5}]
        assert _loaded() == ["reservation_calls"]
    finally:
        _forget()
        _restore(saved)


def test_the_firmware_machine_is_held_while_it_works_and_let_go_after():
    saved = _forget()
    try:
        cp, link = _booted()
        f = cp.firmware
        assert f._m is None and _loaded() == []
        f = _ask(cp, link, "TriggerMessage", {"requestedMessage": "FirmwareStatusNotification"})
        assert f[2] == {"status": "Accepted"}
        answer(cp, link, {}, 10)
        assert cp.firmware._m is None and _loaded() == []
        tries = []
        cp.firmware.download = lambda url, path: tries.append(url) or False
        f = _ask(cp, link, "UpdateFirmware", {"location": "http://127.0.0.1:1/fw.bin", "retries": 0,
                                              "retrieveDate": clock.iso(clock.now() - 60)})
        assert f[2] == {} and cp.firmware._m is not None
        answer(cp, link, {}, 10)
        sent = [m[3]["status"] for m in link.sent if m[0] == 2 and m[2] == "FirmwareStatusNotification"]
        assert tries and sent == ["Idle", "Downloading", "DownloadFailed"], sent
        assert cp.firmware._m is None and _loaded() == []
    finally:
        _restore(saved)


def test_the_authorization_cache_is_its_file_and_holds_no_module():
    # cp.v.cache(cp) reads the file for one use: remembered, looked up, cleared by the CSMS
    saved = _forget()
    try:
        cp, link = _booted()
        assert not hasattr(cp, "cache") and _loaded() == []
        cp.remember("A", {"status": "Accepted"})
        assert _loaded() == [] and cp.v.cache(cp).lookup("a") == {"status": "Accepted"}
        seen = []
        cp.config.values["LocalPreAuthorize"] = True
        cp.authorize("A", seen.append)  # from the cache: no Authorize
        assert seen == [{"status": "Accepted"}] and _loaded() == []
        f = _ask(cp, link, "ClearCache", {})
        assert f[2] == {"status": "Accepted"} and _loaded() == []
        assert cp.v.cache(cp).lookup("A") is None and _loaded() == []
    finally:
        _restore(saved)


def test_a_stored_list_holds_no_module_between_uses():
    # cp.local_list is the list's version: the list's code comes for a lookup or a call only
    saved = _forget()
    try:
        cp, link = _booted()
        assert cp.local_list is None
        f = _ask(cp, link, "SendLocalList", {"listVersion": 3, "updateType": "Full", "localAuthorizationList": [
            {"idTag": "A", "idTagInfo": {"status": "Accepted"}}]})
        assert f[2] == {"status": "Accepted"} and cp.local_list == 3 and _loaded() == []
        seen = []
        cp.config.values["LocalPreAuthorize"] = True
        cp.authorize("A", seen.append)  # accepted by the list: no Authorize
        assert seen == [{"status": "Accepted"}] and _loaded() == []
        f = _ask(cp, link, "SendLocalList", {"listVersion": 4, "updateType": "Full"})
        assert f[2] == {"status": "Accepted"} and cp.local_list is None and _loaded() == []
    finally:
        _restore(saved)
