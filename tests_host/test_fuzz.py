"""Fuzzing the frame parser and every incoming-call handler (hypothesis): random text, random
JSON, schema-valid payloads of every CSMS-initiated action and mutations of them, answers to
calls never made, oversized heads. The charger never raises, answers every CALL it can read
exactly once, keeps its queue, caches and journal bounded, and its journal stays readable.

A fake link plays the CSMS here: this tests one state machine (the dispatcher) with inputs no
real peer would send; the end-to-end proof of the handlers is test_core_e2e.py."""
import gc
import json
import os
import shutil
import tempfile
import tracemalloc

from hypothesis import HealthCheck, given, seed, settings
from hypothesis import strategies as st

from mpy_ocpp import ChargePoint, journal, rpc, schema
from mpy_ocpp.store import Store
from mpy_ocpp.transaction import Transaction
from tests_host.mpy.fakes import Link
from tests_host.test_validate import SCHEMAS, valid

ACTIONS = list(schema.CALLS)
JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-2 ** 70, 2 ** 70)
    | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=20),
    lambda ch: st.lists(ch, max_size=4) | st.dictionaries(st.text(max_size=12), ch, max_size=4),
    max_leaves=10)
IDS = st.text(max_size=40)


def _mutate(payload, key, value):
    p = dict(payload)
    if key in p and value == "__drop__":
        del p[key]
    else:
        p[key] = value
    return p


def calls():
    """CALL frames: schema-valid payloads of every action, and mutations of them."""
    def one(action):
        good = valid(SCHEMAS[action])
        mutated = st.builds(_mutate, good, st.text(max_size=20) | st.sampled_from(
            sorted(SCHEMAS[action].get("properties", {})) or ["x"]), JSON | st.just("__drop__"))
        huge = st.tuples(IDS, good).flatmap(lambda t: _huge(json.dumps([2, t[0], action]), t[1]))
        return st.builds(lambda mid, p: json.dumps([2, mid, action, p]), IDS, good | mutated) | huge
    return st.sampled_from(ACTIONS).flatmap(one)


def _nest(n, obj):
    return ('{"a":' * n + "1" + "}" * n) if obj else "[" * n + "]" * n


# Frames nested far deeper than OCPP ever does (CPython's json, repr and dumps recurse per
# level), whole or cut short, in a CALL, an answer or alone; numbers beyond 32 bits: huge ints
# (CPython's json refuses more than 4300 digits), 1e400, NaN and Infinity (CPython reads them).
DEEP = st.builds(
    lambda head, n, obj, cut: (head + _nest(n, obj) + "]")[:None if not cut else -cut],
    st.sampled_from(['[2,"deep","DataTransfer",', '[2, "deep", "Reset", ', "[3,\"x\",",
                     '[4,"x","GenericError","",', "", '[2,"deep","SetChargingProfile",{"x":']),
    st.integers(9, 3000), st.booleans(), st.integers(0, 50))
HUGE = st.one_of(
    st.integers(2 ** 31, 10 ** 60).map(str), st.integers(1000, 5000).map(lambda k: "9" * k),
    st.sampled_from(["1e400", "-1e400", "NaN", "Infinity", "-Infinity", "-2147483648",
                     "99999999999999999999"]))


def _huge(head, payload):
    """A CALL frame of a schema-valid payload with one field set again (JSON: the last one
    counts) to a huge number."""
    def text(key, v):
        return head[:-1] + ", " + json.dumps(payload)[:-1] + (", " if payload else "") + (
            '"%s": %s}]' % (key, v))
    return st.builds(text, st.sampled_from(sorted(payload) or ["x"]), HUGE)


FRAMES = st.one_of(
    calls(), calls(), calls(), DEEP,
    st.text(max_size=80),
    JSON.map(json.dumps),
    st.builds(lambda mid, a, p: json.dumps([2, mid, a, p]), IDS, st.text(max_size=30), JSON),
    st.builds(lambda k, mid, p: json.dumps([k, mid, p]), st.integers(0, 5), JSON, JSON),
    st.builds(lambda mid, c: json.dumps([4, mid, c, "", {}]), IDS, st.text(max_size=30)),
    st.binary(max_size=64),  # the head of an oversized message
)


def _answer_calls(cp, link):
    p = cp.pending
    if p is not None:
        action = p[1][1]
        res = {"BootNotification": {"status": "Accepted", "currentTime": "2030-01-01T00:00:00Z",
                                    "interval": 300},
               "StartTransaction": {"transactionId": 9, "idTagInfo": {"status": "Accepted"}},
               "Authorize": {"idTagInfo": {"status": "Accepted"}}}.get(action, {})
        link.inbox.append(json.dumps([3, p[0], res]))


def charger(state):
    link = Link()
    from tools.sim import profiles
    cp = ChargePoint("CP_1", link, Store(state), connectors=2, profiles=profiles(), journal_size=3)
    for cid in (1, 2):
        c = cp.connectors[cid]
        c.plugged = lambda: True
        c.energy = lambda: 1000
        c.on_unlock = lambda: True
    cp.on_reset = lambda hard: None
    cp.on_data_transfer = lambda v, m, d: ("Accepted", None)
    if cp.firmware:  # fuzzed URLs must never reach the network
        cp.firmware.download = cp.firmware.upload = lambda url, path: False
    for _ in range(40):
        cp.loop()
        _answer_calls(cp, link)
    cp.tag(1, "RUNNING")
    for _ in range(40):
        cp.loop()
        _answer_calls(cp, link)
    assert cp.connectors[1].tx is not None
    return cp, link


def check_bounded(cp):
    assert len(cp.queue) <= cp.queue_size + 1
    assert len(cp.cache.entries) <= cp.cache.size
    for cid in (1, 2):
        assert sum(t.connector_id == cid for t in cp.journal.txs) <= cp.journal.size
    for t in cp.journal.txs:
        assert [m[1] for m in t.msgs].count("MeterValues") <= journal._MV_MAX


def check_journal_readable(cp):
    for name in os.listdir(cp.store.path):
        if name.startswith("tx") and name.endswith(".json"):
            with open(os.path.join(cp.store.path, name)) as f:
                assert Transaction.restore(json.load(f)) is not None, name
        assert not name.endswith(".bad"), name


# CI runs the same 400 cases every time (derandomized); FUZZ_EXAMPLES=N explores N new ones.
EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", 0))


@settings(max_examples=EXAMPLES or 400, derandomize=not EXAMPLES, deadline=None, database=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(frames=st.lists(FRAMES, min_size=1, max_size=6))
def test_fuzzed_frames_never_crash_and_get_one_answer_each(frames):
    state = tempfile.mkdtemp()
    try:
        cp, link = charger(state)
        for f in frames:
            n = len(link.sent)
            link.inbox.append(f)
            cp.loop()
            replies = [m for m in link.sent[n:] if m[0] in (3, 4)]
            try:
                msg = json.loads(f) if isinstance(f, str) else None
            except (ValueError, RecursionError):  # RecursionError: the test's own json
                msg = None
            if isinstance(f, str) and '"deep"' in f[:12]:  # nested too deep, or not an object
                assert [r[:3] for r in replies] == [[4, "deep", "FormationViolation"]], (f, replies)
            elif isinstance(f, str) and msg is None and rpc.find_id(f):  # unreadable, with an id
                assert [r[:3] for r in replies] == [[4, rpc.find_id(f), "FormationViolation"]], (
                    f[:100], replies)
            if type(msg) is list and len(msg) == 4 and msg[0] == 2 and type(msg[1]) is str:
                assert [r[1] for r in replies] == [msg[1]], (f, replies)
                if replies[0][0] == 4:
                    assert replies[0][2] in ("NotImplemented", "NotSupported", "InternalError",
                                             "ProtocolError", "SecurityError", "FormationViolation",
                                             "PropertyConstraintViolation", "TypeConstraintViolation",
                                             "OccurenceConstraintViolation", "GenericError")
                    assert replies[0][2] != "InternalError", (f, replies)  # no handler bug
            for _ in range(5):
                _answer_calls(cp, link)
                cp.loop()
            check_bounded(cp)
        check_journal_readable(cp)
        cp2 = ChargePoint("CP_1", Link(), Store(state), connectors=2, journal_size=3)
        assert {t.seq for t in cp2.journal.txs} == {t.seq for t in cp.journal.txs}
    finally:
        shutil.rmtree(state, ignore_errors=True)


@seed(20261121)
@settings(max_examples=1, deadline=None, database=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                 HealthCheck.large_base_example])
@given(batch=st.lists(FRAMES, min_size=200, max_size=200))
def test_memory_stays_bounded_over_many_frames(batch):
    state = tempfile.mkdtemp()
    try:
        cp, link = charger(state)
        gc.collect()
        tracemalloc.start()

        def feed():
            for f in batch:
                link.inbox.append(f)
                cp.loop()
                _answer_calls(cp, link)
                cp.loop()
            link.sent.clear()  # the fake link's record, not the charger's memory
            gc.collect()
            return tracemalloc.get_traced_memory()[0]
        first = feed()
        for _ in range(3):
            last = feed()
        tracemalloc.stop()
        check_bounded(cp)
        assert last - first < 64 * 1024, (first, last)
    finally:
        shutil.rmtree(state, ignore_errors=True)
