"""Fuzzing the frame parser and every incoming-call handler (hypothesis): random text, random
JSON, schema-valid payloads of every CSMS-initiated action and mutations of them, answers to
calls never made, oversized heads, frames nested thousands deep, numbers beyond 32 bits. The
charger never raises, answers every CALL it can read exactly once (never InternalError), sends
only strict UTF-8, keeps its queue, caches and journal bounded, and its journal stays readable
(the checks: tests_host/mpy/fuzz_replay.py; test_fuzz_mpy.py replays a corpus drawn from these
strategies on MicroPython).

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

from mpy_ocpp import ChargePoint, ocpp201, schema, schema201
from mpy_ocpp.store import Store
from tests_host.mpy.fakes import Link
from tests_host.mpy.fuzz_replay import (answer_calls, charger, check_bounded,
                                        check_journal_readable, feed)
from tests_host.test_validate import SCHEMAS, valid
from tools import gen_schema

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
        return st.builds(lambda mid, p: json.dumps([2, mid, action, p]), IDS,
                         good | mutated) | huge_call(action)
    return st.sampled_from(ACTIONS).flatmap(one)


def huge_call(action):
    """A schema-valid CALL of `action` with a number beyond 32 bits in it."""
    return st.tuples(IDS, valid(SCHEMAS[action])).flatmap(
        lambda t: _huge(json.dumps([2, t[0], action]), t[1]))


def _nest(n, obj):
    return ('{"a":' * n + "1" + "}" * n) if obj else "[" * n + "]" * n


# Frames nested far deeper than OCPP ever does (CPython's json, repr and dumps recurse per
# level), whole or cut short, in a CALL, an answer or alone; numbers beyond 32 bits: huge ints
# (CPython's json refuses more than 4300 digits), 1e400, NaN and Infinity (CPython reads them).
DEEP = st.builds(
    lambda head, n, obj, cut: (head + _nest(n, obj) + "]")[:None if not cut else -cut],
    st.sampled_from(['[2,"deep","DataTransfer",', '[2, "deep", "Reset", ', "[3,\"x\",",
                     '[4,"x","GenericError","",', "", '[2,"deep","SetChargingProfile",{"x":']),
    st.integers(17, 3000), st.booleans(), st.integers(0, 50))
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
            feed(cp, link, f)
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
        # what the library's frames allocated and still hold: tracemalloc traces every thread,
        # and a CSMS thread left by an earlier test would count too (this failed once so).
        # Single blocks of 16 KiB and more are the interpreter's (a code object, a table of
        # interned names grown while a module is imported again): the library makes none that
        # large here, and its largest allocations are bounded on MicroPython (test_largest_alloc).
        mine = (tracemalloc.Filter(True, "*/mpy_ocpp/*", all_frames=True),)
        tracemalloc.start(6)

        def one_pass():
            for f in batch:
                link.inbox.append(f)
                cp.loop()
                answer_calls(cp, link)
                cp.loop()
            link.sent.clear()  # the fake link's record, not the charger's memory
            gc.collect()
            return sum([t.size for t in tracemalloc.take_snapshot().filter_traces(mine).traces
                        if t.size < 16384])
        first = one_pass()
        for _ in range(3):
            last = one_pass()
        tracemalloc.stop()
        check_bounded(cp)
        assert 0 < first and last - first < 64 * 1024, (first, last)
    finally:
        shutil.rmtree(state, ignore_errors=True)


# ---------------------------------------------------------------- OCPP 2.0.1

CODES_201 = ("NotImplemented", "NotSupported", "ProtocolError", "SecurityError", "FormatViolation",
             "PropertyConstraintViolation", "TypeConstraintViolation",
             "OccurrenceConstraintViolation", "GenericError")  # 2.0.1 spellings, no InternalError


def calls_201():
    """CALL frames of every 2.0.1 action: schema-valid payloads where the charge point has a
    table (their mutations too), random JSON objects for the others."""
    def one(action):
        if action in gen_schema.CALLS_201:
            s = gen_schema.load(action, "2.0.1")
            good = valid(s)
            payload = good | st.builds(_mutate, good, st.text(max_size=20) | st.sampled_from(
                sorted(s.get("properties", {})) or ["x"]), JSON | st.just("__drop__"))
        else:
            payload = st.dictionaries(st.text(max_size=12), JSON, max_size=4)
        return st.builds(lambda mid, p: json.dumps([2, mid, action, p]), IDS, payload)
    return st.sampled_from(list(schema201.ACTIONS) + ["StartTransaction", "Nope"]).flatmap(one)


FRAMES_201 = st.one_of(calls_201(), calls_201(), DEEP, st.text(max_size=80), JSON.map(json.dumps),
                       st.builds(lambda mid, c: json.dumps([4, mid, c, "", {}]), IDS,
                                 st.text(max_size=30)),
                       st.binary(max_size=64))


def charger_201(state):
    link = Link()
    cp = ChargePoint("CP_1", link, Store(state), connectors=2, versions=(ocpp201,))
    cp.on_data_transfer = lambda v, m, d: ("Accepted", d)
    for _ in range(40):
        cp.loop()
        answer_calls(cp, link)  # 1.6 and 2.0.1 BootNotification answers look alike
    assert cp.accepted and cp.version == "2.0.1"
    return cp, link


@settings(max_examples=EXAMPLES or 300, derandomize=not EXAMPLES, deadline=None, database=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(frames=st.lists(FRAMES_201, min_size=1, max_size=6))
def test_fuzzed_201_frames_never_crash_and_get_one_answer_each(frames):
    state = tempfile.mkdtemp()
    try:
        cp, link = charger_201(state)
        for f in frames:
            link.sent.clear()
            link.inbox.append(f)
            cp.loop()
            replies = [m for m in link.sent if m[0] in (3, 4)]
            try:
                msg = json.loads(f) if type(f) is str else None
            except (ValueError, RecursionError):
                msg = None
            heads = [r[:3] for r in replies]
            if type(f) is str and '"deep"' in f[:12] and f.count("[") + f.count("{") > 16:  # DEEP's
                assert heads == [[4, "deep", "FormatViolation"]], heads
            if type(msg) is list and len(msg) == 4 and msg[0] == 2 and type(msg[1]) is str:
                assert [r[1] for r in replies] == [msg[1]], heads
                assert replies[0][0] == 3 or replies[0][2] in CODES_201, heads
                if msg[2] in ("StartTransaction", "Nope"):
                    assert replies[0][2] == "NotImplemented", heads
            for r in replies:
                assert r[0] == 3 or r[2] in CODES_201, r
            for _ in range(3):
                answer_calls(cp, link)
                cp.loop()
            assert len(cp.queue) <= cp.queue_size
    finally:
        shutil.rmtree(state, ignore_errors=True)
