# State files read back at boot, plain asserts: run on MicroPython by tools/mptest.py and on
# CPython by pytest. Every bad document (wrong shape, wrong types, truncated, garbage) of every
# file the library persists is set aside as NAME.bad with one log line naming it, and its
# defaults are used; the secrets and the transactions the CSMS started survive the loss of any
# one file. The end-to-end proof against the real CSMS is tests_host/test_state_files.py.
import json
import os

from mpy_ocpp import (ChargePoint, clock, config, firmware_management, journal, local_auth_list,
                      remote_trigger, reservation, security, smart_charging)
from mpy_ocpp import store as store_mod
from mpy_ocpp.store import Store
from mpy_ocpp.transaction import _FIELDS, Transaction
from tests_host.mpy.fakes import Link, answer, state_dir

PROFILES = (local_auth_list, reservation, smart_charging, remote_trigger, firmware_management, security)
KEY = "0123456789abcdef0123456789abcdef"
LOG = []


def _capture():
    """Collect the log lines of the modules that read state back; returns the undo."""
    mods = (store_mod, config, journal)
    old = [m.log for m in mods]
    del LOG[:]
    for m in mods:
        m.log = lambda *a: LOG.append(" ".join([str(x) for x in a]))

    def undo():
        for m, f in zip(mods, old):
            m.log = f
    return undo


def _j(obj):
    return json.dumps(obj).encode()


def _tx(**kw):
    """A record as the journal writes it: StartTransaction owed on connector 1, then `kw`."""
    t = Transaction(1, "A", None, 10)
    t.seq = 1
    t.start = "2026-01-01T00:00:00Z"
    t.msgs = [[1, "StartTransaction", {"connectorId": 1, "idTag": "A", "meterStart": 10, "timestamp": t.start}]]
    s = t.state()
    for k in kw:
        s[_FIELDS.index(k)] = kw[k]
    return s


def _sc(i, v):
    """A saved charging profile (see smart_charging_calls.SmartCharging._saved) with field i set to v."""
    e = [1, 0, 0, 0, 0, 0, None, None, 100, None, False, None, [0, 160, None], None]
    e[i] = v
    return [e]


def _ll(*tags, status=0):
    """locallist.bin with these records (version 1), as update() writes them."""
    out = (1).to_bytes(4, "little")
    for t in tags:
        r = bytearray(45)
        r[:len(t)] = t
        r[20] = status
        out += bytes(r)
    return out


DEEP = [[[[[[[[[[[[["deep"]]]]]]]]]]]]]
GARBAGE = (b"", b"\xff\xfe\x00\x81garbage", b"nul", b"[" * 3000 + b"]" * 3000, b"{\"a\": 1")

# (file, a valid document: cut in half it must be set aside too, [bad documents])
CASES = (
    ("config.json", _j({"HeartbeatInterval": "60"}), [_j(d) for d in ([], 5, "x", None, True)]),
    ("secret.json", _j({"#": 1, "AuthorizationKey": KEY}), [_j(d) for d in (
        [], {"#": "1", "AuthorizationKey": KEY}, {"#": 1}, {"#": 1, "AuthorizationKey": 5},
        {"AuthorizationKey": KEY}, None)]),
    ("availability.json", _j([True, False, True]), [_j(d) for d in (
        5, {"1": True}, [1, 0], [True, "x"], [None], "true")]),
    ("authcache.json", _j([["A", "Accepted", None, None]]), [_j(d) for d in (
        {}, [["A"]], [["A", "Accepted", "never", None]], [[1, "Accepted", None, None]],
        [["A", "Accepted", None, None], 5], [["A", None, None, None]], [["A", "Accepted", 1.5, None]])]),
    ("reservations.json", _j([[1, 1, "A", None, 2000000000]]), [_j(d) for d in (
        {}, [[1, 1, "A", None]], [[1, 9, "A", None, 5]], [["1", 1, "A", None, 5]],
        [[1, 1, "A", None, 1.5]], [[1, 1, None, None, 5]], [[1, -1, "A", None, 5]], [5])]),
    ("smart_charging.json", _j(_sc(0, 1)), [_j(d) for d in (
        {}, 5, [[1]], _sc(2, 7), _sc(12, []), _sc(12, [[0, "x", None]]), _sc(12, [[0, 160]]),
        _sc(12, [0, 160]), _sc(12, [0, 160, None, 3600]), _sc(12, [0, "x", None]), _sc(12, [[0, 160, None], 5]),
        _sc(8, None), _sc(3, 9), _sc(10, "no"), _sc(5, -1), _sc(13, "tx"), _sc(0, None))]),
    ("firmware.json", _j(["done", "Installed"]), [_j(d) for d in (
        {}, [], ["get"], ["get", "u", "x", 1, 1], ["get", 5, 0, 1, 1], ["done", "Bogus"], ["done"],
        [5], "ready", ["install", 1])]),
    ("tx1.json", _j(_tx()), [_j(d) for d in (
        [], {}, _tx()[:-1], _tx(id_tag=None), _tx(stopped="yes"), _tx(msgs=[[1]]),
        _tx(msgs=[["x", "StartTransaction", {}]]), _tx(msgs=[[1, "StartTransaction", []]]),
        _tx(msgs=[[1, "Bogus", {}]]), _tx(data=[5]), _tx(data=[{"v": DEEP}]), _tx(seq=2),
        _tx(connector_id=9), _tx(connector_id=0), _tx(id=5), _tx(meter_start="10"), _tx(lost=1),
        _tx(msgs=[]), _tx(id=5, msgs=[[1, "StopTransaction", {}]]),
        _tx(msgs=_tx()[10] + [[2, "StartTransaction", {}]]), _tx(due=None),
        _tx(id="6b1-a9"), _tx(id="6b1-a9", msgs=[[1, "TransactionEvent", []]]), _tx(seqno="0"),
        _tx(kind=5), _tx(id=5, id_tag=None, msgs=[[1, "MeterValues", {}]]))]),
    ("started.json", _j([[1, 5, 1, "A", 10]]), [_j(d) for d in (
        {}, [[1, 2]], [["1", 5, 1, "A", 10]], [[1, 5, 9, "A", 10]], [[1, 5, 1, None, 10]],
        [[0, 5, 1, "A", 10]], [[1, None, 1, "A", 10]], [[1, 5, 1, "A", 10, 3]], [[1, "6b1-a9", 1, "A", 10]],
        [[1, "6b1-a9", 1, "A", 10, "3"]], [[1, "6b1-a9", 1, 5, 10, 3]])]),
    ("secevents.json", _j([["ResetOrReboot", "2026-01-01T00:00:00Z", None]]), [_j(d) for d in (
        {}, [["A"]], [[1, "2026-01-01T00:00:00Z", None]], [["A", None, None]], [["A", "t", 5]], [5],
        ["ResetOrReboot"])]),
    ("locallist.bin", _ll(b"A", b"B"), [
        _ll(b"A", status=255), _ll(b"B", b"A"), _ll(b"A", b"A"), _ll(b"\xff\xfe"), _ll(b""),
        _ll(b"A") + b"\x00" * 10, (1).to_bytes(4, "little") + b"\xff" * 90]),
)


def _defaults(name, cp):
    """Has the charge point the defaults of what `name` holds?"""
    if name == "config.json":
        return cp.config["HeartbeatInterval"] == 300
    if name == "secret.json":
        return cp.config["AuthorizationKey"] == ""
    if name == "availability.json":
        return all([c.available for c in cp.connectors])
    if name == "authcache.json":
        return cp.v.cache(cp).entries == []
    if name == "reservations.json":
        return cp.reservation is None
    if name == "smart_charging.json":
        return cp.smart_charging is None
    if name == "firmware.json":
        return cp.firmware._st == 0
    if name == "locallist.bin":
        return cp.local_list is None
    if name == "secevents.json":
        return cp.security.owed == []
    return cp.journal.txs == []


def _boot(d, link=None):
    cp = ChargePoint("CP_1", link or Link(), Store(d), connectors=2, profiles=PROFILES)
    hw = {"plugged": {1: False, 2: False}, "wh": {1: 10, 2: 20}}
    for cid in (1, 2):
        c = cp.connectors[cid]
        c.plugged = (lambda i: lambda: hw["plugged"][i])(cid)
        c.energy = (lambda i: lambda: hw["wh"][i])(cid)
    return cp, hw


def _write(d, name, data):
    os.mkdir(d)
    with open(d + "/" + name, "wb") as f:
        f.write(data)


_RESULTS = {"StartTransaction": {"transactionId": 101, "idTagInfo": {"status": "Accepted"}},
            "Authorize": {"idTagInfo": {"status": "Accepted"}}, "StopTransaction": {"idTagInfo": {"status": "Accepted"}}}


def _answer(cp, link, n=40):
    """A patient CSMS: answers every call, transactions from 101 on."""
    answer(cp, link, _RESULTS, n)


def _calls(link, action):
    return [m[3] for m in link.sent if m[0] == 2 and m[2] == action]


def _bad_cases():
    for name, good, bads in CASES:
        yield name, good[:len(good) // 2]  # truncated
        for b in bads + list(GARBAGE):
            yield name, b


def test_every_bad_document_of_every_file_is_set_aside_with_one_log_line():
    undo = _capture()
    try:
        n = 0
        for name, data in _bad_cases():
            d = state_dir("bad")
            _write(d, name, data)
            del LOG[:]
            cp, hw = _boot(d)
            case = "%s = %r" % (name, data[:60])
            names = os.listdir(d)
            assert name + ".bad" in names and name not in names, case
            assert len(LOG) == 1 and name in LOG[0], (case, LOG)
            assert _defaults(name, cp), case
            n += 1
        assert n > 100
    finally:
        undo()


def test_201_and_older_transaction_records_are_read_back():
    # a 2.0.1 record (its own id, not yet authorized, a TransactionEvent owed) and a record
    # written before 2.0.1 (15 fields: no idToken type, no seqno) are both valid
    t = Transaction.restore(_tx(id="6b1-a9", id_tag=None, kind="Central", seqno=3,
                                msgs=[[1, "TransactionEvent", {"seqNo": 0}]]))
    assert t is not None and (t.id, t.id_tag, t.kind, t.seqno) == ("6b1-a9", None, "Central", 3)
    old = Transaction.restore(_tx()[:15])
    assert old is not None and (old.kind, old.seqno) == (None, 0)


def test_charging_profiles_saved_with_a_list_per_period_are_read_back_flat():
    # files written before the periods were kept flat (3 items a period) keep their profiles
    d = state_dir("nested")
    _write(d, "smart_charging.json", _j(_sc(12, [[0, 160, None], [3600, 80, 1]])))
    cp, hw = _boot(d)
    assert cp.smart_charging.profiles[0][12] == [0, 160, None, 3600, 80, 1]
    assert "smart_charging.json.bad" not in os.listdir(d)


def test_the_valid_documents_of_the_table_are_read_back():
    """The control group: the same table's valid documents load, without a log line."""
    undo = _capture()
    try:
        for name, good, _ in CASES:
            if name in ("started.json", "secret.json"):
                continue  # rewritten to follow the others: see the tests below
            d = state_dir("good")
            _write(d, name, good)
            del LOG[:]
            cp, hw = _boot(d)
            assert LOG == [] and not _defaults(name, cp), (name, LOG)
            assert name + ".bad" not in os.listdir(d)
    finally:
        undo()


def test_a_bad_configuration_value_is_dropped_the_others_stay():
    undo = _capture()
    try:
        for doc in ({"HeartbeatInterval": 5}, {"HeartbeatInterval": "abc"}, {"HeartbeatInterval": None},
                    {"NumberOfConnectors": "9"}, {"Nope": "1"}, {"HeartbeatInterval": DEEP}):
            d = state_dir("cfgkey")
            doc["MeterValueSampleInterval"] = "17"
            _write(d, "config.json", _j(doc))
            del LOG[:]
            cp, hw = _boot(d)
            assert cp.config["HeartbeatInterval"] == 300 and cp.config["NumberOfConnectors"] == 2
            assert cp.config["MeterValueSampleInterval"] == 17, doc
            assert len(LOG) == 1 and "ignored" in LOG[0], (doc, LOG)
            assert "config.json.bad" not in os.listdir(d)
    finally:
        undo()


def test_every_file_bad_at_once_then_a_session_with_the_key():
    undo = _capture()
    try:
        for kind in range(3):  # a wrong shape, garbage, truncated
            d = state_dir("allbad")
            os.mkdir(d)
            st = Store(d)
            st.save("secret.json", {"#": 2, "AuthorizationKey": KEY})
            for name, good, bads in CASES:
                if name != "secret.json":
                    st.write(name, (bads[0], GARBAGE[1], good[:len(good) // 2])[kind])
            del LOG[:]
            link = Link()
            cp, hw = _boot(d, link)
            bad = [n for n, _, _ in CASES if n != "secret.json"]
            assert sorted([n for n in os.listdir(d) if n.endswith(".bad")]) == sorted([n + ".bad" for n in bad])
            for n in bad:
                assert len([line for line in LOG if n in line]) == 1, (n, LOG)
            assert link.creds == ("CP_1", KEY)
            _answer(cp, link)
            assert cp.accepted
            hw["plugged"][1] = True
            cp.tag(1, "A")
            _answer(cp, link)
            assert cp.connectors[1].tx.id == 101
            cp.tag(1, "A")
            _answer(cp, link)
            assert len(_calls(link, "StopTransaction")) == 1 and not cp.journal.txs
            # config.json is whole again, with the key: the next loss of secret.json is harmless
            os.remove(d + "/secret.json")
            assert _boot(d)[0].config["AuthorizationKey"] == KEY
    finally:
        undo()


# the secrets: AuthorizationKey in config.json and secret.json


def _keyed():
    """A charger whose CSMS set the key (the generation is 1 then)."""
    d = state_dir("key")
    cp, hw = _boot(d)
    assert cp.config.change("AuthorizationKey", KEY) == "Accepted"
    return d


def _read(d, name):
    with open(d + "/" + name) as f:
        return json.load(f)


def test_the_key_survives_the_loss_or_corruption_of_either_file():
    undo = _capture()
    try:
        for name in ("config.json", "secret.json"):
            for damage in (None, b"", b"[]", b"{\"#\": 1, ", b"\xff"):
                d = _keyed()
                if damage is None:
                    os.remove(d + "/" + name)
                else:
                    Store(d).write(name, damage)
                link = Link()
                cp, hw = _boot(d, link)
                assert cp.config["AuthorizationKey"] == KEY and link.creds == ("CP_1", KEY), (name, damage)
                # both copies are whole again
                assert _read(d, "secret.json") == {"#": 1, "AuthorizationKey": KEY}
                assert _read(d, "config.json")["AuthorizationKey"] == KEY
                assert _read(d, "config.json")["#"] == 1
    finally:
        undo()


def test_the_newer_copy_of_the_key_wins():
    d = _keyed()
    st = Store(d)
    cfg = _read(d, "config.json")
    assert cfg["#"] == 1 and _read(d, "secret.json")["#"] == 1
    cp, hw = _boot(d)
    assert cp.config.change("AuthorizationKey", "second-key-second-key") == "Accepted"
    assert _read(d, "config.json")["#"] == 2 and _read(d, "secret.json")["#"] == 2
    # a cut between the two writes leaves secret.json the newer: it wins
    st.save("config.json", cfg)
    assert _boot(d)[0].config["AuthorizationKey"] == "second-key-second-key"
    assert _read(d, "config.json")["#"] == 2  # and the stale copy is written again
    # config.json newer (secret.json restored from an old backup): config.json wins
    st.save("secret.json", {"#": 1, "AuthorizationKey": KEY})
    assert _boot(d)[0].config["AuthorizationKey"] == "second-key-second-key"
    assert _read(d, "secret.json") == {"#": 2, "AuthorizationKey": "second-key-second-key"}
    # a firmware's seeding of config.json without a generation loses against secret.json
    st.save("config.json", {"AuthorizationKey": "factory-key"})
    assert _boot(d)[0].config["AuthorizationKey"] == "second-key-second-key"
    # the key set back to empty by the CSMS (the default) is a change like any other
    cp, hw = _boot(d)
    assert cp.config.change("AuthorizationKey", "") == "Accepted"
    assert _read(d, "secret.json") == {"#": 3, "AuthorizationKey": ""}
    os.remove(d + "/config.json")
    assert _boot(d)[0].config["AuthorizationKey"] == ""


def test_a_seeded_key_gets_its_second_copy_and_no_key_writes_nothing():
    d = state_dir("seed")
    os.mkdir(d)
    Store(d).save("config.json", {"AuthorizationKey": KEY})  # what boards/main.py and the simulator do
    assert _boot(d)[0].config["AuthorizationKey"] == KEY
    assert _read(d, "secret.json") == {"#": 0, "AuthorizationKey": KEY}
    d = state_dir("nokey")
    cp, hw = _boot(d)
    cp.config.change("HeartbeatInterval", "60")
    _boot(d)
    assert sorted(os.listdir(d)) == ["config.json"]


# the transactions the CSMS started: a record and the index (started.json)


def _started(d, link):
    """A charger whose transaction on connector 1 the CSMS has started (id 101)."""
    cp, hw = _boot(d, link)
    _answer(cp, link)
    hw["plugged"][1] = True
    cp.tag(1, "A")
    _answer(cp, link)
    assert cp.connectors[1].tx.id == 101
    assert _read(d, "started.json") == [[1, 101, 1, "A", 10]]
    return cp, hw


def test_a_started_transaction_whose_record_is_lost_still_gets_one_stop():
    undo = _capture()
    try:
        for damage in (None, b"", b"[1, 2]", _j(_tx(stopped="yes")), b"\xff"):
            d = state_dir("lostrec")
            _started(d, Link())
            if damage is None:
                os.remove(d + "/tx1.json")
            else:
                Store(d).write("tx1.json", damage)
            del LOG[:]
            link = Link()
            cp, hw = _boot(d, link)
            hw["plugged"][1] = True
            _answer(cp, link)
            stops = _calls(link, "StopTransaction")
            assert len(stops) == 1, (damage, stops)
            assert stops[0]["transactionId"] == 101 and stops[0]["meterStop"] == 10
            assert stops[0]["reason"] == "Other"
            assert not _calls(link, "StartTransaction") and cp.connectors[1].tx is None
            assert not cp.journal.txs and _read(d, "started.json") == []
            assert len([line for line in LOG if "101" in line]) == 1, LOG
            assert len(LOG) == (1 if damage is None else 2), LOG  # + the record set aside
    finally:
        undo()


def test_a_corrupt_index_is_rebuilt_from_the_records():
    undo = _capture()
    try:
        for damage in (None, b"", b"{}", b"[[1, 101]]", b"\xff"):
            d = state_dir("lostidx")
            cp, hw = _started(d, Link())
            cp.connectors[1].sample("MeterValuesSampledData", "StopTxnSampledData", "Sample.Periodic")
            if damage is None:
                os.remove(d + "/started.json")
            else:
                Store(d).write("started.json", damage)
            del LOG[:]
            link = Link()
            cp, hw = _boot(d, link)
            assert _read(d, "started.json") == [[1, 101, 1, "A", 10]]
            assert len(LOG) == (0 if damage is None else 1), LOG
            hw["plugged"][1] = True
            _answer(cp, link)
            assert cp.connectors[1].tx.id == 101  # resumed
            cp.tag(1, "A")
            _answer(cp, link)
            stops = _calls(link, "StopTransaction")
            assert len(stops) == 1 and stops[0]["transactionId"] == 101 and stops[0]["reason"] == "Local"
            assert _read(d, "started.json") == [] and not cp.journal.txs
    finally:
        undo()


def test_an_answer_in_the_index_but_not_in_the_record_is_not_sent_again():
    """A cut between the index write and the record write at the StartTransaction answer."""
    d = state_dir("cutstart")
    cp, hw = _started(d, Link())
    before = cp.journal.txs[0].state()
    before[_FIELDS.index("id")] = None
    before[_FIELDS.index("msgs")] = [[1, "StartTransaction", {"connectorId": 1, "idTag": "A",
                                                              "meterStart": 10, "timestamp": clock.iso()}]]
    Store(d).save("tx1.json", before)
    link = Link()
    cp, hw = _boot(d, link)
    hw["plugged"][1] = True
    _answer(cp, link)
    assert not _calls(link, "StartTransaction") and cp.connectors[1].tx.id == 101
    cp.tag(1, "A")
    _answer(cp, link)
    stops = _calls(link, "StopTransaction")
    assert len(stops) == 1 and stops[0]["transactionId"] == 101
