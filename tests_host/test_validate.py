"""mpy_ocpp.validate / schema: generated table up to date, hand-written examples, agreement with
jsonschema's Draft4Validator on generated valid and mutated payloads, and the same core tests
on the MicroPython unix port (tests_host/mpy/test_validate_mp.py)."""
import json
import os
import re
import subprocess
import sys
from fractions import Fraction
from pathlib import Path

import jsonschema
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from mpy_ocpp import schema
from mpy_ocpp.validate import check as _check


def check(name, payload, s=schema):
    return _check(name, payload, s)
from tools import gen_schema

sys.path.insert(0, str(Path(__file__).resolve().parent / "mpy"))
import test_validate_mp as mp  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
MICROPYTHON = Path(sys.executable).parent / "micropython"
NAMES = list(gen_schema.CALLS) + [a + "Response" for a in gen_schema.SENT]
SCHEMAS = {n: gen_schema.load(n) for n in NAMES}

# --- the oracle: Draft4Validator, with date-time checked and multipleOf in decimal ------------
_DATE = re.compile(r"([0-9]{4})-([0-9]{2})-([0-9]{2})T([0-9]{2}):([0-9]{2}):([0-9]{2})"
                   r"(\.[0-9]+)?(Z|[+-]([0-9]{2}):([0-9]{2}))", re.ASCII)


def is_date_time(s):
    m = _DATE.fullmatch(s)
    if not m:
        return False
    _, mo, d, h, mi, sec = (int(x) for x in m.groups()[:6])
    tz = [int(x) for x in m.groups()[8:] if x is not None]
    return (1 <= mo <= 12 and 1 <= d <= 31 and h <= 23 and mi <= 59 and sec <= 60
            and (not tz or tz[0] <= 23 and tz[1] <= 59))


_formats = jsonschema.FormatChecker(formats=())
_formats.checks("date-time")(lambda s: not isinstance(s, str) or is_date_time(s))


def _multiple_of(validator, m, x, schema_):
    # JSON numbers are decimals: 0.3 is a multiple of 0.1 (jsonschema's float division says no)
    if validator.is_type(x, "number") and (Fraction(repr(x)) / Fraction(repr(m))).denominator != 1:
        yield jsonschema.ValidationError("%r is not a multiple of %r" % (x, m))


Oracle = jsonschema.validators.extend(jsonschema.Draft4Validator, {"multipleOf": _multiple_of})
T0 = "2026-11-21T10:00:00Z"
BIG = 2 ** 31 - 1  # check() refuses numbers beyond ±BIG (out of range): the oracle too


def _ranged(s):
    s = dict(s)
    if s.get("type") in ("integer", "number"):
        s.update(minimum=-BIG, maximum=BIG)
    if "properties" in s:
        s["properties"] = {k: _ranged(v) for k, v in s["properties"].items()}
    if "items" in s:
        s["items"] = _ranged(s["items"])
    return s


ORACLES = {n: Oracle(_ranged(s), format_checker=_formats) for n, s in SCHEMAS.items()}


def test_schema_py_is_up_to_date():
    assert gen_schema.OUT.read_text() == gen_schema.render(), "run tools/gen_schema.py"
    assert gen_schema.OUT_201.read_text() == gen_schema.render("2.0.1"), "run tools/gen_schema.py"


def test_201_tables_agree_with_jsonschema():
    # every 2.0.1 table against Draft4Validator on the official schema: valid examples and
    # one mutation of each kind that the tables must refuse with the same verdict
    from mpy_ocpp import schema201
    g = gen_schema
    names = list(g.CALLS_201) + [a + "Response" for a in g.SENT_201]
    for n in names:
        assert schema201.spec(n) is not None, n
    assert set(g.CALLS_201) <= set(g.ACTIONS_201) == set(schema201.ACTIONS)
    cases = [
        ("DataTransfer", {"vendorId": "V", "data": {"x": [1, "2"]}}),
        ("DataTransfer", {"vendorId": "V" * 256}),
        ("DataTransfer", {"vendorId": "V", "customData": {"vendorId": "C", "free": [1]}}),
        ("DataTransfer", {"vendorId": "V", "customData": {"free": 1}}),
        ("DataTransfer", {"vendorId": "V", "other": 1}),
        ("BootNotificationResponse", {"currentTime": T0, "interval": 10, "status": "Accepted"}),
        ("BootNotificationResponse", {"currentTime": "2026", "interval": 10, "status": "Accepted"}),
        ("BootNotificationResponse", {"currentTime": T0, "interval": 1.5, "status": "Accepted"}),
        ("BootNotificationResponse", {"currentTime": T0, "interval": 10, "status": "Accepted",
                                      "statusInfo": {"reasonCode": "R" * 21}}),
        ("HeartbeatResponse", {}),
        ("StatusNotificationResponse", {"customData": {"vendorId": "C"}}),
        # customData is left out of the tables' objects (schema201.CUSTOM): nested ones too
        ("BootNotificationResponse", {"currentTime": T0, "interval": 10, "status": "Accepted",
                                      "statusInfo": {"reasonCode": "R", "customData": {"vendorId": "C"}}}),
        ("BootNotificationResponse", {"currentTime": T0, "interval": 10, "status": "Accepted",
                                      "statusInfo": {"reasonCode": "R", "customData": {"vendorId": 1}}}),
        ("GetVariables", {"getVariableData": [{"component": {"name": "C", "customData": {"vendorId": "C"},
                                                             "evse": {"id": 1, "customData": {}}},
                                               "variable": {"name": "V"}}]}),
        ("GetVariables", {"getVariableData": [{"component": {"name": "C", "customData": []},
                                               "variable": {"name": "V"}}]}),
        ("DataTransferResponse", {"status": "UnknownVendorId", "data": None}),
    ]
    for name, x in cases:
        oracle = Oracle(_ranged(g.load(name, "2.0.1")), format_checker=_formats)
        assert oracle.is_valid(x) == (check(name, x, schema201) is None), (name, x)


def test_generator_encodings():
    import mpy_ocpp.validate as v

    g = gen_schema
    assert (v._ARR, v._STR, v._DT, v._INT, v._NUM, v._BOOL, v._ANY) == (
        g.ARR, g.STR, g.DT, g.INT, g.NUM, g.BOOL, g.ANY)
    array = {"type": "array", "items": {"type": "integer"}, "minItems": 1, "maxItems": 3}
    assert g.node(array, "x") == (g.ARR, (g.INT,), 1, 3)
    assert g.node({"type": "number", "minimum": 0}, "x") == (g.NUM, None, 0)
    obj = {"type": "object", "additionalProperties": False, "required": ["b"],
           "properties": {"a": {"type": "boolean"}, "b": {"type": "string", "enum": ["X"]}}}
    assert g.node(obj, "x") == (1, "b", ("X",), "a", (g.BOOL,))
    assert g.node({"type": "integer", "maximum": 3}, "x") == (g.INT, None, 3)
    assert g.node({"type": "object", "properties": {}}, "x") == (0, None)  # open (customData)
    assert g.node({"description": "anything"}, "x") == (g.ANY,)
    for bad in ({"type": "integer", "exclusiveMaximum": 3}, {"type": "object", "properties": {},
                                                             "additionalProperties": True},
                {"type": "string", "format": "email"}, {"type": ["string", "null"]},
                dict(obj, required=["c"]), {"type": "array", "items": [{"type": "integer"}]}):
        with pytest.raises(SystemExit):
            g.node(bad, "x")


def test_draft4_integer_semantics():
    # what check() follows: bool is no number, 5.0 is no integer (draft-04 in jsonschema 4.x)
    v = jsonschema.Draft4Validator({"type": "integer"})
    assert not v.is_valid(5.0) and not v.is_valid(True) and v.is_valid(5)
    assert not jsonschema.Draft4Validator({"type": "number"}).is_valid(False)


def test_examples_valid_for_jsonschema_too():
    for name, payload in mp.VALID:
        # plain Draft4Validator only disagrees on multipleOf (0.3 / 0.1 != 3 in floats)
        for e in jsonschema.Draft4Validator(SCHEMAS[name]).iter_errors(payload):
            assert e.validator == "multipleOf" and Fraction(repr(e.instance)) * 10 % 1 == 0, e
        assert ORACLES[name].is_valid(payload) and check(name, payload) is None, name
    for name, payload, want in mp.INVALID:
        assert not ORACLES[name].is_valid(payload), name


def test_calls_and_spec():
    assert schema.CALLS == gen_schema.CALLS
    for n in NAMES:
        assert schema.spec(n) is not None


def test_core_assertions_on_cpython():
    tests = [getattr(mp, k) for k in dir(mp) if k.startswith("test_")]
    assert len(tests) >= 8
    for t in tests:
        t()


# --- generated payloads -------------------------------------------------------------------

def dates():
    two = lambda lo, hi: st.integers(lo, hi).map("{:02d}".format)  # noqa: E731
    zone = st.one_of(st.just("Z"), st.tuples(st.sampled_from("+-"), two(0, 23), two(0, 59))
                     .map(lambda t: "%s%s:%s" % t))
    frac = st.one_of(st.just(""), st.text("0123456789", min_size=1, max_size=9).map(
        lambda d: "." + d))
    return st.tuples(st.integers(0, 9999).map("{:04d}".format), two(1, 12), two(1, 31),
                     two(0, 23), two(0, 59), two(0, 60), frac, zone).map(
        lambda t: "%s-%s-%sT%s:%s:%s%s%s" % t)


def bad_dates():
    def mutate(s, data):
        i = data.draw(st.integers(0, len(s)))
        c = data.draw(st.sampled_from("0189:-+.TZtz /\u0661x"))
        how = data.draw(st.integers(0, 2))
        return s[:i] + (c if how else "") + s[i + (how != 2):]
    return st.one_of(
        st.tuples(dates(), st.data()).map(lambda t: mutate(*t)),
        st.text(max_size=30),
        st.sampled_from(mp.BAD_DATES),
    ).filter(lambda s: not is_date_time(s))


def valid(s):
    """A strategy for instances of schema `s` (the keywords used by the OCPP schemas)."""
    t = s.get("type")
    if t is None:  # 2.0.1's DataTransfer data: any JSON value
        return st.none() | st.integers(-99, 99) | st.text(max_size=10) | st.lists(st.booleans(), max_size=3)
    if t == "object":
        props = s.get("properties", {})
        req = s.get("required", [])
        return st.fixed_dictionaries({k: valid(props[k]) for k in req},
                                     optional={k: valid(v) for k, v in props.items()
                                               if k not in req})
    if t == "array":
        return st.lists(valid(s["items"]), min_size=s.get("minItems", 0),
                        max_size=s.get("maxItems", 3))
    if t == "string":
        if "enum" in s:
            return st.sampled_from(s["enum"])
        if s.get("format") == "date-time":
            return dates()
        return st.text(max_size=s.get("maxLength", 60))
    if t == "integer":
        return st.integers(s.get("minimum", -BIG), s.get("maximum", BIG))
    if t == "number":  # multipleOf 0.1 or none: one decimal place (as a CSMS sends), or ints
        assert s.get("multipleOf", 0.1) == 0.1 and set(s) - {"description"} <= {"type", "multipleOf"}
        return st.one_of(st.integers(-99999, 99999).map(lambda k: k / 10),
                         st.integers(-99999, 99999))
    if t == "boolean":
        return st.booleans()
    raise AssertionError(t)


def nodes(s, x, keys=()):
    """(keys, schema, value) of every value in instance x, depth first."""
    yield keys, s, x
    if s["type"] == "object":
        for k, v in x.items():
            yield from nodes(s["properties"][k], v, keys + (k,))
    elif s["type"] == "array":
        for i, v in enumerate(x):
            yield from nodes(s["items"], v, keys + (i,))


def dotted(keys):
    """keys as check() names them: a.b[2].c"""
    out = ""
    for k in keys:
        out += "[%d]" % k if isinstance(k, int) else (out and ".") + k
    return out


def replace(x, keys, value):
    """A copy of x with the value at keys replaced."""
    if not keys:
        return value
    x = list(x) if isinstance(x, list) else dict(x)
    x[keys[0]] = replace(x[keys[0]], keys[1:], value)
    return x


OTHER_TYPES = {
    "object": [[], "x", 1, None], "array": [{}, "x", 0, True],
    "string": [1, 1.5, True, None, [], {}], "integer": [5.0, "1", True, False, None, 1.5, [], {}],
    "number": ["1", True, None, [], {}], "boolean": [0, 1, "true", None],
}


# where each kind of mutation applies (never at the root, except "root")
SITES = {
    "root": lambda s: False,
    "type": lambda s: True,
    "extra": lambda s: s["type"] == "object",
    "drop": lambda s: s["type"] == "object" and bool(s.get("required")),
    "enum": lambda s: "enum" in s,
    "long": lambda s: "maxLength" in s,
    "date": lambda s: s.get("format") == "date-time",
    "multiple": lambda s: "multipleOf" in s,
    "range": lambda s: s["type"] in ("integer", "number"),
}


def subschemas(s):
    yield s
    for sub in list(s.get("properties", {}).values()) + [s.get("items", {"type": None})]:
        if sub["type"]:
            yield from subschemas(sub)


# names repeated by their number of sub-schemas: the nested ones get drawn more often
WEIGHTED = [n for n in NAMES for _ in subschemas(SCHEMAS[n])]


@st.composite
def mutated(draw):
    """(name, payload, expected code, path of the error) with exactly one error."""
    kind = draw(st.sampled_from(sorted(SITES)))
    ok = SITES[kind]
    nested = kind not in ("extra", "drop")
    name = draw(st.sampled_from([n for n in WEIGHTED if kind == "root" or any(
        ok(sub) for sub in list(subschemas(SCHEMAS[n]))[nested:])]))
    s = SCHEMAS[name]
    x = draw(valid(s))
    if kind == "root":
        return name, draw(st.sampled_from([[], "x", 1, None, [x]])), "FormationViolation", \
            "payload"
    sites = [n for n in nodes(s, x) if ok(n[1]) and (n[0] or not nested)]
    assume(sites)
    keys, sub, value = draw(st.sampled_from(sites))
    if kind == "type":
        bad = draw(st.sampled_from(OTHER_TYPES[sub["type"]]))
        return name, replace(x, keys, bad), "TypeConstraintViolation", dotted(keys)
    if kind == "extra":
        key = draw(st.text("abcxyz_", min_size=1, max_size=8).filter(
            lambda k: k not in sub.get("properties", {})))
        extra = dict(value, **{key: draw(st.sampled_from([None, 1, "v", [], {}]))})
        return name, replace(x, keys, extra), "FormationViolation", dotted(keys + (key,))
    if kind == "drop":
        key = draw(st.sampled_from(sub["required"]))
        fewer = {k: v for k, v in value.items() if k != key}
        return (name, replace(x, keys, fewer), "OccurenceConstraintViolation",
                dotted(keys + (key,)))
    if kind == "enum":
        bad = draw(st.text(max_size=30).filter(lambda v: v not in sub["enum"]))
    elif kind == "long":
        bad = draw(st.text(min_size=sub["maxLength"] + 1, max_size=sub["maxLength"] + 5))
    elif kind == "date":
        bad = draw(bad_dates())
    elif kind == "range":
        bad = draw(st.sampled_from([BIG + 1, -BIG - 1, 10 ** 20, -10 ** 40, 99999999999999999999]))
    else:
        bad = draw(st.integers(-99999, 99999)) / 10 + draw(st.sampled_from([0.01, 0.05, 0.09]))
        assume(Fraction(repr(bad)) * 10 % 1 != 0)
    return name, replace(x, keys, bad), "PropertyConstraintViolation", dotted(keys)


FAST = settings(max_examples=200, deadline=None, database=None,
                suppress_health_check=list(HealthCheck))


@FAST
@given(st.sampled_from(WEIGHTED).flatmap(lambda n: st.tuples(st.just(n), valid(SCHEMAS[n]))))
def test_generated_valid_payloads(case):
    name, x = case
    assert ORACLES[name].is_valid(x), (name, x)
    assert check(name, x) is None, (name, x, check(name, x))
    assert check(name, json.loads(json.dumps(x))) is None


@FAST
@given(mutated())
def test_generated_mutations(case):
    name, x, code, path = case
    assert not ORACLES[name].is_valid(x), case
    got = check(name, x)
    assert got is not None and got[0] == code and got[1].startswith(path + ": "), (case, got)


@FAST
@given(st.one_of(dates(), bad_dates()))
def test_date_time_against_regex(s):
    want = None if is_date_time(s) else (
        "PropertyConstraintViolation", "currentTime: not an ISO 8601 date-time")
    assert check("HeartbeatResponse", {"currentTime": s}) == want


@pytest.mark.skipif(not MICROPYTHON.exists(), reason="no micropython next to python")
def test_micropython():
    env = dict(os.environ, MICROPYPATH=str(ROOT))
    p = subprocess.run([str(MICROPYTHON), "tools/mptest.py", "tests_host/mpy/test_validate_mp.py"],
                       cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert p.returncode == 0 and " 0 failed" in p.stdout, p.stdout + p.stderr
    assert p.stdout.count("\nok ") + p.stdout.startswith("ok ") >= 8, p.stdout
